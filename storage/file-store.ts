// The folder backend: one file per object under a root folder, the embedded default. Every
// write goes to a dot-named temporary file that is flushed and then renamed (or linked, for a
// create) into place, so a reader sees a whole object or none, and a crash leaves only dot
// files, which listings skip. The ETag is the file's inode, size and change time: a rename
// gives the key a new inode, so any replacement changes it.
import { link, mkdir, open, readdir, rm, stat, unlink } from 'node:fs/promises';
import { createReadStream, createWriteStream, type BigIntStats } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { WriteConflictError } from '../core/errors.js';
import { publishDurably, syncFolder, temporaryPath } from './durable.js';
import { checkKey, type ObjectInfo, type ObjectStore, type StoredObject, type WriteCondition } from './object-store.js';

/** A lock older than this was left by a process that died holding it (a held lock lasts milliseconds). */
const STALE_LOCK_MS = 30_000;

const etagOf = (s: BigIntStats): string => `"${s.ino.toString(16)}-${s.size.toString(16)}-${s.ctimeNs.toString(16)}"`;

const isMissing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

export class FileStore implements ObjectStore {
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  /** The file that holds `key`. */
  pathOf(key: string): string {
    return path.join(this.root, ...checkKey(key).split('/'));
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const file = this.pathOf(key);
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
      throw err;
    }
    try {
      // One descriptor for both: the ETag and the bytes are of the same file even if it is replaced meanwhile.
      const s = await handle.stat({ bigint: true });
      if (!s.isFile()) return undefined;
      const body = new Uint8Array(await handle.readFile());
      return { key, etag: etagOf(s), size: body.length, body };
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(this.pathOf(key), { bigint: true });
      return s.isFile() ? { key, etag: etagOf(s), size: Number(s.size) } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async put(key: string, body: Uint8Array | string, condition?: WriteCondition): Promise<ObjectInfo> {
    return this.write(key, condition, async (temp) => {
      const handle = await open(temp, 'wx');
      try {
        await handle.writeFile(body);
      } finally {
        await handle.close();
      }
    });
  }

  async putFile(key: string, file: string, condition?: WriteCondition): Promise<ObjectInfo> {
    return this.write(key, condition, (temp) => pipeline(createReadStream(file), createWriteStream(temp, { flags: 'wx' })));
  }

  /** Fill a temporary file with `fill`, then put it in place under the condition. */
  private async write(key: string, condition: WriteCondition | undefined, fill: (temp: string) => Promise<void>): Promise<ObjectInfo> {
    const target = this.pathOf(key);
    await mkdir(path.dirname(target), { recursive: true });
    const temp = temporaryPath(target);
    try {
      await fill(temp);
      if (condition && 'ifNoneMatch' in condition) {
        await syncFile(temp);
        try {
          // link() fails when the target exists: the create is atomic without a lock.
          await link(temp, target);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new WriteConflictError(this.location, key, 'create');
          throw err;
        }
        await syncFolder(path.dirname(target));
      } else if (condition) {
        await this.locked(target, async () => {
          const current = await this.head(key);
          if (current?.etag !== condition.ifMatch) throw new WriteConflictError(this.location, key, 'replace');
          await publishDurably(temp, target);
        });
      } else {
        await publishDurably(temp, target);
      }
      const s = await stat(target, { bigint: true });
      return { key, etag: etagOf(s), size: Number(s.size) };
    } finally {
      await rm(temp, { force: true });
    }
  }

  /** Run `fn` holding the key's lock file (created exclusively beside it; a dead holder's lock expires). */
  private async locked<T>(target: string, fn: () => Promise<T>): Promise<T> {
    const lock = path.join(path.dirname(target), `.${path.basename(target)}.lock`);
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      try {
        await (await open(lock, 'wx')).close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const held = await stat(lock).catch(() => undefined);
        if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) await unlink(lock).catch(() => undefined);
        else await new Promise((r) => setTimeout(r, wait));
      }
    }
    try {
      return await fn();
    } finally {
      await unlink(lock).catch(() => undefined);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    // Walk from the deepest folder the prefix names; keep keys that start with the prefix.
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    const out: ObjectInfo[] = [];
    const walk = async (dirKey: string): Promise<void> => {
      const dir = dirKey ? this.pathOf(dirKey) : this.root;
      const entries = await readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
        if (isMissing(err)) return [];
        throw err;
      });
      for (const e of entries) {
        if (e.name.startsWith('.')) continue; // temporary files, staging folders, locks
        const key = dirKey ? `${dirKey}/${e.name}` : e.name;
        if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`)) continue;
        // A linked folder (tests share one read-only lake this way) is walked like its target.
        const kind = e.isSymbolicLink() ? await stat(path.join(dir, e.name)).catch(() => undefined) : e;
        if (kind?.isDirectory()) await walk(key);
        else if (kind?.isFile() && key.startsWith(prefix)) {
          const info = await this.head(key);
          if (info) out.push(info);
        }
      }
    };
    await walk(base);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async children(prefix: string): Promise<string[]> {
    const dir = prefix ? this.pathOf(prefix.replace(/\/$/, '')) : this.root;
    const entries = await readdir(dir).catch((err: unknown) => {
      if (isMissing(err)) return [] as string[];
      throw err;
    });
    return entries.filter((e) => !e.startsWith('.')).sort();
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    if (prefix.endsWith('/')) await rm(this.pathOf(prefix.slice(0, -1)), { recursive: true, force: true });
    else await Promise.all((await this.list(prefix)).map((o) => this.delete(o.key)));
  }

  async localFile(key: string): Promise<string | undefined> {
    return (await this.head(key)) ? this.pathOf(key) : undefined;
  }
}

async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
