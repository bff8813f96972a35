// The lake: hive-partitioned Parquet in the store's lake area (and, for the flights demo, the
// arrivals area), one manifest per partition as its commit point.
//
//   <dataset>/<key>=<value>/<file>.parquet        written whole under its final key
//   <dataset>/_manifests/<key>=<value>.json       the partition's files: what readers read
//
// A file is in a partition when the partition's manifest lists it; the manifest is created
// (`If-None-Match: *`) or extended (`If-Match` on its ETag) only after the file is stored, so
// a reader never sees half a partition, and files a crashed writer left behind are invisible.
// Which partitions exist is read from the manifests, never from a listing of data files. A
// dataset's first write creates `_manifests/_format.json`; on a folder store, a dataset without
// it is a lake from before manifests, whose partition folders (each published by one rename)
// count as they are, and that first write gives each of them its manifest.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Paths } from '../core/config.js';
import { openDuckDB, parquetRowCounts, parquetSource } from '../core/duckdb.js';
import type { LoadedSpec } from '../core/spec.js';
import { historyPartitionsBack, type ViewSource } from '../core/views.js';
import { comparePartitionValues } from '../core/dataset.js';
import { WriteConflictError } from '../core/errors.js';
import { FileStore } from './file-store.js';
import { openStorage } from './index.js';
import { getJson, joinKey, putJson, type ObjectStore } from './object-store.js';

/** One Parquet file of a partition. */
export interface LakeFile {
  /** Its key in the store area, e.g. `flights/week=2001-01-01/part-0.parquet`. */
  readonly key: string;
  readonly bytes: number;
  /** sha256 of its bytes (lineage hashes it); absent for files of partitions from before manifests. */
  readonly sha256?: string;
  /** Rows in the file, from its Parquet footer; absent for files of partitions from before manifests. */
  readonly rows?: number;
}

export interface Partition {
  /** The partition value, e.g. `2001-01-01` for `week=2001-01-01`. */
  readonly value: string;
  /** `<key>=<value>`: the partition's folder. */
  readonly folder: string;
  readonly files: readonly LakeFile[];
}

interface Manifest {
  readonly dataset: string;
  readonly folder: string;
  readonly files: readonly LakeFile[];
  readonly updatedAt: string;
}

const MANIFESTS = '_manifests';
/** Present once a dataset is written with manifests: from then on only manifests count. */
const FORMAT = '_format.json';
const MAX_CONFLICTS = 100;

/** sha256 of a local file's bytes, streamed. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export class Lake {
  /** Datasets known to have their format marker (it is never removed). */
  private readonly manifested = new Set<string>();

  constructor(readonly store: ObjectStore) {}

  /** Where a dataset is, for messages. */
  location(dataset: string): string {
    return `${this.store.location}/${dataset}`;
  }

  /** The dataset's published partitions under `partitionKey`, ordered by their values' type. */
  async partitions(dataset: string, partitionKey: string): Promise<Partition[]> {
    if (this.store instanceof FileStore && !(await this.isManifested(dataset))) {
      return (await this.foldersWithoutManifest(dataset, partitionKey)).sort((a, b) => comparePartitionValues(a.value, b.value));
    }
    const prefix = `${joinKey(dataset, MANIFESTS)}/${partitionKey}=`;
    const found = new Map<string, Partition>();
    for (const o of await this.store.list(prefix)) {
      const m = await getJson<Manifest>(this.store, o.key);
      if (!m || m.value.files.length === 0) continue;
      found.set(m.value.folder, { value: m.value.folder.slice(partitionKey.length + 1), folder: m.value.folder, files: m.value.files });
    }
    return [...found.values()].sort((a, b) => comparePartitionValues(a.value, b.value));
  }

  /** Partition folders a folder store published by rename before manifests: all their Parquet files. */
  private async foldersWithoutManifest(dataset: string, partitionKey: string): Promise<Partition[]> {
    const out: Partition[] = [];
    for (const folder of await this.store.children(`${joinKey(dataset)}/`)) {
      if (!folder.startsWith(`${partitionKey}=`)) continue;
      const files = (await this.store.list(`${joinKey(dataset, folder)}/`)).filter((o) => o.key.endsWith('.parquet') && o.key.split('/').length === 3);
      if (files.length > 0) out.push({ value: folder.slice(partitionKey.length + 1), folder, files: files.map((f) => ({ key: f.key, bytes: f.size })) });
    }
    return out;
  }

  private async isManifested(dataset: string): Promise<boolean> {
    if (this.manifested.has(dataset)) return true;
    const found = (await this.store.head(joinKey(dataset, MANIFESTS, FORMAT))) !== undefined;
    if (found) this.manifested.add(dataset);
    return found;
  }

  /** Before a dataset's first write with manifests: give every older partition folder its manifest, then mark the dataset. */
  private async ensureManifested(dataset: string): Promise<void> {
    if (await this.isManifested(dataset)) return;
    if (this.store instanceof FileStore) {
      const keys = new Set((await this.store.children(`${joinKey(dataset)}/`)).filter((f) => f.indexOf('=') > 0 && !f.startsWith('_')).map((f) => f.slice(0, f.indexOf('='))));
      for (const key of keys) {
        for (const p of await this.foldersWithoutManifest(dataset, key)) await this.writeManifest(dataset, p.folder, p.files);
      }
    }
    try {
      await putJson(this.store, joinKey(dataset, MANIFESTS, FORMAT), { format: 1, createdAt: new Date().toISOString() }, { ifNoneMatch: '*' });
    } catch (err) {
      if (!(err instanceof WriteConflictError)) throw err;
    }
    this.manifested.add(dataset);
  }

  /** Create a partition's manifest unless it has one. */
  private async writeManifest(dataset: string, folder: string, files: readonly LakeFile[]): Promise<void> {
    try {
      await putJson(this.store, joinKey(dataset, MANIFESTS, `${folder}.json`), { dataset, folder, files, updatedAt: new Date().toISOString() } satisfies Manifest, {
        ifNoneMatch: '*',
      });
    } catch (err) {
      if (!(err instanceof WriteConflictError)) throw err;
    }
  }

  /**
   * Add stored files to a partition's manifest (creating it): after this, readers see them.
   * Files listed already are not added twice, so a retried publish changes nothing.
   * Returns whether the manifest changed.
   */
  async addFiles(dataset: string, folder: string, files: readonly LakeFile[]): Promise<boolean> {
    await this.ensureManifested(dataset);
    const key = joinKey(dataset, MANIFESTS, `${folder}.json`);
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const current = await getJson<Manifest>(this.store, key);
      const have = new Set(current?.value.files.map((f) => f.key));
      const added = files.filter((f) => !have.has(f.key));
      if (added.length === 0) return false;
      const manifest: Manifest = { dataset, folder, files: [...(current?.value.files ?? []), ...added], updatedAt: new Date().toISOString() };
      try {
        await putJson(this.store, key, manifest, current ? { ifMatch: current.etag } : { ifNoneMatch: '*' });
        return true;
      } catch (err) {
        if (!(err instanceof WriteConflictError)) throw err;
      }
    }
    throw new Error(`could not update the manifest of ${this.location(dataset)}/${folder} after ${MAX_CONFLICTS} attempts`);
  }

  /** Store a local Parquet file as `<dataset>/<folder>/<name>` and describe it for a manifest. */
  async putFile(dataset: string, folder: string, name: string, file: string): Promise<LakeFile> {
    await this.ensureManifested(dataset); // before the file: a folder with a file and no manifest is then never read
    const key = joinKey(dataset, folder, name);
    const [stored, sha256, rows] = await Promise.all([this.store.putFile(key, file), hashFile(file), countRows([file])]);
    return { key, bytes: stored.size, sha256, rows: rows.get(file) ?? 0 };
  }

  /** Rows per file key: from the manifests, or from the Parquet footers of local copies for older partitions. */
  async rowCounts(files: readonly LakeFile[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const unknown = files.filter((f) => f.rows === undefined);
    for (const f of files) if (f.rows !== undefined) out.set(f.key, f.rows);
    if (unknown.length > 0) {
      const local = await this.localFiles(unknown);
      const counted = await countRows(local);
      unknown.forEach((f, i) => out.set(f.key, counted.get(local[i]!) ?? 0));
    }
    return out;
  }

  /** Local paths DuckDB can read for these files, in order (the files themselves, or this host's copies). */
  async localFiles(files: readonly Pick<LakeFile, 'key'>[]): Promise<string[]> {
    return Promise.all(
      files.map(async (f) => {
        const local = await this.store.localFile(f.key);
        if (!local) throw new Error(`${this.store.location}/${f.key} is listed in its partition's manifest but is not in the store`);
        return local;
      }),
    );
  }

  /** sha256 of a file: from its manifest, or hashed from its bytes for a partition from before manifests. */
  async sha256(file: LakeFile): Promise<string> {
    return file.sha256 ?? hashFile((await this.localFiles([file]))[0]!);
  }
}

