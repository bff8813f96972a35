// The lake bootstrap: the same source file always gives the same bytes (so snapshots and
// seeded training runs are reproducible), a second bootstrap is a no-op, and release adds
// the next week whole.
import { readdir } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolvePaths, type Paths } from '../core/config.js';
import { bootstrapFlights, ensureFlightsLake, lakeStatus, releaseWeeks } from '../data/flights.js';
import { hashFile, openArrivals } from '../storage/lake.js';

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
});
