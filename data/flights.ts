// Bootstrap of the flights lake from vega-datasets' flights-3m.parquet, and its weekly release.
//
// The bootstrap splits the 3,000,000 flights into one Parquet file per ISO week (Monday) in the
// store's arrivals area; nothing is in the lake until it is released. Releasing copies the
// oldest unreleased weeks into the lake, each made visible by its manifest (storage/lake.ts), so
// a newcomer can watch data arrive week by week. Both steps are idempotent.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FLIGHTS_SOURCE, type Paths } from '../core/config.js';
import { openDuckDB, quoteLiteral } from '../core/duckdb.js';
import { exists } from '../core/local-files.js';
import { readSql } from '../core/sql.js';
import { hashFile, openArrivals, openLake, type LakeFile } from '../storage/lake.js';
import { getJson, joinKey, putJson } from '../storage/object-store.js';

export const FLIGHTS_DATASET = 'flights';
export const FLIGHTS_PARTITION_KEY = 'week';
const MARKER = '_bootstrap.json';
/** Weeks in the lake after a first start: 8 to train on, 1 to hold out, 3 of history. */
export const DEFAULT_INITIAL_WEEKS = 12;

export interface BootstrapMarker {
  readonly source: string;
  readonly sourceSha256: string;
  readonly rows: number;
  readonly weeks: readonly string[];
  readonly createdAt: string;
}

/** Split the source file into weekly partitions in the arrivals area, unless done already for this file. */
export async function bootstrapFlights(paths: Paths, source: string = FLIGHTS_SOURCE): Promise<BootstrapMarker> {
  if (!(await exists(source))) {
    throw new Error(`flights source not found: ${source} (run npm install: it comes with the vega-datasets package)`);
  }
  const arrivals = openArrivals(paths);
  const markerKey = joinKey(FLIGHTS_DATASET, MARKER);
  const sourceSha256 = await hashFile(source);
  const previous = (await getJson<BootstrapMarker>(arrivals.store, markerKey))?.value;
  if (previous && previous.sourceSha256 === sourceSha256) return previous;
  // A different source file: its weeks replace the old ones.
  if (previous) await arrivals.store.deletePrefix(`${FLIGHTS_DATASET}/`);

  const scratch = await mkdtemp(path.join(tmpdir(), 'mlops-flights-'));
  try {
    // One thread: DuckDB's parallel partitioned writer lays rows out differently from run to
    // run, and the lake must be the same bytes every time it is built from the same file.
    const db = await openDuckDB({ threads: 1 });
    try {
      const sql = (await readSql(paths.sqlDir, 'data/flights_weekly.sql'))
        .replaceAll('{{source}}', quoteLiteral(source))
        .replaceAll('{{target}}', quoteLiteral(scratch));
      await db.connection.run(sql);
    } finally {
      db.close();
    }
    const weeks = (await readdir(scratch)).filter((d) => d.startsWith(`${FLIGHTS_PARTITION_KEY}=`)).sort();
    let rows = 0;
    for (const week of weeks) {
      const files: LakeFile[] = [];
      for (const name of (await readdir(path.join(scratch, week))).filter((f) => f.endsWith('.parquet')).sort()) {
        files.push(await arrivals.putFile(FLIGHTS_DATASET, week, name, path.join(scratch, week, name)));
      }
      await arrivals.addFiles(FLIGHTS_DATASET, week, files);
      rows += files.reduce((n, f) => n + (f.rows ?? 0), 0);
    }
    const marker: BootstrapMarker = {
      source: path.basename(source),
      sourceSha256,
      rows,
      weeks: weeks.map((w) => w.slice(FLIGHTS_PARTITION_KEY.length + 1)),
      createdAt: new Date().toISOString(),
    };
    // Written last: a bootstrap that died before this line is done again.
    await putJson(arrivals.store, markerKey, marker);
    return marker;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export interface LakeStatus {
  readonly released: readonly string[];
  readonly pending: readonly string[];
}

export async function lakeStatus(paths: Paths): Promise<LakeStatus> {
  const arrivals = await openArrivals(paths).partitions(FLIGHTS_DATASET, FLIGHTS_PARTITION_KEY);
  const released = await openLake(paths).partitions(FLIGHTS_DATASET, FLIGHTS_PARTITION_KEY);
  const releasedSet = new Set(released.map((p) => p.value));
  return {
    released: released.map((p) => p.value),
    pending: arrivals.map((p) => p.value).filter((w) => !releasedSet.has(w)),
  };
}

/** Release the next `count` unreleased weeks into the lake, oldest first. Returns the weeks released. */
export async function releaseWeeks(paths: Paths, count: number): Promise<string[]> {
  const { pending } = await lakeStatus(paths);
  const arrivals = openArrivals(paths);
  const lake = openLake(paths);
  const waiting = await arrivals.partitions(FLIGHTS_DATASET, FLIGHTS_PARTITION_KEY);
  const released: string[] = [];
  for (const week of pending.slice(0, Math.max(0, count))) {
    const partition = waiting.find((p) => p.value === week)!;
    const locals = await arrivals.localFiles(partition.files);
    const files: LakeFile[] = [];
    for (const [i, f] of partition.files.entries()) files.push(await lake.putFile(FLIGHTS_DATASET, partition.folder, path.basename(f.key), locals[i]!));
    if (await lake.addFiles(FLIGHTS_DATASET, partition.folder, files)) released.push(week);
  }
  return released;
}

/**
 * Make sure the lake exists: bootstrap when needed, then release weeks until at least
 * `initialWeeks` are in the lake. A lake that already has more weeks is left as it is.
 */
export async function ensureFlightsLake(paths: Paths, initialWeeks: number): Promise<LakeStatus> {
  await bootstrapFlights(paths);
  const { released } = await lakeStatus(paths);
  if (released.length < initialWeeks) await releaseWeeks(paths, initialWeeks - released.length);
  return lakeStatus(paths);
}
