// Model specs: a model is declared by models/<name>.json plus its feature SQL, never coded.
// Loading validates every field and names the file and field that is wrong.
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { GBDT_PARAM_BOUNDS, resolveParams, type GbdtParams } from '../ml/gbdt/params.js';
import type { Task } from '../ml/metrics.js';
import { taskKind, TASK_NAMES, type ModelShape } from '../tasks/index.js';
import { errorMessage, InvalidSpecError, UnknownModelError } from './errors.js';
import { parseBatch, parseMonitoring, parseSchedules, type BatchPolicy, type MonitoringPolicy, type SchedulePolicy } from './spec-operations.js';
import { Reader } from './spec-reader.js';

/** DuckDB column types a dataset may declare (what the lake's Parquet files hold). */
export const COLUMN_TYPES = ['TIMESTAMP', 'DATE', 'BIGINT', 'INTEGER', 'DOUBLE', 'FLOAT', 'VARCHAR', 'BOOLEAN'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export interface DatasetColumn {
  readonly name: string;
  readonly type: ColumnType;
  readonly description?: string;
  /** A typical raw value, as a request would send it: shown in the API's documentation. */
  readonly example?: string;
  /** False for outcome columns (e.g. the delay) that a prediction request cannot know. */
  readonly knownAtPrediction: boolean;
  /** Numeric columns: the smallest and largest value a prediction request may send. */
  readonly min?: number;
  readonly max?: number;
  /** Text columns: a regular expression a request's whole value must match (e.g. ^[A-Z]{3}$). */
  readonly pattern?: string;
}

const NUMERIC_TYPES: readonly ColumnType[] = ['BIGINT', 'INTEGER', 'DOUBLE', 'FLOAT'];
export const isNumericType = (type: ColumnType): boolean => NUMERIC_TYPES.includes(type);

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
  /** One of the task's metrics (tasks/: TaskKind.metrics): auc, logLoss, accuracy, rmse, mae, r2. */
  readonly metric: string;
  readonly min?: number;
  readonly max?: number;
  /** The candidate must do better than the naive model (base rate, class frequencies or mean). */
  readonly mustBeatBaseline: boolean;
  /**
   * Against the current champion on the same holdout, in the metric's better direction: no
   * worse than `tolerance`, or better by at least `margin`.
   */
  readonly champion?: { readonly tolerance: number } | { readonly margin: number };
  /** Classification: expected calibration error of the candidate on the holdout, over `bins` bins. */
  readonly calibration?: { readonly maxEce: number; readonly bins: number };
  /** 99th percentile of one-row onnxruntime latency, measured on the candidate's ONNX file. */
  readonly latency?: { readonly p99Ms: number };
}

/** Whether a person must approve a version that passed the gate before it becomes champion. */
export interface ApprovalPolicy {
  readonly required: boolean;
  /** Without a decision by then, the promotion expires and champion stays where it is. */
  readonly timeoutSeconds: number;
}

/** Trainer parameters a spec may set: every GBDT parameter but the ones the task decides. */
export type TrainerParams = Partial<Omit<GbdtParams, 'objective' | 'numClass'>> & { readonly objective?: string };

export interface TuningSpec {
  /** Trials, each one training run with one value drawn per parameter; the best validation metric wins. */
  readonly trials: number;
  /** Trials run at once (each is an activity; the worker has its own limit too). */
  readonly parallelism: number;
  readonly seed: number;
  /** Candidate values per parameter. */
  readonly space: Readonly<Record<string, readonly number[]>>;
}

