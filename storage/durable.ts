// Writes that survive a crash whole or not at all: a dot-named temporary file, flushed, renamed
// over the target, then the folder flushed so the rename itself is on disk.
import { randomUUID } from 'node:crypto';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';

/**
 * A dot-named temporary path beside `file`, unique to this writer: two writers of one file
 * (an attempt the server gave up on and its retry) never write into each other's bytes.
 */
export function temporaryPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
}

/** Replace `file` with `data`: readers see the old content or the new, even after a power loss. */
export async function replaceDurably(file: string, data: string | Uint8Array): Promise<void> {
  const temp = temporaryPath(file);
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
  await publishDurably(temp, file);
}

/** Flush a finished temporary file, rename it to `target` and flush the folder. */
export async function publishDurably(temp: string, target: string): Promise<void> {
  const handle = await open(temp, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, target);
  await syncFolder(path.dirname(target));
}

/** Flush a folder, so the names just linked or renamed into it are on disk. */
export async function syncFolder(folder: string): Promise<void> {
  const dir = await open(folder, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
