// Specs live: the worker's watcher reconciles when a spec is added, edited, broken or removed,
// and not while the files stay the same.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pinSpec, runSpec } from '../storage/spec-pins.js';
import { loadSpec } from '../core/spec.js';
import { SpecWatcher, type SpecSet } from '../worker/spec-watch.js';
import { declareVariant, testPaths } from './helpers.js';

describe('pinned specs', () => {
  it('a run reads the spec, dataset and feature SQL it pinned, whatever is edited meanwhile', async () => {
    const paths = await testPaths();
    const pinned = await pinSpec(paths, 'flight_delay');
    await declareVariant(paths, 'flight_delay', 'flight_delay', (spec) => {
      spec.gate.min = 0.9;
    });
    await writeFile(path.join(paths.sqlDir, 'features', 'flights.sql'), 'SELECT 1 AS hour FROM source');
    const now = await loadSpec(paths, 'flight_delay');
    expect(now.spec.gate.min).toBe(0.9);
    expect(now.specHash).not.toBe(pinned.specHash);
    const run = await runSpec(paths, 'flight_delay', pinned.specHash);
    expect(run.spec.gate.min).toBe(0.6);
    expect(run.featureSql).toBe(pinned.featureSql);
    expect(run.specHash).toBe(pinned.specHash);
    // Runs from before pinning (no hash) read the spec as it is.
    expect((await runSpec(paths, 'flight_delay', undefined)).spec.gate.min).toBe(0.9);
  });
});

describe('the spec watcher', () => {
  it('reconciles on every change of the specs, with the specs as they are now', async () => {
    const paths = await testPaths();
    const seen: SpecSet[] = [];
    const watcher = new SpecWatcher(paths, async (set) => {
      seen.push(set);
    });
    const names = () => seen.at(-1)!.specs.map((s) => s.name).sort();
    expect(await watcher.check()).toBe(true);
    expect(names()).toEqual(['flight_delay', 'flight_delay_class', 'flight_delay_minutes']);
    expect(await watcher.check()).toBe(false); // nothing changed

    await declareVariant(paths, 'flight_delay', 'live_added', () => {});
    expect(await watcher.check()).toBe(true);
    expect(names()).toContain('live_added');

    await declareVariant(paths, 'flight_delay', 'live_added', (spec) => {
      spec.schedules = { train: '0 5 * * MON' };
    });
    expect(await watcher.check()).toBe(true);
    expect(seen.at(-1)!.specs.find((s) => s.name === 'live_added')!.schedules.train).toBe('0 5 * * MON');

    // The feature SQL is part of a spec: editing it is a change too.
    await writeFile(path.join(paths.sqlDir, 'features', 'flights.sql'), `${'-- edited\n'}SELECT 1 AS x FROM source`);
    expect(await watcher.check()).toBe(true);

    await writeFile(path.join(paths.modelsDir, 'live_added.json'), '{ not json');
    expect(await watcher.check()).toBe(true);
    expect(seen.at(-1)!.broken).toEqual([{ name: 'live_added', error: expect.stringMatching(/^models\/live_added\.json: \(file\): not valid JSON/) }]);

    await rm(path.join(paths.modelsDir, 'live_added.json'));
    expect(await watcher.check()).toBe(true);
    expect(names()).not.toContain('live_added');
    expect(seen.at(-1)!.broken).toEqual([]);
  });
});