export interface ModelSpec {
  readonly name: string;
  readonly description: string;
  /** Free text: why the spec is the way it is. */
  readonly notes?: string;
  readonly task: Task;
  readonly dataset: {
    readonly name: string;
    readonly partitionKey: string;
    readonly columns: readonly DatasetColumn[];
    readonly contract: DataContract;
  };
  readonly features: { readonly sql: string; readonly columns: readonly FeatureColumn[] };
  /** For multiclass, `classes` lists the label's values; the model outputs one probability each. */
  readonly label: { readonly column: string; readonly classes?: readonly string[] };
  /** Newest partitions last: train on the oldest, stop early on the next, judge on the newest. */
  readonly split: { readonly trainPartitions: number; readonly validationPartitions: number; readonly holdoutPartitions: number };
  readonly trainer: {
    readonly type: 'gbdt';
    readonly params: TrainerParams;
    /** Write a checkpoint every this many rounds: a retried training resumes from it. */
    readonly checkpointEvery: number;
    readonly tuning?: TuningSpec;
  };
  readonly gate: PromotionGate;
  readonly approval: ApprovalPolicy;
  /** Binary only: probability at or above which the predicted label is true. */
  readonly decisionThreshold: number;
  readonly batch: BatchPolicy;
  readonly monitoring: MonitoringPolicy;
  readonly schedules: SchedulePolicy;
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
  let entries: string[];
  try {
    entries = await readdir(modelsDir);
  } catch (err) {
    throw new Error(`cannot read the model specs folder ${modelsDir} (MLOPS_MODELS_DIR): ${errorMessage(err)}`);
  }
  return entries
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .filter(isValidName)
    .sort();
}

/** A declared model's spec, or why it does not load. */
export type SpecOrError = { readonly name: string; readonly spec: ModelSpec; readonly error?: undefined } | { readonly name: string; readonly spec?: undefined; readonly error: string };

