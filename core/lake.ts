// The lake: hive-partitioned Parquet, `<lakeDir>/<dataset>/<key>=<value>/*.parquet`.
// Folders whose name starts with a dot are writes in progress and are never read.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { cp, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { comparePartitionValues } from './dataset.js';

export interface Partition {
  /** The partition value, e.g. `2001-01-01` for `week=2001-01-01`. */
  readonly value: string;
  readonly dir: string;
  readonly files: readonly string[];
}

export async function listPartitions(lakeDir: string, dataset: string, partitionKey: string): Promise<Partition[]> {
  const root = path.join(lakeDir, dataset);
  const entries = await readdir(root, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const prefix = `${partitionKey}=`;
  const partitions: Partition[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || !e.name.startsWith(prefix)) continue;
    const dir = path.join(root, e.name);
    const files = (await readdir(dir))
      .filter((f) => f.endsWith('.parquet') && !f.startsWith('.'))
      .sort()
      .map((f) => path.join(dir, f));
    if (files.length > 0) partitions.push({ value: e.name.slice(prefix.length), dir, files });
  }
  return partitions.sort((a, b) => comparePartitionValues(a.value, b.value));
}

/** sha256 of a file's bytes, streamed. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Copy a partition folder into a lake atomically: copy under a dot-name, then rename, so a
 * reader sees the whole partition or none of it. Returns false when it is there already.
 */
export async function publishPartition(sourceDir: string, targetRoot: string, name: string): Promise<boolean> {
  const target = path.join(targetRoot, name);
  if (await exists(target)) return false;
  const staging = path.join(targetRoot, `.incoming-${name}-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  await cp(sourceDir, staging, { recursive: true });
  try {
    await rename(staging, target);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if ((err as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  return true;
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
