// A version's holdout, read again as its evaluation reads it: the data and feature SQL its run
// pinned, its holdout partitions from the lake (each with its views' history), and for a random
// split the holdout side cut out of them the way its card says. And the version's registered
// ONNX file, checked against its card and loaded by onnxruntime. The evaluation activity and the
// console's curves both read through here, so they score the same rows.
import type { Paths } from '../core/config.js';
import { CorruptModelError, DataContractViolation, errorMessage, namingSqlFile } from '../core/errors.js';
import { readLabeledFeatures, readLabeledRows } from '../core/features.js';
import { loadSession, type InferenceSession } from '../core/inference.js';
import type { LoadedSpec } from '../core/spec.js';
import { sideRows, splitQuery } from '../core/split.js';
import type { LabeledTable } from '../ml/table.js';
import { historySource, openLake } from './lake.js';
import { openRegistry, type ModelCard } from './registry.js';
import { runSpec } from './spec-pins.js';

export interface Holdout {
  /** The spec as the version's run pinned it. */
  readonly loaded: LoadedSpec;
  readonly partitions: readonly string[];
  readonly table: LabeledTable;
}

/** The labelled holdout rows of `card`'s version; a partition gone from the lake is a DataContractViolation naming it. */
export async function readHoldout(paths: Paths, card: ModelCard, onStage: (details: Record<string, unknown>) => void = () => {}): Promise<Holdout> {
  const loaded = await runSpec(paths, card.model, card.lineage.specSha256);
  const { spec } = loaded;
  const partitions = card.lineage.dataset.holdoutPartitions;
  const lake = openLake(paths);
  const available = await lake.partitions(spec.dataset.name, spec.dataset.partitionKey);
  const lakeFiles = partitions.flatMap((value) => {
    const found = available.find((p) => p.value === value);
    if (!found) {
      throw new DataContractViolation('empty', `holdout partition ${spec.dataset.partitionKey}=${value} of v${card.version} is no longer in the lake`, lake.location(spec.dataset.name));
    }
    return found.files;
  });
  const files = await lake.localFiles(lakeFiles);
  onStage({ stage: 'reading holdout', partitions });
  const split = card.lineage.dataset.split;
  const table = await namingSqlFile(spec.features.sql, async () => {
    const history = await historySource(lake, loaded, partitions);
    return split?.by === 'random'
      ? readLabeledRows(loaded, sideRows(`(${await splitQuery(paths.sqlDir, loaded, files, split, history)})`, 'holdout'))
      : readLabeledFeatures(loaded, files, undefined, history);
  });
  return { loaded, partitions, table };
}

/** The version's model file, checked against its card's hash and loaded by onnxruntime. */
export async function openVersionSession(paths: Paths, card: ModelCard): Promise<InferenceSession> {
  const registry = openRegistry(paths);
  const bytes = await registry.readVerifiedModel(card);
  try {
    return await loadSession(bytes);
  } catch (err) {
    throw new CorruptModelError(registry.modelLocation(card.model, card.version), `onnxruntime cannot load it: ${errorMessage(err)}`);
  }
}
