// The registry under concurrency and crashes: versions never collide, aliases are never
// half-written, a crash between write and rename leaves the old alias in force.
import { readdir, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnknownVersionError } from '../core/errors.js';
import { Registry, type CardDraft } from '../core/registry.js';

function draft(runId: string): CardDraft {
  return {
    model: 'm',
    task: 'binary',
    description: '',
    inputs: [],
    output: 'probability',
    decisionThreshold: 0.5,
    trainer: { type: 'additive-logistic', params: {} },
    metrics: {
      holdout: { rows: 1, positiveRate: 0.5, auc: 0.7, logLoss: 0.6, accuracy: 0.6, baselineLogLoss: 0.69, baselineRate: 0.5 },
      trainRows: 1,
    },
    onnx: { parity: { rows: 1, maxAbsDiff: 0, labelMismatches: 0 } },
    gate: { passed: true, checks: [] },
    lineage: {
      dataset: { name: 'd', snapshotHash: 'h', trainPartitions: [], holdoutPartitions: [], rows: 1 },
      featureSql: { file: 'f.sql', sha256: 'x' },
      specSha256: 's',
      codeVersion: 'test',
      workflowId: 'wf',
      runId,
    },
  };
}

async function freshRegistry(): Promise<Registry> {
  return new Registry(await mkdtemp(path.join(tmpdir(), 'mlops-registry-')));
}

const bytes = new Uint8Array([1, 2, 3]);

describe('registry', () => {
  it('gives concurrent registrations distinct versions and is idempotent per run', async () => {
    const registry = await freshRegistry();
    const cards = await Promise.all(Array.from({ length: 12 }, (_, i) => registry.register('m', bytes, draft(`run-${i}`))));
    expect(new Set(cards.map((c) => c.version)).size).toBe(12);
    expect(await registry.listVersions('m')).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const again = await registry.register('m', bytes, draft('run-3'));
    expect(again.version).toBe(cards[3]!.version);
    expect(await registry.listVersions('m')).toHaveLength(12);
    const leftovers = (await readdir(path.join(registry.root, 'm'))).filter((f) => f.startsWith('.'));
    expect(leftovers).toEqual([]);
  });

  it('swaps aliases atomically under concurrency and logs every move', async () => {
    const registry = await freshRegistry();
    for (let i = 0; i < 5; i++) await registry.register('m', bytes, draft(`r${i}`));
    const reads: number[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const alias = await registry.getAlias('m', 'champion'); // never a parse error
        if (alias) reads.push(alias.version);
        await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        registry.setAlias('m', 'champion', (i % 5) + 1, { actor: 'test', reason: `move ${i}`, workflowId: `w${i}` }),
      ),
    );
    reading = false;
    await reader;
    const final = await registry.getAlias('m', 'champion');
    expect(final?.version).toBeGreaterThanOrEqual(1);
    expect(reads.every((v) => v >= 1 && v <= 5)).toBe(true);
    expect(await registry.aliasHistory('m')).toHaveLength(40);
  });

  it('keeps the old alias when a crash happens between write and rename', async () => {
    const registry = await freshRegistry();
    await registry.register('m', bytes, draft('a'));
    await registry.register('m', bytes, draft('b'));
    await registry.setAlias('m', 'champion', 1, { actor: 'test', reason: 'first' });
    // What a process killed after writing its temporary file, before renaming, leaves behind:
    await writeFile(path.join(registry.root, 'm', 'aliases', '.champion.crashed.tmp'), '{"version": 2, "trunc');
    expect((await registry.getAlias('m', 'champion'))?.version).toBe(1);
    // and the next move still works.
    await registry.setAlias('m', 'champion', 2, { actor: 'test', reason: 'second' });
    expect((await registry.getAlias('m', 'champion'))?.version).toBe(2);
  });

  it('refuses an alias to a version that does not exist', async () => {
    const registry = await freshRegistry();
    await expect(registry.setAlias('m', 'champion', 9, { actor: 't', reason: 'r' })).rejects.toBeInstanceOf(UnknownVersionError);
  });
});