async function countRows(files: readonly string[]): Promise<Map<string, number>> {
  const db = await openDuckDB({ threads: 1 });
  try {
    return await parquetRowCounts(db.connection, files);
  } finally {
    db.close();
  }
}

/**
 * Where a model's rows in partitions `values` get their views from (undefined: it has none):
 * the dataset's rows in those partitions and the ones before them the views' windows reach
 * (core/views.ts historyPartitionsBack), never a later one. `asOf`: every row as of that
 * instant instead of its own grain start (scoring rows ahead, as a snapshot would).
 */
export async function historySource(lake: Lake, loaded: LoadedSpec, values: readonly string[], asOf?: string): Promise<ViewSource | undefined> {
  const { dataset, features } = loaded.spec;
  if (features.views.length === 0) return undefined;
  const all = await lake.partitions(dataset.name, dataset.partitionKey);
  const at = values.map((v) => all.findIndex((p) => p.value === v)).filter((i) => i >= 0);
  if (at.length === 0) throw new Error(`partitions ${values.join(', ')} of ${lake.location(dataset.name)} are not published`);
  const back = historyPartitionsBack(dataset, features.views);
  const first = back === undefined ? 0 : Math.max(0, Math.min(...at) - back);
  const files = await lake.localFiles(all.slice(first, Math.max(...at) + 1).flatMap((p) => p.files));
  return { kind: 'history', historySql: parquetSource(files), ...(asOf !== undefined ? { asOf } : {}) };
}

/** A file's name inside its dataset (`<key>=<value>/<file>`): what predictions record as its source. */
export function nameInDataset(file: Pick<LakeFile, 'key'>): string {
  return file.key.slice(file.key.indexOf('/') + 1);
}

const lakes = new WeakMap<Paths, { lake: Lake; arrivals: Lake }>();

function lakesOf(paths: Paths): { lake: Lake; arrivals: Lake } {
  let found = lakes.get(paths);
  if (!found) {
    const storage = openStorage(paths);
    lakes.set(paths, (found = { lake: new Lake(storage.lake), arrivals: new Lake(storage.arrivals) }));
  }
  return found;
}

/** The lake of the storage `paths` describes. */
export function openLake(paths: Paths): Lake {
  return lakesOf(paths).lake;
}

/** The flights demo's arrivals: weeks prepared by the bootstrap, not yet released into the lake. */
export function openArrivals(paths: Paths): Lake {
  return lakesOf(paths).arrivals;
}
