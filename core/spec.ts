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
import { displayPath, isValidColumnName, loadDataset, parseDataset, type DatasetColumn, type DatasetSpec } from './dataset.js';
import { parseViews, type FeatureView, type ViewTexts } from './views.js';

export { COLUMN_TYPES, isNumericType, type ColumnType, type DataContract, type DatasetColumn, type DatasetSpec } from './dataset.js';

/** The positive labels' share a binary model's training window must have (a data contract of the model). */
export interface LabelRate {
  readonly min: number;
  readonly max: number;
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
  /** The dataset it learns from, as declared in datasets/<name>.json. */
  readonly dataset: DatasetSpec;
  readonly features: {
    readonly sql: string;
    readonly columns: readonly FeatureColumn[];
    /** The feature SQL's output column holding each row's time: views are joined as of it. Set when there are views. */
    readonly time?: string;
    /** Feature views joined to the feature SQL's rows by entity, as of each row's time (core/views.ts). */
    readonly views: readonly FeatureView[];
  };
  /**
   * For multiclass, `classes` lists the label's values; the model outputs one probability each.
   * For binary, `rate` bounds the share of positive labels a training window may have.
   */
  readonly label: { readonly column: string; readonly classes?: readonly string[]; readonly rate?: LabelRate };
  readonly split: SplitSpec;
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

/**
 * Which rows train, stop early and judge:
 * - `partition`: newest partitions last; train on the oldest (`all`: every older partition), stop
 *   early on the next, judge on the newest. For data that arrives over time.
 * - `random`: every row of the partitions used gets a side by a seeded hash of its `key` columns
 *   (or of the whole row), so a row keeps its side from one retrain to the next; `stratify`
 *   keeps each class's share on every side. `folds` adds k-fold cross-validation over the
 *   training and validation rows, reported with its spread. For data without time.
 */
export type SplitSpec =
  | {
      readonly by: 'partition';
      readonly trainPartitions: number | 'all';
      readonly validationPartitions: number;
      readonly holdoutPartitions: number;
    }
  | {
      readonly by: 'random';
      readonly validation: number;
      readonly holdout: number;
      readonly seed: number;
      readonly stratify: boolean;
      readonly key?: readonly string[];
      /** The newest partitions to use, or `all`. */
      readonly partitions: number | 'all';
      readonly folds?: number;
    };

/** Where specs are read from. */
export interface SpecDirs {
  readonly modelsDir: string;
  readonly datasetsDir: string;
  readonly sqlDir: string;
}

/** A spec with its dataset and feature SQL loaded, all fingerprinted, as recorded in lineage. */
export interface LoadedSpec {
  readonly spec: ModelSpec;
  readonly file: string;
  /** The file as errors name it: relative to the folder above models/ (`models/x.json`). */
  readonly shownFile: string;
  readonly featureSql: string;
  readonly featureSqlHash: string;
  /** sha256 over the spec, its dataset's declaration and its feature SQL: what a run pins. */
  readonly specHash: string;
  /** The texts the hash was taken of, so a run can keep exactly what it started with. */
  readonly texts: SpecTexts;
  /** Each view's SQL texts, by view name. */
  readonly viewTexts: ReadonlyMap<string, ViewTexts>;
}

export interface SpecTexts {
  readonly spec: string;
  readonly dataset: string;
  readonly featureSql: string;
  /** The views' SQL files (queries and knownAt), by sql/ path; absent without views. */
  readonly viewSql?: Readonly<Record<string, string>>;
}

/** A model name, as a piece of a regular expression: ids made from names (schedules) match it too. */
export const MODEL_NAME = '[a-z][a-z0-9_]{0,62}';
export const MODEL_NAME_PATTERN = new RegExp(`^${MODEL_NAME}$`);

export function isValidName(name: string): boolean {
  return MODEL_NAME_PATTERN.test(name);
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
export async function loadAllSpecs(dirs: SpecDirs): Promise<SpecOrError[]> {
  const out: SpecOrError[] = [];
  for (const name of await listModels(dirs.modelsDir)) {
    try {
      out.push({ name, spec: (await loadSpec(dirs, name)).spec });
    } catch (err) {
      out.push({ name, error: errorMessage(err) });
    }
  }
  return out;
}

export async function loadSpec(dirs: SpecDirs, model: string): Promise<LoadedSpec> {
  // Names are checked before they touch the file system, so no request can reach outside models/.
  const known = await listModels(dirs.modelsDir);
  if (!isValidName(model) || !known.includes(model)) throw new UnknownModelError(model, known);
  const file = path.join(dirs.modelsDir, `${model}.json`);
  const text = await readFile(file, 'utf8');
  return specFromTexts(dirs, model, file, text, async (name, field) => (await loadDataset(dirs.datasetsDir, name, { file: shownPath(dirs, file), field })).text, async (sql, field) => {
    const sqlFile = path.resolve(dirs.sqlDir, sql);
    if (!sqlFile.startsWith(path.resolve(dirs.sqlDir) + path.sep)) throw new InvalidSpecError(shownPath(dirs, file), field, 'must be a path inside sql/');
    return readFile(sqlFile, 'utf8').catch(() => {
      throw new InvalidSpecError(shownPath(dirs, file), field, `file not found: ${shownPath(dirs, sqlFile)}`);
    });
  });
}

/** A spec's file as a person finds it: `models/x.json`, never a server's absolute path. */
function shownPath(dirs: SpecDirs, file: string): string {
  return displayPath(file, path.dirname(dirs.modelsDir));
}

/**
 * A spec from its texts: the spec's own, and readers for its dataset declaration and feature
 * SQL (from the folders, or from what a run pinned).
 */
export async function specFromTexts(
  dirs: Pick<SpecDirs, 'modelsDir'>,
  model: string,
  file: string,
  text: string,
  readDataset: (name: string, field: string) => Promise<string>,
  readSql: (sql: string, field: string) => Promise<string>,
): Promise<LoadedSpec> {
  const shown = displayPath(file, path.dirname(dirs.modelsDir));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidSpecError(shown, '(file)', `not valid JSON: ${(err as Error).message}`);
  }
  const r = new Reader(shown);
  const o = r.object(raw, '(root)');
  const datasetName = r.string(o.dataset, 'dataset');
  const datasetText = await readDataset(datasetName, 'dataset');
  const dataset = parseDataset(JSON.parse(datasetText), `datasets/${datasetName}.json`);
  const spec = parseSpec(raw, shown, dataset);
  if (spec.name !== model) throw new InvalidSpecError(shown, 'name', `must equal the file name '${model}'`);
  const featureSql = await readSql(spec.features.sql, 'features.sql');
  const viewSql: Record<string, string> = {};
  const viewTexts = new Map<string, ViewTexts>();
  for (const [i, view] of spec.features.views.entries()) {
    viewSql[view.sql] ??= await readSql(view.sql, `features.views[${i}].sql`);
    viewSql[view.knownAt] ??= await readSql(view.knownAt, `features.views[${i}].knownAt`);
    viewTexts.set(view.name, { sql: viewSql[view.sql]!, knownAt: viewSql[view.knownAt]! });
  }
  const texts = { spec: text, dataset: datasetText, featureSql, ...(spec.features.views.length ? { viewSql } : {}) };
  return { spec, file, shownFile: shown, featureSql, featureSqlHash: sha256(featureSql), specHash: specHashOf(texts), texts, viewTexts };
}

/** The fingerprint of a spec, its dataset, its feature SQL and its views' SQL together. */
export function specHashOf(texts: SpecTexts): string {
  const views = Object.entries(texts.viewSql ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([file, sql]) => `\n${file}:${sha256(sql)}`)
    .join('');
  return sha256(`${sha256(texts.spec)}\n${sha256(texts.dataset)}\n${sha256(texts.featureSql)}${views}`);
}

export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Columns a prediction request must supply: the dataset's columns known at prediction time. */
export function requestColumns(spec: ModelSpec): DatasetColumn[] {
  return spec.dataset.columns.filter((c) => c.knownAtPrediction);
}

export function parseSpec(raw: unknown, file: string, dataset: DatasetSpec): ModelSpec {
  const r = new Reader(file);
  const o = r.strictObject(raw, '(root)', ['name', 'description', 'notes', 'task', 'dataset', 'features', 'label', 'split', 'trainer', 'gate', 'approval', 'decisionThreshold', 'batch', 'monitoring', 'schedules']);
  const name = r.string(o.name, 'name');
  if (!isValidName(name)) r.fail('name', 'must match [a-z][a-z0-9_]*');
  const task = r.oneOf(o.task, 'task', TASK_NAMES);
  if (r.string(o.dataset, 'dataset') !== dataset.name) r.fail('dataset', `names '${String(o.dataset)}', but the declaration read is '${dataset.name}'`);

  const fe = r.strictObject(o.features, 'features', ['sql', 'columns', 'time', 'views']);
  const views = parseViews(r, fe.views);
  const time = fe.time === undefined ? undefined : r.string(fe.time, 'features.time');
  if (time !== undefined && !isValidColumnName(time)) r.fail('features.time', 'must be a lower-case identifier');
  if (views.length && time === undefined) r.fail('features.time', "names the feature SQL's column holding each row's time, as of which its views are joined");
  const viewValues = new Map(views.flatMap((v) => v.values.map((c) => [c.name, v.name] as const)));
  if (viewValues.size !== views.reduce((n, v) => n + v.values.length, 0)) r.fail('features.views', 'two views output a value of the same name');
  const featureColumns = r.array(fe.columns, 'features.columns').map((c, i): FeatureColumn => {
    const co = r.strictObject(c, `features.columns[${i}]`, ['name', 'kind']);
    const colName = r.string(co.name, `features.columns[${i}].name`);
    if (!isValidColumnName(colName)) r.fail(`features.columns[${i}].name`, 'must be a lower-case identifier');
    return { name: colName, kind: r.oneOf(co.kind, `features.columns[${i}].kind`, ['numeric', 'categorical'] as const) };
  });
  featureColumns.forEach((c, i) => {
    if (featureColumns.findIndex((d) => d.name === c.name) !== i) r.fail(`features.columns[${i}].name`, `'${c.name}' is declared twice`);
  });
  const labelObj = r.strictObject(o.label, 'label', ['column', 'classes', 'rate']);
  const trainer = r.strictObject(o.trainer, 'trainer', ['type', 'params', 'checkpointEvery', 'tuning']);
  const p = r.object(trainer.params, 'trainer.params');
  const gate = r.strictObject(o.gate, 'gate', GATE_FIELDS);

  const classes =
    labelObj.classes === undefined ? undefined : r.array(labelObj.classes, 'label.classes').map((c, i) => r.string(c, `label.classes[${i}]`));
  const classProblem = taskKind(task).checkClasses(classes);
  let labelRate: LabelRate | undefined;
  if (labelObj.rate !== undefined) {
    if (task !== 'binary') r.fail('label.rate', `bounds the share of positive labels, which only a binary task has, not ${task}`);
    const lr = r.strictObject(labelObj.rate, 'label.rate', ['min', 'max']);
    labelRate = { min: r.number(lr.min, 'label.rate.min', 0, 1), max: r.number(lr.max, 'label.rate.max', 0, 1) };
    if (labelRate.min > labelRate.max) r.fail('label.rate.min', `must not be above max (${labelRate.max})`);
  }
  if (classProblem) r.fail('label.classes', classProblem);
  const gateMetric = r.oneOf(gate.metric, 'gate.metric', Object.keys(taskKind(task).metrics));
  const parsedGate = parseGate(r, gate, gateMetric, task);

  return {
    name,
    description: typeof o.description === 'string' ? o.description : '',
    notes: typeof o.notes === 'string' ? o.notes : undefined,
    task,
    dataset,
    features: { sql: r.string(fe.sql, 'features.sql'), columns: featureColumns, ...(time ? { time } : {}), views },
    label: { column: r.string(labelObj.column, 'label.column'), ...(classes ? { classes } : {}), ...(labelRate ? { rate: labelRate } : {}) },
    split: parseSplit(r, o.split, task, dataset),
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

function parseSplit(r: Reader, raw: unknown, task: Task, dataset: DatasetSpec): SplitSpec {
  const o = r.object(raw, 'split');
  const by = o.by === undefined ? 'partition' : r.oneOf(o.by, 'split.by', ['partition', 'random'] as const);
  const partitionCount = (v: unknown, field: string, min: number): number | 'all' => (v === 'all' ? 'all' : r.integer(v, field, min));
  if (by === 'partition') {
    const s = r.strictObject(o, 'split', ['by', 'trainPartitions', 'validationPartitions', 'holdoutPartitions']);
    return {
      by,
      trainPartitions: partitionCount(s.trainPartitions, 'split.trainPartitions', 1),
      validationPartitions: s.validationPartitions === undefined ? 0 : r.integer(s.validationPartitions, 'split.validationPartitions', 0),
      holdoutPartitions: r.integer(s.holdoutPartitions, 'split.holdoutPartitions', 1),
    };
  }
  const s = r.strictObject(o, 'split', ['by', 'validation', 'holdout', 'seed', 'stratify', 'key', 'partitions', 'folds']);
  const validation = s.validation === undefined ? 0 : r.number(s.validation, 'split.validation', 0, 0.9);
  const holdout = r.number(s.holdout, 'split.holdout', 0.01, 0.9);
  if (validation + holdout >= 1) r.fail('split', `validation (${validation}) and holdout (${holdout}) leave no rows to train on`);
  let key: string[] | undefined;
  if (s.key !== undefined) {
    key = (typeof s.key === 'string' ? [s.key] : r.array(s.key, 'split.key')).map((k, i) => {
      const name = r.string(k, `split.key[${i}]`);
      if (!dataset.columns.some((c) => c.name === name)) r.fail(`split.key[${i}]`, `'${name}' is not a column of dataset '${dataset.name}'`);
      return name;
    });
  }
  const calibrated = taskKind(task).calibrated;
  if (s.stratify === true && !calibrated) r.fail('split.stratify', `stratifies by class, which a ${task} task does not have`);
  const folds = s.folds === undefined ? undefined : r.integer(s.folds, 'split.folds', 2, 20);
  return {
    by,
    validation,
    holdout,
    seed: s.seed === undefined ? 0 : r.integer(s.seed, 'split.seed', 0),
    stratify: s.stratify === undefined ? calibrated : r.boolean(s.stratify, 'split.stratify'),
    ...(key ? { key } : {}),
    partitions: s.partitions === undefined ? 'all' : partitionCount(s.partitions, 'split.partitions', 1),
    ...(folds ? { folds } : {}),
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
