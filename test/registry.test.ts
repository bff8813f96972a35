// The registry under concurrency and crashes: versions never collide, aliases are never
// half-written, a crash between write and rename leaves the old alias in force.
import { readdir, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnknownVersionError } from '../core/errors.js';
import { Registry } from '../core/registry.js';
import { cardDraft } from './helpers.js';

async function freshRegistry(): Promise<Registry> {
  return new Registry(await mkdtemp(path.join(tmpdir(), 'mlops-registry-')));
}

const bytes = new Uint8Array([1, 2, 3]);

describe('registry', () => {
  it('gives concurrent registrations distinct versions and is idempotent per run', async () => {
    const registry = await freshRegistry();
    const cards = await Promise.all(Array.from({ length: 12 }, (_, i) => registry.register('m', bytes, cardDraft('m', `run-${i}`))));
    expect(new Set(cards.map((c) => c.version)).size).toBe(12);
    expect(await registry.listVersions('m')).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const again = await registry.register('m', bytes, cardDraft('m', 'run-3'));
    expect(again.version).toBe(cards[3]!.version);
    expect(await registry.listVersions('m')).toHaveLength(12);
    const leftovers = (await readdir(path.join(registry.root, 'm'))).filter((f) => f.startsWith('.'));
    expect(leftovers).toEqual([]);
  });

  it('swaps aliases atomically under concurrency and logs every move', async () => {
    const registry = await freshRegistry();
    for (let i = 0; i < 5; i++) await registry.register('m', bytes, cardDraft('m', `r${i}`));
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
    await registry.register('m', bytes, cardDraft('m', 'a'));
    await registry.register('m', bytes, cardDraft('m', 'b'));
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
