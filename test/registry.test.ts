// The registry under concurrency and crashes, on both backends: versions never collide (also
// between processes, each with its own registry object), aliases are never half-written, and
// the alias log agrees with the alias objects after every move, whoever moved last.
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnknownVersionError } from '../core/errors.js';
import { FileStore } from '../storage/file-store.js';
import { Registry, rollbackTarget, type AliasAction, type AliasLogEntry } from '../storage/registry.js';
import { cardDraft } from './helpers.js';
import { BACKENDS } from './stores.js';

const bytes = new Uint8Array([1, 2, 3]);

describe.each(BACKENDS)('registry: $name', (backend) => {
  /** A registry, and `n` more over the same store: separate processes, as far as the registry can tell. */
  async function registries(n = 0): Promise<[Registry, ...Registry[]]> {
    const store = await backend.store();
    return [new Registry(store), ...Array.from({ length: n }, () => new Registry(store))];
  }

  it('gives concurrent registrations distinct versions and is idempotent per run', async () => {
    const all = await registries(3);
    const registry = all[0];
    const cards = await Promise.all(Array.from({ length: 12 }, (_, i) => all[i % all.length]!.register('m', bytes, cardDraft('m', `run-${i}`))));
    expect(new Set(cards.map((c) => c.version)).size).toBe(12);
    expect(await registry.listVersions('m')).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const again = await all[1]!.register('m', bytes, cardDraft('m', 'run-3'));
    expect(again.version).toBe(cards[3]!.version);
    expect(await registry.listVersions('m')).toHaveLength(12);
    expect(await registry.listModels()).toEqual(['m']);
    if (registry.store instanceof FileStore) {
      const leftovers = (await readdir(path.join(registry.store.root, 'm', 'versions', '1'))).filter((f) => f.startsWith('.'));
      expect(leftovers).toEqual([]);
    }
  });

  it('finishes the version a registration claimed when its run retries after dying halfway', async () => {
    const [registry] = await registries();
    await registry.register('m', bytes, cardDraft('m', 'first'));
    // What an attempt killed after claiming v2 and writing its model, before its card, leaves:
    await registry.store.put('m/versions/2/claim.json', JSON.stringify({ workflowId: 'test', runId: 'dies', claimedAt: '' }), { ifNoneMatch: '*' });
    await registry.store.put('m/versions/2/model.onnx', new Uint8Array([9]));
    expect(await registry.listVersions('m')).toEqual([1]); // not committed: not a version
    const other = await registry.register('m', bytes, cardDraft('m', 'other'));
    expect(other.version).toBe(3);
    const retried = await registry.register('m', bytes, cardDraft('m', 'dies'));
    expect(retried.version).toBe(2);
    expect(retried.onnx.bytes).toBe(3);
    expect(await registry.listVersions('m')).toEqual([1, 2, 3]);
  });

  it('swaps aliases atomically under concurrency and logs every move', async () => {
    const all = await registries(2);
    const registry = all[0];
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
      Array.from({ length: 24 }, (_, i) =>
        all[i % all.length]!.moveAlias('m', 'champion', (i % 5) + 1, { action: 'promote', actor: 'test', reason: `move ${i}`, workflowId: `w${i}` }),
      ),
    );
    reading = false;
    await reader;
    const final = await registry.getAlias('m', 'champion');
    expect(final?.version).toBeGreaterThanOrEqual(1);
    expect(reads.every((v) => v >= 1 && v <= 5)).toBe(true);
    const history = await registry.aliasHistory('m');
    expect(history).toHaveLength(24);
    // The log is one chain, and its last line is what the alias file says.
    history.forEach((e, i) => expect(e.previousVersion).toBe(i === 0 ? null : history[i - 1]!.version));
    expect(history.at(-1)?.version).toBe(final?.version);
  });

  it('logs a move once when it is retried, and reads the older one-file log, skipping a line a crash cut short', async () => {
    const [registry] = await registries();
    for (let i = 0; i < 3; i++) await registry.register('m', bytes, cardDraft('m', `r${i}`));
    const move = { action: 'promote' as const, actor: 'wf', reason: 'gate passed', workflowId: 'promote-m', runId: 'run-1' };
    await registry.moveAlias('m', 'champion', 1, move);
    // A crash after the log line and before the alias file: the retry only writes the file.
    await registry.moveAlias('m', 'champion', 2, { ...move, runId: 'run-2' });
    await registry.store.delete('m/aliases/champion.json');
    await registry.moveAlias('m', 'champion', 2, { ...move, runId: 'run-2' });
    expect((await registry.getAlias('m', 'champion'))?.version).toBe(2);
    expect((await registry.aliasHistory('m')).map((e) => e.version)).toEqual([1, 2]);
    // The log as registries before one-object-per-move kept it: a file of lines, the last torn by a crash.
    const legacy = { model: 'm', alias: 'champion', version: 3, previousVersion: null, updatedAt: '', action: 'promote', actor: 'old', reason: 'before', workflowId: null, runId: null };
    await registry.store.put('m/aliases/history.jsonl', `${JSON.stringify(legacy)}\n{"model":"m","alias":"champ`);
    await registry.moveAlias('m', 'challenger', 3, { ...move, action: 'await-approval', runId: 'run-3' });
    await registry.moveAlias('m', 'challenger', null, { ...move, action: 'clear', runId: 'run-3' });
    expect(await registry.getAlias('m', 'challenger')).toBeUndefined();
    const history = await registry.aliasHistory('m');
    expect(history.map((e) => [e.alias, e.version, e.action])).toEqual([
      ['champion', 3, 'promote'],
      ['champion', 1, 'promote'],
      ['champion', 2, 'promote'],
      ['challenger', 3, 'await-approval'],
      ['challenger', null, 'clear'],
    ]);
  });

  it('rolls back to the champion before the current one, further with each rollback', () => {
    const entry = (version: number, action: AliasAction, alias = 'champion'): AliasLogEntry => ({
      model: 'm', alias, version, previousVersion: null, updatedAt: '', action, actor: 't', reason: '', workflowId: null, runId: null,
    });
    expect(rollbackTarget([entry(1, 'promote')])).toBeNull();
    const promoted = [entry(1, 'promote'), entry(2, 'promote'), entry(5, 'await-approval', 'challenger'), entry(3, 'promote')];
    expect(rollbackTarget(promoted)).toBe(2);
    expect(rollbackTarget([...promoted, entry(2, 'rollback')])).toBe(1);
    expect(rollbackTarget([...promoted, entry(2, 'rollback'), entry(1, 'rollback')])).toBeNull();
    expect(rollbackTarget([...promoted, entry(2, 'rollback'), entry(4, 'promote')])).toBe(2);
  });

  it('keeps the old alias when a crash leaves a half-written temporary file', async () => {
    const [registry] = await registries();
    await registry.register('m', bytes, cardDraft('m', 'a'));
    await registry.register('m', bytes, cardDraft('m', 'b'));
    await registry.moveAlias('m', 'champion', 1, { action: 'promote', actor: 'test', reason: 'first' });
    // What a process killed after writing its temporary file, before renaming, leaves behind:
    if (registry.store instanceof FileStore) await writeFile(path.join(registry.store.root, 'm', 'aliases', '.champion.crashed.tmp'), '{"version": 2, "trunc');
    expect((await registry.getAlias('m', 'champion'))?.version).toBe(1);
    // and the next move still works.
    await registry.moveAlias('m', 'champion', 2, { action: 'promote', actor: 'test', reason: 'second' });
    expect((await registry.getAlias('m', 'champion'))?.version).toBe(2);
  });

  it('refuses an alias to a version that does not exist', async () => {
    const [registry] = await registries();
    await expect(registry.moveAlias('m', 'champion', 9, { action: 'promote', actor: 't', reason: 'r' })).rejects.toBeInstanceOf(UnknownVersionError);
  });
});