/** Every declared model's spec, each spec that does not load with its error instead: one broken file never hides the others. */
export async function loadAllSpecs(modelsDir: string, sqlDir: string): Promise<SpecOrError[]> {
  const out: SpecOrError[] = [];
  for (const name of await listModels(modelsDir)) {
    try {
      out.push({ name, spec: (await loadSpec(modelsDir, sqlDir, name)).spec });
    } catch (err) {
      out.push({ name, error: errorMessage(err) });
    }
  }
  return out;
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

export function parseSpec(raw: unknown, file: string): ModelSpec {
  const r = new Reader(file);
  const o = r.strictObject(raw, '(root)', ['name', 'description', 'notes', 'task', 'dataset', 'features', 'label', 'split', 'trainer', 'gate', 'approval', 'decisionThreshold', 'batch', 'monitoring', 'schedules']);
  const name = r.string(o.name, 'name');
  if (!isValidName(name)) r.fail('name', 'must match [a-z][a-z0-9_]*');
  const task = r.oneOf(o.task, 'task', TASK_NAMES);

  const ds = r.strictObject(o.dataset, 'dataset', ['name', 'partitionKey', 'columns', 'contract']);
  const datasetName = r.string(ds.name, 'dataset.name');
  if (!isValidName(datasetName)) r.fail('dataset.name', 'must match [a-z][a-z0-9_]*');
  const columns = r.array(ds.columns, 'dataset.columns').map((c, i): DatasetColumn => {
    const co = r.strictObject(c, `dataset.columns[${i}]`, ['name', 'type', 'description', 'example', 'knownAtPrediction', 'min', 'max', 'pattern']);
    const field = `dataset.columns[${i}]`;
    const colName = r.string(co.name, `${field}.name`);
    if (!/^[a-z_][a-z0-9_]*$/.test(colName)) r.fail(`${field}.name`, 'must be a lower-case identifier');
    const type = r.oneOf(co.type, `${field}.type`, COLUMN_TYPES);
    const bound = (key: 'min' | 'max') => {
      if (co[key] === undefined) return undefined;
      if (!isNumericType(type)) r.fail(`${field}.${key}`, `applies to numeric columns only, not ${type}`);
      return r.number(co[key], `${field}.${key}`, Number.NEGATIVE_INFINITY);
    };
    const [min, max] = [bound('min'), bound('max')];
    if (min !== undefined && max !== undefined && min > max) r.fail(`${field}.min`, `must not be above max (${max})`);
    let pattern: string | undefined;
    if (co.pattern !== undefined) {
      if (type !== 'VARCHAR') r.fail(`${field}.pattern`, `applies to VARCHAR columns only, not ${type}`);
      pattern = r.string(co.pattern, `${field}.pattern`);
      try {
        new RegExp(pattern, 'u');
      } catch (err) {
        r.fail(`${field}.pattern`, `is not a regular expression: ${errorMessage(err)}`);
      }
    }
    return {
      name: colName,
      type,
      description: typeof co.description === 'string' ? co.description : undefined,
      example: co.example === undefined ? undefined : r.string(co.example, `${field}.example`),
      knownAtPrediction: co.knownAtPrediction !== false,
      ...(min !== undefined ? { min } : {}),
      ...(max !== undefined ? { max } : {}),
      ...(pattern !== undefined ? { pattern } : {}),
    };
  });
  const ct = r.strictObject(ds.contract, 'dataset.contract', ['maxNullRate', 'minRowsPerPartition', 'maxVolumeDrop', 'labelRate']);
  const labelRate = ct.labelRate === undefined ? undefined : r.strictObject(ct.labelRate, 'dataset.contract.labelRate', ['min', 'max']);
  const contract: DataContract = {
    maxNullRate: r.number(ct.maxNullRate, 'dataset.contract.maxNullRate', 0, 1),
    minRowsPerPartition: r.integer(ct.minRowsPerPartition, 'dataset.contract.minRowsPerPartition', 1),
    maxVolumeDrop: r.number(ct.maxVolumeDrop, 'dataset.contract.maxVolumeDrop', 0, 1),
    labelRate: labelRate && {
      min: r.number(labelRate.min, 'dataset.contract.labelRate.min', 0, 1),
      max: r.number(labelRate.max, 'dataset.contract.labelRate.max', 0, 1),
    },
  };

  const fe = r.strictObject(o.features, 'features', ['sql', 'columns']);
  const featureColumns = r.array(fe.columns, 'features.columns').map((c, i): FeatureColumn => {
    const co = r.strictObject(c, `features.columns[${i}]`, ['name', 'kind']);
    const colName = r.string(co.name, `features.columns[${i}].name`);
    if (!/^[a-z_][a-z0-9_]*$/.test(colName)) r.fail(`features.columns[${i}].name`, 'must be a lower-case identifier');
    return { name: colName, kind: r.oneOf(co.kind, `features.columns[${i}].kind`, ['numeric', 'categorical'] as const) };
  });
  const labelObj = r.strictObject(o.label, 'label', ['column', 'classes']);
  const split = r.strictObject(o.split, 'split', ['trainPartitions', 'validationPartitions', 'holdoutPartitions']);
  const trainer = r.strictObject(o.trainer, 'trainer', ['type', 'params', 'checkpointEvery', 'tuning']);
  const p = r.object(trainer.params, 'trainer.params');
  const gate = r.strictObject(o.gate, 'gate', GATE_FIELDS);

  const classes =
    labelObj.classes === undefined ? undefined : r.array(labelObj.classes, 'label.classes').map((c, i) => r.string(c, `label.classes[${i}]`));
  const classProblem = taskKind(task).checkClasses(classes);
  if (classProblem) r.fail('label.classes', classProblem);
  const gateMetric = r.oneOf(gate.metric, 'gate.metric', Object.keys(taskKind(task).metrics));
  const parsedGate = parseGate(r, gate, gateMetric, task);

  return {
    name,
    description: typeof o.description === 'string' ? o.description : '',
    notes: typeof o.notes === 'string' ? o.notes : undefined,
    task,
    dataset: { name: datasetName, partitionKey: r.string(ds.partitionKey, 'dataset.partitionKey'), columns, contract },
    features: { sql: r.string(fe.sql, 'features.sql'), columns: featureColumns },
    label: { column: r.string(labelObj.column, 'label.column'), ...(classes ? { classes } : {}) },
    split: {
      trainPartitions: r.integer(split.trainPartitions, 'split.trainPartitions', 1),
      validationPartitions: split.validationPartitions === undefined ? 0 : r.integer(split.validationPartitions, 'split.validationPartitions', 0),
      holdoutPartitions: r.integer(split.holdoutPartitions, 'split.holdoutPartitions', 1),
    },
    trainer: {
      type: r.oneOf(trainer.type, 'trainer.type', ['gbdt'] as const),
      params: parseTrainerParams(r, p, task, classes?.length ?? 1),
      checkpointEvery: trainer.checkpointEvery === undefined ? 10 : r.integer(trainer.checkpointEvery, 'trainer.checkpointEvery', 1),
      ...(trainer.tuning === undefined ? {} : { tuning: parseTuning(r, r.strictObject(trainer.tuning, 'trainer.tuning', ['trials', 'parallelism', 'seed', 'space']), p, task, classes?.length ?? 1) }),
    },
    gate: parsedGate,
    approval: parseApproval(r, o.approval),
    decisionThreshold: o.decisionThreshold === undefined ? 0.5 : r.number(o.decisionThreshold, 'decisionThreshold', 0, 1),
    batch: parseBatch(r, o.batch),
    monitoring: parseMonitoring(r, o.monitoring, task, gateMetric, parsedGate.calibration?.maxEce),
    schedules: parseSchedules(r, o.schedules),
  };
}

const GATE_FIELDS = ['metric', 'min', 'max', 'mustBeatBaseline', 'champion', 'calibration', 'latency'];

function parseGate(r: Reader, gate: Record<string, unknown>, metric: string, task: Task): PromotionGate {
  let champion: PromotionGate['champion'];
  if (gate.champion !== undefined) {
    const c = r.strictObject(gate.champion, 'gate.champion', ['tolerance', 'margin']);
    if ((c.tolerance === undefined) === (c.margin === undefined)) {
      r.fail('gate.champion', 'must set exactly one of tolerance (may be this much worse) or margin (must be this much better)');
    }
    champion =
      c.tolerance !== undefined
        ? { tolerance: r.number(c.tolerance, 'gate.champion.tolerance', 0) }
        : { margin: r.number(c.margin, 'gate.champion.margin', 0) };
  }
  let calibration: PromotionGate['calibration'];
  if (gate.calibration !== undefined) {
    if (!taskKind(task).calibrated) r.fail('gate.calibration', `applies to classification tasks only, not ${task}`);
    const c = r.strictObject(gate.calibration, 'gate.calibration', ['maxEce', 'bins']);
    calibration = {
      maxEce: r.number(c.maxEce, 'gate.calibration.maxEce', 0, 1),
      bins: c.bins === undefined ? 10 : r.integer(c.bins, 'gate.calibration.bins', 2, 100),
    };
  }
  const latency = gate.latency === undefined ? undefined : r.strictObject(gate.latency, 'gate.latency', ['p99Ms']);
  return {
    metric,
    min: gate.min === undefined ? undefined : r.number(gate.min, 'gate.min', Number.NEGATIVE_INFINITY),
    max: gate.max === undefined ? undefined : r.number(gate.max, 'gate.max', Number.NEGATIVE_INFINITY),
    mustBeatBaseline: gate.mustBeatBaseline !== false,
    ...(champion ? { champion } : {}),
    ...(calibration ? { calibration } : {}),
    ...(latency ? { latency: { p99Ms: r.number(latency.p99Ms, 'gate.latency.p99Ms', 0.001, 60_000) } } : {}),
  };
}

/** Three days: long enough for a person to look, short enough that a stale candidate expires. */
const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 3 * 24 * 3600;
/**
 * Two weeks: a retrained version waits behind a pending approval, and its wait (a timer every
 * 30 minutes at most) must stay far inside Temporal's history limit; a candidate older than
 * two weekly retrains is stale anyway.
 */
const MAX_APPROVAL_TIMEOUT_SECONDS = 14 * 24 * 3600;

function parseApproval(r: Reader, raw: unknown): ApprovalPolicy {
  if (raw === undefined) return { required: false, timeoutSeconds: DEFAULT_APPROVAL_TIMEOUT_SECONDS };
  const a = r.strictObject(raw, 'approval', ['required', 'timeoutSeconds']);
  if (a.required !== undefined && typeof a.required !== 'boolean') r.fail('approval.required', 'must be true or false');
  return {
    required: a.required === true,
    timeoutSeconds:
      a.timeoutSeconds === undefined ? DEFAULT_APPROVAL_TIMEOUT_SECONDS : r.integer(a.timeoutSeconds, 'approval.timeoutSeconds', 1, MAX_APPROVAL_TIMEOUT_SECONDS),
  };
}

/** Parameter names a spec may set (the task decides objective and numClass). */
const SETTABLE_PARAMS = Object.keys(GBDT_PARAM_BOUNDS).filter((k) => k !== 'numClass');

function parseTrainerParams(r: Reader, p: Record<string, unknown>, task: Task, numClass: number): TrainerParams {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(p)) {
    const field = `trainer.params.${key}`;
    if (key === 'objective') {
      const allowed = taskKind(task).objectives;
      if (typeof value !== 'string' || !allowed.includes(value)) {
        r.fail(field, allowed.length ? `may only be ${allowed.map((o) => `"${o}"`).join(' or ')} for a ${task} task (the task decides the rest)` : `is decided by the ${task} task; leave it out`);
      }
      out.objective = value;
      continue;
    }
    if (!SETTABLE_PARAMS.includes(key)) r.fail(field, `is not a trainer parameter (known: ${SETTABLE_PARAMS.join(', ')})`);
    const [min, max, kind] = GBDT_PARAM_BOUNDS[key as keyof typeof GBDT_PARAM_BOUNDS];
    out[key] = kind === 'int' ? r.integer(value, field, min, max) : r.number(value, field, min, max);
  }
  try {
    resolveParams({ ...out, ...trainerObjective(task, numClass, out as TrainerParams) });
  } catch (err) {
    r.fail('trainer.params', (err as Error).message);
  }
  return out as TrainerParams;
}

