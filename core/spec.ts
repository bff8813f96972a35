// Model specs: a model is declared by models/<name>.json plus its feature SQL, never coded.
// Loading validates every field and names the file and field that is wrong.
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { AdditiveLogisticConfig } from '../ml/additive-logistic.js';
import { InvalidSpecError, UnknownModelError } from './errors.js';

/** DuckDB column types a dataset may declare (what the lake's Parquet files hold). */
export const COLUMN_TYPES = ['TIMESTAMP', 'DATE', 'BIGINT', 'INTEGER', 'DOUBLE', 'FLOAT', 'VARCHAR', 'BOOLEAN'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export interface DatasetColumn {
  readonly name: string;
  readonly type: ColumnType;
  readonly description?: string;
  /** False for outcome columns (e.g. the delay) that a prediction request cannot know. */
  readonly knownAtPrediction: boolean;
}

export interface DataContract {
  /** Largest share of NULLs allowed in any declared column, per file. */
  readonly maxNullRate: number;
  readonly minRowsPerPartition: number;
  /** A partition may hold at most this much fewer rows than the median partition (0.5 = half). */
  readonly maxVolumeDrop: number;
  /** Allowed share of positive labels in the training window (binary tasks). */
  readonly labelRate?: { readonly min: number; readonly max: number };
}

export type FeatureKind = 'numeric' | 'categorical';

export interface FeatureColumn {
  readonly name: string;
  readonly kind: FeatureKind;
}

export interface PromotionGate {
  readonly metric: 'auc' | 'logLoss' | 'accuracy';
  /** For auc/accuracy the smallest value allowed; for logLoss the largest. */
  readonly min?: number;
  readonly max?: number;
  /** The candidate must do better than predicting the training base rate for everyone. */
  readonly mustBeatBaseline: boolean;
}

export interface ModelSpec {
  readonly name: string;
  readonly description: string;
  /** Free text: why the spec is the way it is. */
  readonly notes?: string;
  readonly task: 'binary';
  readonly dataset: {
    readonly name: string;
    readonly partitionKey: string;
    readonly columns: readonly DatasetColumn[];
    readonly contract: DataContract;
  };
  readonly features: { readonly sql: string; readonly columns: readonly FeatureColumn[] };
  readonly label: { readonly column: string };
  readonly split: { readonly trainWeeks: number; readonly holdoutWeeks: number };
  readonly trainer: { readonly type: 'additive-logistic'; readonly params: AdditiveLogisticConfig };
  readonly gate: PromotionGate;
  readonly decisionThreshold: number;
}

/** A spec with its feature SQL loaded and both fingerprinted, as recorded in lineage. */
export interface LoadedSpec {
  readonly spec: ModelSpec;
  readonly file: string;
  readonly featureSql: string;
  readonly featureSqlHash: string;
  readonly specHash: string;
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/;

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

export async function listModels(modelsDir: string): Promise<string[]> {
  const entries = await readdir(modelsDir).catch(() => [] as string[]);
  return entries
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .filter(isValidName)
    .sort();
}

export async function loadSpec(modelsDir: string, sqlDir: string, model: string): Promise<LoadedSpec> {
  // Names are checked before they touch the file system, so no request can reach outside models/.
  const known = await listModels(modelsDir);
  if (!isValidName(model) || !known.includes(model)) throw new UnknownModelError(model, known);
  const file = path.join(modelsDir, `${model}.json`);
  const text = await readFile(file, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidSpecError(file, '(file)', `not valid JSON: ${(err as Error).message}`);
  }
  const spec = parseSpec(raw, file);
  if (spec.name !== model) throw new InvalidSpecError(file, 'name', `must equal the file name '${model}'`);
  const sqlFile = path.resolve(sqlDir, spec.features.sql);
  if (!sqlFile.startsWith(path.resolve(sqlDir) + path.sep)) {
    throw new InvalidSpecError(file, 'features.sql', 'must be a path inside sql/');
  }
  const featureSql = await readFile(sqlFile, 'utf8').catch(() => {
    throw new InvalidSpecError(file, 'features.sql', `file not found: ${sqlFile}`);
  });
  return { spec, file, featureSql, featureSqlHash: sha256(featureSql), specHash: sha256(text) };
}

export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Columns a prediction request must supply: the dataset's columns known at prediction time. */
export function requestColumns(spec: ModelSpec): DatasetColumn[] {
  return spec.dataset.columns.filter((c) => c.knownAtPrediction);
}

// ---- validation: small readers that name the field they reject ----------------------------

class Reader {
  constructor(readonly file: string) {}
  fail(field: string, problem: string): never {
    throw new InvalidSpecError(this.file, field, problem);
  }
  object(v: unknown, field: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'must be an object');
    return v as Record<string, unknown>;
  }
  string(v: unknown, field: string): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(field, 'must be a non-empty string');
    return v;
  }
  number(v: unknown, field: string, min: number, max = Number.POSITIVE_INFINITY): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      this.fail(field, `must be a number in [${min}, ${max}]`);
    }
    return v;
  }
  integer(v: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const n = this.number(v, field, min, max);
    if (!Number.isInteger(n)) this.fail(field, 'must be an integer');
    return n;
  }
  oneOf<T extends string>(v: unknown, field: string, options: readonly T[]): T {
    if (typeof v !== 'string' || !options.includes(v as T)) this.fail(field, `must be one of ${options.join(', ')}`);
    return v as T;
  }
  array(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v) || v.length === 0) this.fail(field, 'must be a non-empty array');
    return v;
  }
}

