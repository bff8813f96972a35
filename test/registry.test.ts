// The registry under concurrency and crashes: versions never collide, aliases are never
// half-written, a crash between write and rename leaves the old alias in force, and the alias
// log agrees with the alias files.
import { appendFile, readdir, rm, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnknownVersionError } from '../core/errors.js';
import { Registry, rollbackTarget, type AliasAction, type AliasLogEntry } from '../core/registry.js';
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
        registry.moveAlias('m', 'champion', (i % 5) + 1, { action: 'promote', actor: 'test', reason: `move ${i}`, workflowId: `w${i}` }),
      ),
    );
    reading = false;
    await reader;
    const final = await registry.getAlias('m', 'champion');
    expect(final?.version).toBeGreaterThanOrEqual(1);
    expect(reads.every((v) => v >= 1 && v <= 5)).toBe(true);
    const history = await registry.aliasHistory('m');
    expect(history).toHaveLength(40);
    // The log is one chain, and its last line is what the alias file says.
    history.forEach((e, i) => expect(e.previousVersion).toBe(i === 0 ? null : history[i - 1]!.version));
    expect(history.at(-1)?.version).toBe(final?.version);
  });

  it('logs a move once when it is retried, and ignores a log line a crash cut short', async () => {
    const registry = await freshRegistry();
    for (let i = 0; i < 3; i++) await registry.register('m', bytes, cardDraft('m', `r${i}`));
    const move = { action: 'promote' as const, actor: 'wf', reason: 'gate passed', workflowId: 'promote-m', runId: 'run-1' };
    await registry.moveAlias('m', 'champion', 1, move);
    // A crash after the log line and before the alias file: the retry only writes the file.
    await registry.moveAlias('m', 'champion', 2, { ...move, runId: 'run-2' });
    await rm(path.join(registry.root, 'm', 'aliases', 'champion.json'));
    await registry.moveAlias('m', 'champion', 2, { ...move, runId: 'run-2' });
    expect((await registry.getAlias('m', 'champion'))?.version).toBe(2);
    expect((await registry.aliasHistory('m')).map((e) => e.version)).toEqual([1, 2]);
    // A write torn by a crash, then the next move: the torn line is skipped, nothing is glued to it.
    await appendFile(path.join(registry.root, 'm', 'aliases', 'history.jsonl'), '{"model":"m","alias":"champ');
    await registry.moveAlias('m', 'challenger', 3, { ...move, action: 'await-approval', runId: 'run-3' });
    await registry.moveAlias('m', 'challenger', null, { ...move, action: 'clear', runId: 'run-3' });
    expect(await registry.getAlias('m', 'challenger')).toBeUndefined();
    const history = await registry.aliasHistory('m');
    expect(history.map((e) => [e.alias, e.version, e.action])).toEqual([
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

  it('keeps the old alias when a crash happens between write and rename', async () => {
    const registry = await freshRegistry();
    await registry.register('m', bytes, cardDraft('m', 'a'));
    await registry.register('m', bytes, cardDraft('m', 'b'));
    await registry.moveAlias('m', 'champion', 1, { action: 'promote', actor: 'test', reason: 'first' });
    // What a process killed after writing its temporary file, before renaming, leaves behind:
    await writeFile(path.join(registry.root, 'm', 'aliases', '.champion.crashed.tmp'), '{"version": 2, "trunc');
    expect((await registry.getAlias('m', 'champion'))?.version).toBe(1);
    // and the next move still works.
    await registry.moveAlias('m', 'champion', 2, { action: 'promote', actor: 'test', reason: 'second' });
    expect((await registry.getAlias('m', 'champion'))?.version).toBe(2);
  });

  it('refuses an alias to a version that does not exist', async () => {
    const registry = await freshRegistry();
    await expect(registry.moveAlias('m', 'champion', 9, { action: 'promote', actor: 't', reason: 'r' })).rejects.toBeInstanceOf(UnknownVersionError);
  });
});
