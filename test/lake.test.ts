// The lake bootstrap: the same source file always gives the same bytes (so snapshots and
// seeded training runs are reproducible), a second bootstrap is a no-op, and release adds
// the next week whole.
import { mkdir, readdir } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolvePaths, type Paths } from '../core/config.js';
import { bootstrapFlights, ensureFlightsLake, lakeStatus, releaseWeeks } from '../data/flights.js';
import { openDuckDB, quoteLiteral } from '../core/duckdb.js';
import { FileStore } from '../storage/file-store.js';
import { hashFile, Lake, openArrivals } from '../storage/lake.js';

/** Each arrival file's key and the sha256 of its bytes (checked against its manifest's). */
async function fingerprint(paths: Paths): Promise<string[]> {
  const arrivals = openArrivals(paths);
  const files = (await arrivals.partitions('flights', 'week')).flatMap((p) => p.files);
  const locals = await arrivals.localFiles(files);
  return Promise.all(
    files.map(async (f, i) => {
      const actual = await hashFile(locals[i]!);
      expect(actual).toBe(f.sha256);
      return `${f.key} ${actual}`;
    }),
  );
}

describe('flights lake', () => {
  it('is built byte for byte the same from the same source, once', async () => {
    const a = resolvePaths({ MLOPS_STATE_DIR: await mkdtemp(path.join(tmpdir(), 'mlops-lake-a-')) });
    const b = resolvePaths({ MLOPS_STATE_DIR: await mkdtemp(path.join(tmpdir(), 'mlops-lake-b-')) });
    const [markerA] = await Promise.all([bootstrapFlights(a), bootstrapFlights(b)]);
    expect(markerA.rows).toBe(3_000_000);
    expect(markerA.weeks).toHaveLength(26);
    expect(await fingerprint(a)).toEqual(await fingerprint(b));

    const again = await bootstrapFlights(a);
    expect(again.createdAt).toBe(markerA.createdAt); // reused, not rebuilt
  });

  it('releases the next week whole, oldest first, and only once', async () => {
    const paths = resolvePaths({ MLOPS_STATE_DIR: await mkdtemp(path.join(tmpdir(), 'mlops-lake-r-')) });
    const first = await ensureFlightsLake(paths, 2);
    expect(first.released).toEqual(['2001-01-01', '2001-01-08']);
    expect(await releaseWeeks(paths, 1)).toEqual(['2001-01-15']);
    const status = await lakeStatus(paths);
    expect(status.released).toHaveLength(3);
    expect(status.pending[0]).toBe('2001-01-22');
    expect(await ensureFlightsLake(paths, 2)).toEqual(status); // never shrinks or re-releases
    const leftovers = (await readdir(path.join(paths.lakeDir, 'flights'))).filter((d) => d.startsWith('.'));
    expect(leftovers).toEqual([]);
  });

  it('reads a lake from before manifests, adopts it on the first write, and then reads only what manifests list', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mlops-lake-old-'));
    const lake = new Lake(new FileStore(dir));
    const db = await openDuckDB();
    const parquet = async (file: string, n: number) => {
      await mkdir(path.dirname(file), { recursive: true });
      await db.connection.run(`COPY (SELECT range AS x FROM range(${n})) TO ${quoteLiteral(file)} (FORMAT parquet)`);
    };
    try {
      // Two partitions as the rename-publishing lake left them, and a write in progress (dot folder).
      await parquet(path.join(dir, 'd', 'batch=1', 'a.parquet'), 3);
      await parquet(path.join(dir, 'd', 'batch=2', 'b.parquet'), 4);
      await parquet(path.join(dir, 'd', '.incoming-batch=3-1', 'c.parquet'), 5);
      expect((await lake.partitions('d', 'batch')).map((p) => p.value)).toEqual(['1', '2']);
      // The first write with manifests: the old partitions get theirs, then the new one is added.
      const local = path.join(dir, 'new.parquet');
      await parquet(local, 6);
      await lake.addFiles('d', 'batch=10', [await lake.putFile('d', 'batch=10', 'e.parquet', local)]);
      // A file a killed writer stored but never listed in a manifest.
      await parquet(path.join(dir, 'd', 'batch=11', 'orphan.parquet'), 7);
      const partitions = await lake.partitions('d', 'batch');
      expect(partitions.map((p) => p.value)).toEqual(['1', '2', '10']);
      const files = partitions.flatMap((p) => p.files);
      const rows = await lake.rowCounts(files);
      expect(files.map((f) => rows.get(f.key))).toEqual([3, 4, 6]);
      // Adding a listed file again changes nothing.
      expect(await lake.addFiles('d', 'batch=10', partitions.at(-1)!.files)).toBe(false);
    } finally {
      db.close();
    }
  });
});