export function parseSpec(raw: unknown, file: string): ModelSpec {
  const r = new Reader(file);
  const o = r.object(raw, '(root)');
  const name = r.string(o.name, 'name');
  if (!isValidName(name)) r.fail('name', 'must match [a-z][a-z0-9_]*');
  const task = r.oneOf(o.task, 'task', ['binary'] as const);

  const ds = r.object(o.dataset, 'dataset');
  const datasetName = r.string(ds.name, 'dataset.name');
  if (!isValidName(datasetName)) r.fail('dataset.name', 'must match [a-z][a-z0-9_]*');
  const columns = r.array(ds.columns, 'dataset.columns').map((c, i): DatasetColumn => {
    const co = r.object(c, `dataset.columns[${i}]`);
    const colName = r.string(co.name, `dataset.columns[${i}].name`);
    if (!/^[a-z_][a-z0-9_]*$/.test(colName)) r.fail(`dataset.columns[${i}].name`, 'must be a lower-case identifier');
    return {
      name: colName,
      type: r.oneOf(co.type, `dataset.columns[${i}].type`, COLUMN_TYPES),
      description: typeof co.description === 'string' ? co.description : undefined,
      knownAtPrediction: co.knownAtPrediction !== false,
    };
  });
  const ct = r.object(ds.contract, 'dataset.contract');
  const labelRate = ct.labelRate === undefined ? undefined : r.object(ct.labelRate, 'dataset.contract.labelRate');
  const contract: DataContract = {
    maxNullRate: r.number(ct.maxNullRate, 'dataset.contract.maxNullRate', 0, 1),
    minRowsPerPartition: r.integer(ct.minRowsPerPartition, 'dataset.contract.minRowsPerPartition', 1),
    maxVolumeDrop: r.number(ct.maxVolumeDrop, 'dataset.contract.maxVolumeDrop', 0, 1),
    labelRate: labelRate && {
      min: r.number(labelRate.min, 'dataset.contract.labelRate.min', 0, 1),
      max: r.number(labelRate.max, 'dataset.contract.labelRate.max', 0, 1),
    },
  };

  const fe = r.object(o.features, 'features');
  const featureColumns = r.array(fe.columns, 'features.columns').map((c, i): FeatureColumn => {
    const co = r.object(c, `features.columns[${i}]`);
    const colName = r.string(co.name, `features.columns[${i}].name`);
    if (!/^[a-z_][a-z0-9_]*$/.test(colName)) r.fail(`features.columns[${i}].name`, 'must be a lower-case identifier');
    return { name: colName, kind: r.oneOf(co.kind, `features.columns[${i}].kind`, ['numeric', 'categorical'] as const) };
  });
  const labelObj = r.object(o.label, 'label');
  const split = r.object(o.split, 'split');
  const trainer = r.object(o.trainer, 'trainer');
  const p = r.object(trainer.params, 'trainer.params');
  const gate = r.object(o.gate, 'gate');

  return {
    name,
    description: typeof o.description === 'string' ? o.description : '',
    notes: typeof o.notes === 'string' ? o.notes : undefined,
    task,
    dataset: { name: datasetName, partitionKey: r.string(ds.partitionKey, 'dataset.partitionKey'), columns, contract },
    features: { sql: r.string(fe.sql, 'features.sql'), columns: featureColumns },
    label: { column: r.string(labelObj.column, 'label.column') },
    split: {
      trainWeeks: r.integer(split.trainWeeks, 'split.trainWeeks', 1),
      holdoutWeeks: r.integer(split.holdoutWeeks, 'split.holdoutWeeks', 1),
    },
    trainer: {
      type: r.oneOf(trainer.type, 'trainer.type', ['additive-logistic'] as const),
      params: {
        epochs: r.integer(p.epochs, 'trainer.params.epochs', 1, 1000),
        batchSize: r.integer(p.batchSize, 'trainer.params.batchSize', 1, 1 << 20),
        learningRate: r.number(p.learningRate, 'trainer.params.learningRate', 1e-9, 10),
        l2: r.number(p.l2, 'trainer.params.l2', 0, 10),
        numericBins: r.integer(p.numericBins, 'trainer.params.numericBins', 2, 255),
        minCategoryCount: r.integer(p.minCategoryCount, 'trainer.params.minCategoryCount', 1),
        seed: r.integer(p.seed, 'trainer.params.seed', 0),
      },
    },
    gate: {
      metric: r.oneOf(gate.metric, 'gate.metric', ['auc', 'logLoss', 'accuracy'] as const),
      min: gate.min === undefined ? undefined : r.number(gate.min, 'gate.min', Number.NEGATIVE_INFINITY),
      max: gate.max === undefined ? undefined : r.number(gate.max, 'gate.max', Number.NEGATIVE_INFINITY),
      mustBeatBaseline: gate.mustBeatBaseline !== false,
    },
    decisionThreshold: o.decisionThreshold === undefined ? 0.5 : r.number(o.decisionThreshold, 'decisionThreshold', 0, 1),
  };
}
