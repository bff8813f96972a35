// The lake bootstrap: the same source file always gives the same bytes (so snapshots and
// seeded training runs are reproducible), a second bootstrap is a no-op, and release adds
// the next week whole.
import { readdir } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolvePaths } from '../core/config.js';
import { hashFile, listPartitions } from '../core/lake.js';
import { bootstrapFlights, ensureFlightsLake, lakeStatus, releaseWeeks } from '../data/flights.js';

async function fingerprint(root: string): Promise<string[]> {
  const partitions = await listPartitions(root, 'flights', 'week');
  return Promise.all(partitions.flatMap((p) => p.files.map(async (f) => `${path.relative(root, f)} ${await hashFile(f)}`)));
}

describe('flights lake', () => {
  it('is built byte for byte the same from the same source, once', async () => {
    const a = resolvePaths({ MLOPS_STATE_DIR: await mkdtemp(path.join(tmpdir(), 'mlops-lake-a-')) });
    const b = resolvePaths({ MLOPS_STATE_DIR: await mkdtemp(path.join(tmpdir(), 'mlops-lake-b-')) });
    const [markerA] = await Promise.all([bootstrapFlights(a), bootstrapFlights(b)]);
    expect(markerA.rows).toBe(3_000_000);
    expect(markerA.weeks).toHaveLength(26);
    expect(await fingerprint(a.arrivalsDir)).toEqual(await fingerprint(b.arrivalsDir));

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
