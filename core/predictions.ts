// Batch predictions on disk, partitioned like the lake, one file per (model version, partition):
//
//   <predictions>/<model>/<key>=<value>/v<version>.parquet    written whole, then renamed
//   <predictions>/<model>/_manifests/<run>.json                what each batch run did
//
// A file exists only once it is complete (writers use a dot-named temporary name and rename),
// so "which partitions has version v scored" is "which files exist". Each row carries its
// source row's key (lake file relative to the dataset, row number in that file), the raw
// columns known at prediction time, the model version and the prediction.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Paths } from './config.js';
import { isValidName } from './spec.js';

/** The key of a prediction's source row: the lake file (relative to the dataset folder) and the row in it. */
export const SOURCE_FILE = 'source_file';
export const SOURCE_ROW = 'source_row';
export const MODEL_VERSION_COLUMN = 'model_version';
/** The model's inputs for the row, as it saw them (a struct with one field per feature). */
export const FEATURES_COLUMN = 'features';

export function modelPredictionsDir(paths: Paths, model: string): string {
  if (!isValidName(model)) throw new Error(`invalid model name '${model}'`);
  return path.join(paths.predictionsDir, model);
}

export function partitionDir(paths: Paths, model: string, key: string, value: string): string {
  if (!/^[A-Za-z0-9_.:-]+$/.test(value) || value.startsWith('.')) throw new Error(`invalid partition value '${value}'`);
  return path.join(modelPredictionsDir(paths, model), `${key}=${value}`);
}

export function predictionFile(paths: Paths, model: string, key: string, value: string, version: number): string {
  return path.join(partitionDir(paths, model, key, value), `v${version}.parquet`);
}

export function manifestDir(paths: Paths, model: string): string {
  return path.join(modelPredictionsDir(paths, model), '_manifests');
}

/** The partitions that `version` has a complete prediction file for. */
export async function scoredPartitions(paths: Paths, model: string, key: string, version: number): Promise<Set<string>> {
  const root = modelPredictionsDir(paths, model);
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const scored = new Set<string>();
  for (const e of entries) {
    if (!e.isDirectory() || !e.name.startsWith(`${key}=`)) continue;
    const files = await readdir(path.join(root, e.name)).catch(() => [] as string[]);
    if (files.includes(`v${version}.parquet`)) scored.add(e.name.slice(key.length + 1));
  }
  return scored;
}
