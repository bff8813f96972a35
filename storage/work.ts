// A run's scratch objects in the store's work area: training sets, checkpoints, trained models,
// under `<model>/<workflow id>/<run id>/`. One activity stores what the next one reads, so the
// next may run on another host (a training run resumes anywhere from its last checkpoint).
// Activities compute in a local scratch folder of their own and store the results.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Paths } from '../core/config.js';
import { openStorage } from './index.js';
import { checkKey, type ObjectStore } from './object-store.js';

/** Ids as key parts: anything but letters, digits, '.', '-' and '_' becomes '_', so they cannot leave the area. */
const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');

export class RunFiles {
  constructor(
    readonly store: ObjectStore,
    /** The run's prefix in the work area, without a trailing '/'. */
    readonly prefix: string,
  ) {}

  /** The key of `name` (which may have '/'-separated parts) in this run's area. */
  key(name: string): string {
    return checkKey(`${this.prefix}/${name}`);
  }

  /** Store a local file as `name`; returns its key. */
  async putFile(name: string, file: string): Promise<string> {
    const key = this.key(name);
    // Read whole first: the writer may replace the file (a newer checkpoint) while it is stored.
    await this.store.put(key, await readFile(file));
    return key;
  }

  /** A local file with the stored object of `key`, or undefined when there is none. */
  async localFile(key: string): Promise<string | undefined> {
    return this.store.localFile(checkKey(key));
  }

  /** Like localFile, for an object the run stored earlier and must have: its absence names the key. */
  async required(key: string): Promise<string> {
    const file = await this.localFile(key);
    if (!file) throw new Error(`${this.store.location}/${key} is missing: the run's earlier step stored it, and it is gone`);
    return file;
  }

  async bytes(key: string): Promise<Uint8Array> {
    const obj = await this.store.get(checkKey(key));
    if (!obj) throw new Error(`${this.store.location}/${key} is missing: the run's earlier step stored it, and it is gone`);
    return obj.body;
  }

  /** Remove everything the run stored. */
  async remove(): Promise<void> {
    await this.store.deletePrefix(`${this.prefix}/`);
  }
}

/** The scratch objects of one workflow run. */
export function runFiles(paths: Paths, model: string, workflowId: string, runId: string): RunFiles {
  return new RunFiles(openStorage(paths).work, `${safe(model)}/${safe(workflowId)}/${safe(runId)}`);
}

/** The scratch objects under a prefix runFiles gave (payloads carry the prefix). */
export function runFilesAt(paths: Paths, prefix: string): RunFiles {
  return new RunFiles(openStorage(paths).work, checkKey(prefix));
}

/** A local scratch folder for one activity attempt, removed when `work` ends. */
export async function withScratch<T>(label: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), `mlops-${label}-`));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
