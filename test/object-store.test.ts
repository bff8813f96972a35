// The storage contract, held by both backends alike: whole objects, listings in key order,
// and the two conditional writes (create if absent, replace if unchanged) under contention.
import { readFile, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WriteConflictError } from '../core/errors.js';
import { getJson, putJson } from '../storage/object-store.js';
import { BACKENDS } from './stores.js';

const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);

describe.each(BACKENDS)('object store: $name', (backend) => {
  it('reads, lists and deletes whole objects', async () => {
    const store = await backend.store();
    expect(await store.get('a/missing.json')).toBeUndefined();
    expect(await store.head('a/missing.json')).toBeUndefined();
    const put = await store.put('a/b/one.txt', 'one');
    await store.put('a/b/two.txt', 'two');
    await store.put('a/c.txt', 'c');
    await store.put('ab.txt', 'not under a/');
    const got = await store.get('a/b/one.txt');
    expect(text(got?.body)).toBe('one');
    expect(got?.etag).toBe(put.etag);
    expect((await store.head('a/b/one.txt'))?.size).toBe(3);
    expect((await store.list('a/')).map((o) => o.key)).toEqual(['a/b/one.txt', 'a/b/two.txt', 'a/c.txt']);
    expect((await store.list('a/b/t')).map((o) => o.key)).toEqual(['a/b/two.txt']);
    expect(await store.children('a/')).toEqual(['b', 'c.txt']);
    expect(await store.children('')).toEqual(['a', 'ab.txt']);
    const replaced = await store.put('a/b/one.txt', 'uno');
    expect(replaced.etag).not.toBe(put.etag);
    await store.delete('a/c.txt');
    await store.delete('a/never-there.txt');
    await store.deletePrefix('a/b/');
    expect((await store.list('a')).map((o) => o.key)).toEqual(['ab.txt']);
  });

  it('stores a local file and hands out a local copy of the current content', async () => {
    const store = await backend.store();
    const dir = await mkdtemp(path.join(tmpdir(), 'mlops-file-'));
    const file = path.join(dir, 'big.bin');
    const bytes = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) & 0xff);
    await writeFile(file, bytes);
    await store.putFile('data/big.bin', file);
    const copy = await store.localFile('data/big.bin');
    expect(Buffer.compare(await readFile(copy!), bytes)).toBe(0); // (toEqual over 3 MB is slow)
    await store.put('data/big.bin', 'small now');
    expect(await readFile((await store.localFile('data/big.bin'))!, 'utf8')).toBe('small now');
    expect(await store.localFile('data/none.bin')).toBeUndefined();
  });

  it('creates an object for exactly one of many concurrent writers', async () => {
    const store = await backend.store();
    const results = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => store.put('claim.json', `writer ${i}`, { ifNoneMatch: '*' })));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(WriteConflictError);
    const winner = results.findIndex((r) => r.status === 'fulfilled');
    expect(text((await store.get('claim.json'))?.body)).toBe(`writer ${winner}`);
  });

  it('replaces an object only while its ETag is unchanged: concurrent increments lose no update', async () => {
    const store = await backend.store();
    await putJson(store, 'counter.json', { n: 0 });
    let conflicts = 0;
    const increment = async () => {
      for (;;) {
        const current = (await getJson<{ n: number }>(store, 'counter.json'))!;
        try {
          await putJson(store, 'counter.json', { n: current.value.n + 1 }, { ifMatch: current.etag });
          return;
        } catch (err) {
          if (!(err instanceof WriteConflictError)) throw err;
          conflicts++;
        }
      }
    };
    await Promise.all(Array.from({ length: 12 }, increment));
    expect((await getJson<{ n: number }>(store, 'counter.json'))?.value.n).toBe(12);
    expect(conflicts).toBeGreaterThan(0); // the writers did contend
    await expect(store.put('counter.json', '{}', { ifMatch: '"not-the-etag"' })).rejects.toBeInstanceOf(WriteConflictError);
    await expect(store.put('absent.json', '{}', { ifMatch: '"any"' })).rejects.toBeInstanceOf(WriteConflictError);
  });

  it('refuses keys that would leave the store', async () => {
    const store = await backend.store();
    for (const key of ['../x', 'a//b', '/abs', 'a/./b', '']) await expect(store.put(key, 'x')).rejects.toThrow(/invalid storage key/);
  });
});