function parseTuning(r: Reader, t: Record<string, unknown>, p: Record<string, unknown>, task: Task, numClass: number): TuningSpec {
  const spaceObj = r.object(t.space, 'trainer.tuning.space');
  const space: Record<string, number[]> = {};
  for (const [key, values] of Object.entries(spaceObj)) {
    const field = `trainer.tuning.space.${key}`;
    if (!SETTABLE_PARAMS.includes(key)) r.fail(field, `is not a trainer parameter (known: ${SETTABLE_PARAMS.join(', ')})`);
    const [min, max, kind] = GBDT_PARAM_BOUNDS[key as keyof typeof GBDT_PARAM_BOUNDS];
    space[key] = r.array(values, field).map((v, i) => (kind === 'int' ? r.integer(v, `${field}[${i}]`, min, max) : r.number(v, `${field}[${i}]`, min, max)));
    // Every candidate must make valid parameters together with the rest.
    for (const v of space[key]!) parseTrainerParams(r, { ...p, [key]: v }, task, numClass);
  }
  if (Object.keys(space).length === 0) r.fail('trainer.tuning.space', 'must name at least one parameter');
  return {
    trials: r.integer(t.trials, 'trainer.tuning.trials', 1, 64),
    parallelism: t.parallelism === undefined ? 2 : r.integer(t.parallelism, 'trainer.tuning.parallelism', 1, 16),
    seed: t.seed === undefined ? 0 : r.integer(t.seed, 'trainer.tuning.seed', 0),
    space,
  };
}

/** The objective (and class count) a task trains with. */
export function trainerObjective(task: Task, numClass: number, params: TrainerParams): Pick<GbdtParams, 'objective' | 'numClass'> {
  return taskKind(task).objective(numClass, params.objective);
}

/** What a spec's model outputs depend on: its task, classes and decision threshold. */
export function specShape(spec: ModelSpec): ModelShape {
  return { task: spec.task, classes: spec.label.classes, decisionThreshold: spec.decisionThreshold };
}

/** Complete GBDT parameters for a spec, optionally with a tuning trial's values on top. */
export function gbdtParams(spec: ModelSpec, overrides: Readonly<Record<string, number>> = {}): GbdtParams {
  const params = { ...spec.trainer.params, ...overrides };
  return resolveParams({ ...params, ...trainerObjective(spec.task, spec.label.classes?.length ?? 1, params) });
}
