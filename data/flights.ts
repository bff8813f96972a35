// Bootstrap of the flights lake from vega-datasets' flights-3m.parquet, and its weekly release.
//
// The bootstrap splits the 3,000,000 flights into one Parquet folder per ISO week (Monday)
// under <state>/arrivals/flights; nothing is in the lake until it is released. Releasing
// copies the oldest unreleased weeks into <state>/lake/flights, one atomic rename each, so a
// newcomer can watch data arrive week by week. Both steps are idempotent.
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FLIGHTS_SOURCE, type Paths } from '../core/config.js';
import { openDuckDB, quoteLiteral } from '../core/duckdb.js';
import { exists, hashFile, listPartitions, publishPartition } from '../core/lake.js';
import { readSql } from '../core/sql.js';

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

/** Split the source file into weekly partitions under arrivals/, unless done already for this file. */
export async function bootstrapFlights(paths: Paths, source: string = FLIGHTS_SOURCE): Promise<BootstrapMarker> {
  if (!(await exists(source))) {
    throw new Error(`flights source not found: ${source} (run npm install: it comes with the vega-datasets package)`);
  }
  const root = path.join(paths.arrivalsDir, FLIGHTS_DATASET);
  const sourceSha256 = await hashFile(source);
  const previous = await readMarker(root);
  if (previous && previous.sourceSha256 === sourceSha256) return previous;

  await mkdir(paths.arrivalsDir, { recursive: true });
  const staging = path.join(paths.arrivalsDir, `.bootstrap-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  // One thread: DuckDB's parallel partitioned writer lays rows out differently from run to
  // run, and the lake must be the same bytes every time it is built from the same file.
  const db = await openDuckDB({ threads: 1 });
  try {
    const sql = (await readSql(paths.sqlDir, 'data/flights_weekly.sql'))
      .replaceAll('{{source}}', quoteLiteral(source))
      .replaceAll('{{target}}', quoteLiteral(staging));
    await db.connection.run(sql);
  } finally {
    db.close();
  }
  const weeks = (await readdir(staging)).filter((d) => d.startsWith(`${FLIGHTS_PARTITION_KEY}=`)).sort();
  const partitions = await listPartitions(paths.arrivalsDir, path.basename(staging), FLIGHTS_PARTITION_KEY);
  const rows = await countRows(partitions.flatMap((p) => p.files));
  const marker: BootstrapMarker = {
    source: path.basename(source),
    sourceSha256,
    rows,
    weeks: weeks.map((w) => w.slice(FLIGHTS_PARTITION_KEY.length + 1)),
    createdAt: new Date().toISOString(),
  };
  await writeFile(path.join(staging, MARKER), JSON.stringify(marker, null, 2));
  // Swap the finished folder in: a crash before this line leaves only a dot-folder behind.
  await rm(root, { recursive: true, force: true });
  await rename(staging, root);
  return marker;
}

async function readMarker(root: string): Promise<BootstrapMarker | undefined> {
  try {
    return JSON.parse(await readFile(path.join(root, MARKER), 'utf8')) as BootstrapMarker;
  } catch {
    return undefined;
  }
}

async function countRows(files: readonly string[]): Promise<number> {
  const db = await openDuckDB();
  try {
    const reader = await db.connection.runAndReadAll(
      `SELECT sum(num_rows)::BIGINT AS n FROM parquet_file_metadata([${files.map(quoteLiteral).join(', ')}])`,
    );
    return Number(reader.getRowObjectsJS()[0]?.n ?? 0);
  } finally {
    db.close();
  }
}

export interface LakeStatus {
  readonly released: readonly string[];
  readonly pending: readonly string[];
}

export async function lakeStatus(paths: Paths): Promise<LakeStatus> {
  const arrivals = await listPartitions(paths.arrivalsDir, FLIGHTS_DATASET, FLIGHTS_PARTITION_KEY);
  const released = await listPartitions(paths.lakeDir, FLIGHTS_DATASET, FLIGHTS_PARTITION_KEY);
  const releasedSet = new Set(released.map((p) => p.value));
  return {
    released: released.map((p) => p.value),
    pending: arrivals.map((p) => p.value).filter((w) => !releasedSet.has(w)),
  };
}

/** Release the next `count` unreleased weeks into the lake, oldest first. Returns the weeks released. */
export async function releaseWeeks(paths: Paths, count: number): Promise<string[]> {
  const { pending } = await lakeStatus(paths);
  const target = path.join(paths.lakeDir, FLIGHTS_DATASET);
  await mkdir(target, { recursive: true });
  const released: string[] = [];
  for (const week of pending.slice(0, Math.max(0, count))) {
    const name = `${FLIGHTS_PARTITION_KEY}=${week}`;
    if (await publishPartition(path.join(paths.arrivalsDir, FLIGHTS_DATASET, name), target, name)) released.push(week);
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
