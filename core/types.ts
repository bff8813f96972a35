// Payloads passed between workflows and activities, task-queue names and search attributes.
// Pure: workflows import this module, so no Node built-ins here.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { FeatureImportance } from '../ml/gbdt/model.js';
import type { Baseline, Metrics } from '../ml/metrics.js';
import type { GateDecision } from './gate.js';
import type { PromotionOutcome } from './promotion.js';
import type { SplitSpec } from './spec.js';

/** Custom search attributes, registered on the dev server by the launcher and tests. */
export const MODEL_NAME = defineSearchAttributeKey('ModelName', SearchAttributeType.KEYWORD);
export const MODEL_VERSION = defineSearchAttributeKey('ModelVersion', SearchAttributeType.INT);
export const TRAIN_REASON = defineSearchAttributeKey('TrainReason', SearchAttributeType.KEYWORD);
/** A monitoring run's verdict (ok, drift, decay, drift-and-decay, insufficient-data): filter runs by it in the UI. */
export const MONITOR_VERDICT = defineSearchAttributeKey('MonitorVerdict', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTES = [MODEL_NAME, MODEL_VERSION, TRAIN_REASON, MONITOR_VERDICT] as const;

/**
 * The task queue of training activities: the main queue's name with `-training`, so a
 * deployment can run trainers apart from the rest, and workflows need no configuration to
 * find it (they cannot read the environment).
 */
export function trainingTaskQueue(mainTaskQueue: string): string {
  return `${mainTaskQueue}-training`;
}

export interface TrainModelInput {
  readonly model: string;
  /** Why this run started (api, schedule, start-up, drift ...): shown in the UI and lineage. */
  readonly reason?: string;
  /** Who asked for it, recorded on the alias move when the version is promoted. */
  readonly actor?: string;
}

export interface PartitionSnapshot {
  readonly value: string;
  /** Each file by its key in the lake (storage/lake.ts): any host reads it through the store. */
  readonly files: readonly { readonly key: string; readonly rows: number; readonly bytes: number; readonly sha256: string }[];
  readonly rows: number;
}

/** The exact files a run uses, so later arrivals cannot change what it trains on. */
export interface DatasetSnapshot {
  readonly model: string;
  readonly dataset: string;
  readonly partitions: readonly PartitionSnapshot[];
  /** Older partitions in the lake that the split does not use (it names how many it takes). */
  readonly unusedPartitions?: readonly string[];
  readonly rows: number;
  readonly contentHash: string;
  /** The spec the run pinned (storage/spec-pins.ts): every later activity of the run reads it. */
  readonly specHash?: string;
  readonly takenAt: string;
}

export interface ValidationReport {
  readonly files: number;
  readonly rows: number;
  readonly labelRate: number | null;
  readonly nullRates: Readonly<Record<string, number>>;
  readonly checks: readonly string[];
}

/** A run's training set: Parquet objects in the store's work area (storage/work.ts), read by any host. */
export interface TrainingSet {
  /** The run's prefix in the work area. */
  readonly workPrefix: string;
  readonly trainKey: string;
  /** Early stopping watches these rows; null when the spec has no validation partitions. */
  readonly validationKey: string | null;
  readonly holdoutKey: string;
  readonly trainPartitions: readonly string[];
  readonly validationPartitions: readonly string[];
  readonly holdoutPartitions: readonly string[];
  readonly trainRows: number;
  readonly validationRows: number;
  readonly holdoutRows: number;
  /** How the rows were split: evaluations of this version cut the holdout the same way. */
  readonly split?: SplitSpec;
  /** The spec the run pinned. */
  readonly specHash?: string;
}

/** One tuning trial: its number and the parameter values it tried. */
export interface TuningTrial {
  readonly index: number;
  readonly params: Readonly<Record<string, number>>;
}

/** K-fold cross-validation of a spec's trainer on the training and validation rows. */
export interface CrossValidation {
  readonly folds: number;
  readonly metric: string;
  readonly values: readonly number[];
  readonly mean: number;
  readonly std: number;
  /** Rounds each fold trained: the chosen model's best round count. */
  readonly iterations: number;
}

export interface TrainedModel {
  /** The trainer's model (JSON) and its ONNX export, by their keys in the work area. */
  readonly modelKey: string;
  readonly onnxKey: string;
  readonly trial: TuningTrial | null;
  readonly holdout: Metrics;
  /** The naive model from the training labels (base rate, class frequencies or mean). */
  readonly baseline: Baseline;
  /** The validation metric of the final model (what tuning compares), when there is a validation set. */
  readonly validation: { readonly metric: string; readonly value: number } | null;
  readonly iterations: number;
  readonly bestIteration: number | null;
  readonly resumedFromIteration: number;
  /** The activity attempt that finished the training (1 unless it was retried). */
  readonly attempt?: number;
  readonly importance: FeatureImportance & {
    /** Mean |TreeSHAP contribution| to the raw score per feature (summed over classes), over `contributionRows` holdout rows spread evenly. */
    readonly meanAbsContribution?: readonly number[];
    readonly contributionRows?: number;
  };
  /** The loss per round: validation every round, training every few (null between); from the resumed round on after a retry. */
  readonly curve?: TrainingCurve;
  readonly seconds: number;
}

export interface TrainingCurve {
  readonly metric: string;
  readonly iteration: readonly number[];
  readonly train: readonly (number | null)[];
  readonly valid: readonly (number | null)[];
}

export interface ParityReport {
  readonly rows: number;
  readonly maxAbsDiff: number;
  readonly labelMismatches: number;
}

export interface RegisteredVersion {
  readonly model: string;
  readonly version: number;
}

export interface TrainModelResult {
  readonly model: string;
  readonly version: number;
  readonly promoted: boolean;
  readonly champion: number | null;
  readonly holdout: Metrics;
  /** The EvaluateAndPromoteWorkflow child: its id, what it decided and why, check by check. */
  readonly promotion: { readonly workflowId: string; readonly outcome: PromotionOutcome; readonly gate: GateDecision };
  readonly snapshot: { readonly rows: number; readonly contentHash: string; readonly partitions: number };
  readonly training: {
    readonly iterations: number;
    readonly bestIteration: number | null;
    readonly resumedFromIteration: number;
    /** The training activity's attempt that finished (absent in runs recorded before it was kept). */
    readonly attempt?: number;
    readonly seconds: number;
    /** Rows of the snapshot in each split (absent in runs recorded before it was kept). */
    readonly rows?: { readonly train: number; readonly validation: number; readonly holdout: number };
    /** Tuning: every trial's parameters and validation metric, and which one won. */
    readonly trials?: readonly { readonly trial: TuningTrial; readonly validation: TrainedModel['validation']; readonly chosen: boolean }[];
    readonly crossValidation?: CrossValidation;
  };
}

// ---- batch scoring --------------------------------------------------------------------------

export interface BatchInferenceInput {
  readonly model: string;
  /** Partition values to score, or "new": those the version has not scored yet. */
  readonly partitions: readonly string[] | 'new';
  /** A registered version; the champion when left out (pinned when the run starts). */
  readonly version?: number;
  /** Partitions scored at once; the spec's batch.concurrency when left out. */
  readonly concurrency?: number;
  /** onnxruntime threads per partition; the spec's batch.threads when left out. */
  readonly threads?: number;
  /** Why this run started (schedule, api, monitor ...), shown in the UI. */
  readonly reason?: string;
}

/** One partition to score: its lake files and how many rows they hold. */
export interface PartitionToScore {
  readonly value: string;
  /** Its files by their keys in the lake (storage/lake.ts). */
  readonly files: readonly { readonly key: string; readonly bytes: number; readonly rows?: number; readonly sha256?: string }[];
  readonly rows: number;
}

export interface BatchPlan {
  readonly model: string;
  readonly version: number;
  readonly partitionKey: string;
  readonly partitions: readonly PartitionToScore[];
  readonly concurrency: number;
  readonly threads: number;
}

export interface ScoredPartition {
  readonly partition: string;
  readonly rowsIn: number;
  readonly rowsOut: number;
  readonly file: string;
  /** True when the output for this version and partition was already complete: nothing rewritten. */
  readonly skipped: boolean;
  readonly seconds: number;
  /** Where a scored partition's time went in its thread (absent when skipped). */
  readonly stages?: StageSeconds;
}

/** A scored partition's seconds: the feature query read, onnxruntime, the Parquet write and its publication. */
export interface StageSeconds {
  readonly features: number;
  readonly scoring: number;
  readonly writing: number;
}

export interface BatchInferenceResult {
  readonly model: string;
  readonly version: number;
  readonly partitions: readonly ScoredPartition[];
  readonly rowsIn: number;
  readonly rowsOut: number;
  readonly manifest: string;
}

export interface IngestInput {
  readonly dataset: string;
  /** Absolute paths or globs on the worker's disk. */
  readonly sources: readonly string[];
  /** csv, tsv, json, ndjson or parquet; by each file's extension when absent. */
  readonly format?: string;
  readonly actor?: string;
}

/** A batch checked and written under the dataset's staging folder, not yet in the lake. */
export interface StagedIngest {
  readonly dataset: string;
  /** sha256 over the files' contents: the same files make the same batch, ingested once. */
  readonly contentHash: string;
  readonly files: readonly string[];
  readonly rows: number;
  /** Each partition's new file, stored under its final key but not yet in the partition's manifest. */
  readonly partitions: readonly {
    readonly folder: string;
    readonly value: string;
    readonly file: string;
    readonly rows: number;
    readonly stored: { readonly key: string; readonly bytes: number; readonly sha256: string; readonly rows: number };
  }[];
  /** Raw columns no declared column maps: left out of the lake. */
  readonly ignoredColumns: readonly string[];
  /** True when these contents were ingested before: nothing is written again. */
  readonly alreadyIngested: boolean;
}

export interface IngestResult extends StagedIngest {
  /** Partition folders whose manifests this run added the batch's files to. */
  readonly published: readonly string[];
}

export interface MaterializeInput {
  readonly model: string;
  /**
   * The instant to compute the views as of (`YYYY-MM-DD HH:MM:SS`, taken to the start of each
   * view's grain): a replay, made current even when older than the current snapshot. Left
   * out: as of the newest row known.
   */
  readonly asOf?: string;
  /** Why this run started (schedule, ingest, api), shown in the UI. */
  readonly reason?: string;
  /** The run materializing, recorded in each snapshot (set by the workflow). */
  readonly workflowId?: string;
}

/** One view's snapshot after a materialization: current now, whether this run moved it or not. */
export interface MaterializedView {
  readonly view: string;
  readonly definition: string;
  readonly asOf: string;
  readonly entities: number;
  readonly key: string;
  /** False when it was current already (a retry, or nothing new) or a later one is current. */
  readonly moved: boolean;
}
