// Batch predictions in the store's predictions area, partitioned like the lake, one object per
// (model version, partition):
//
//   <model>/<key>=<value>/v<version>.parquet          written whole under its final key
//   <model>/_scored/v<version>/<key>=<value>.json     written after it: the partition is scored
//   <model>/_manifests/<run>.json                     what each batch run did, written last
//
// "Which partitions has version v scored" is read from the `_scored` markers, never from a
// listing of data objects, so an output a killed writer left half-stored is never counted.
// Each row carries its source row's key (lake file by its name in the dataset, row number in
// that file), the raw columns known at prediction time, the model version and the prediction.
import type { Paths } from '../core/config.js';
import { isValidName } from '../core/spec.js';
import { FileStore } from './file-store.js';
import { openStorage } from './index.js';
import { getJson, joinKey, putJson, type ObjectStore } from './object-store.js';

/** The key of a prediction's source row: the lake file (its name in the dataset) and the row in it. */
export const SOURCE_FILE = 'source_file';
export const SOURCE_ROW = 'source_row';
export const MODEL_VERSION_COLUMN = 'model_version';
/** The model's inputs for the row, as it saw them (a struct with one field per feature). */
export const FEATURES_COLUMN = 'features';

interface ScoredMarker {
  readonly key: string;
  readonly rows: number;
  readonly bytes: number;
  readonly scoredAt: string;
}

const folderOf = (key: string, value: string): string => {
  if (!/^[A-Za-z0-9_.:%-]+$/.test(value) || value.startsWith('.')) throw new Error(`invalid partition value '${value}'`);
  return `${key}=${value}`;
};

const modelKey = (model: string): string => {
  if (!isValidName(model)) throw new Error(`invalid model name '${model}'`);
  return model;
};

export class Predictions {
  constructor(readonly store: ObjectStore) {}

  /** The key of a version's predictions for one partition. */
  fileKey(model: string, key: string, value: string, version: number): string {
    return joinKey(modelKey(model), folderOf(key, value), `v${version}.parquet`);
  }

  private markerKey(model: string, key: string, value: string, version: number): string {
    return joinKey(modelKey(model), '_scored', `v${version}`, `${folderOf(key, value)}.json`);
  }

  /** Rows in the version's complete output for the partition, or undefined when it has none. */
  async scoredRows(model: string, key: string, value: string, version: number): Promise<number | undefined> {
    return (await getJson<ScoredMarker>(this.store, this.markerKey(model, key, value, version)))?.value.rows;
  }

  /** Store a finished output, then its marker: from then on the partition counts as scored. Returns the key. */
  async publish(model: string, key: string, value: string, version: number, file: string, rows: number): Promise<string> {
    const fileKey = this.fileKey(model, key, value, version);
    const stored = await this.store.putFile(fileKey, file);
    const marker: ScoredMarker = { key: fileKey, rows, bytes: stored.size, scoredAt: new Date().toISOString() };
    await putJson(this.store, this.markerKey(model, key, value, version), marker);
    return fileKey;
  }

  /** The partitions that `version` has a complete output for. */
  async scoredPartitions(model: string, key: string, version: number): Promise<Set<string>> {
    const prefix = `${joinKey(modelKey(model), '_scored', `v${version}`)}/${key}=`;
    const scored = new Set((await this.store.list(prefix)).map((o) => o.key.slice(prefix.length, -'.json'.length)));
    if (this.store instanceof FileStore) {
      // Outputs from before markers: on a folder store each was renamed into place complete.
      for (const folder of await this.store.children(`${modelKey(model)}/`)) {
        if (folder.startsWith(`${key}=`) && (await this.store.head(joinKey(model, folder, `v${version}.parquet`)))) scored.add(folder.slice(key.length + 1));
      }
    }
    return scored;
  }

  /** A local file with the version's output for the partition (DuckDB reads paths). */
  async localFile(model: string, key: string, value: string, version: number): Promise<string> {
    const fileKey = this.fileKey(model, key, value, version);
    const file = await this.store.localFile(fileKey);
    if (!file) throw new Error(`${this.store.location}/${fileKey} is missing, though its partition is marked scored`);
    return file;
  }

  /** Record what a batch run did (written last: the run's commit point). Returns the key. */
  async writeRunManifest(model: string, workflowId: string, manifest: unknown): Promise<string> {
    const key = joinKey(modelKey(model), '_manifests', `${workflowId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
    await putJson(this.store, key, manifest);
    return key;
  }
}

const opened = new WeakMap<Paths, Predictions>();

export function openPredictions(paths: Paths): Predictions {
  let found = opened.get(paths);
  if (!found) opened.set(paths, (found = new Predictions(openStorage(paths).predictions)));
  return found;
}

/** The partitions that `version` of `model` has a complete output for. */
export function scoredPartitions(paths: Paths, model: string, key: string, version: number): Promise<Set<string>> {
  return openPredictions(paths).scoredPartitions(model, key, version);
}
