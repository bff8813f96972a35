// What differs by task (binary, multiclass, regression), as one object per task. Everything
// outside tasks/ asks the task object instead of branching on the task's name: metrics and
// their better direction, the naive baseline, the label's SQL, the decision (threshold or
// argmax), calibration, the prediction columns batch scoring writes and monitoring reads, and
// the /predict answer. A new task is a new module here plus its line in tasks/index.ts.
//
// Two levels, as LightGBM's objective classes: the TaskKind knows what holds for every model
// of the task; `forModel` binds it to one model's shape (its classes and decision threshold).
import type { DuckDBType, DuckDBValue } from '@duckdb/node-api';
import type { Diagnostics } from '../ml/curves.js';
import type { Baseline, Metrics, Task } from '../ml/metrics.js';

export type { Task } from '../ml/metrics.js';

/** What a model's outputs depend on besides its task: a ModelCard or a spec's label and threshold. */
export interface ModelShape {
  readonly task: Task;
  /** Multiclass: the class of each output, in order. */
  readonly classes?: readonly string[] | undefined;
  /** Binary: probability at or above which the label is true. */
  readonly decisionThreshold: number;
}

export type Direction = 'higher' | 'lower';

/** What the served version says about one row, in the shape of its task (GET and POST /predict). */
export type PredictionValue =
  | { readonly probability: number; readonly label: boolean; readonly threshold: number }
  | { readonly probabilities: Readonly<Record<string, number>>; readonly label: string }
  | { readonly prediction: number };

/** A value monitoring compares between reference and window. */
export interface MonitoredValue {
  /** What reports call it. */
  readonly name: string;
  readonly kind: 'numeric' | 'categorical';
  /** SQL over a predictions file's columns. */
  readonly expression: string;
}

/** The trainer objective a task trains with (ml/gbdt's objectives). */
export interface TaskObjective {
  readonly objective: 'binary' | 'multiclass' | 'regression' | 'huber';
  readonly numClass: number;
}

export interface TaskKind {
  readonly name: Task;
  /** Metrics a gate or monitoring may name, and which way is better. */
  readonly metrics: Readonly<Record<string, Direction>>;
  /** The loss early stopping, tuning and the baseline check compare (log loss or RMSE). */
  readonly loss: string;
  /** Whether predictions are probabilities whose calibration can be judged. */
  readonly calibrated: boolean;
  /** How the model's raw scores become its answer: sigmoid (logit), softmax over classes, or as they are. */
  readonly link: 'logit' | 'softmax' | 'identity';
  /** A problem with the spec's `label.classes` for this task, or null. */
  checkClasses(classes: readonly string[] | undefined): string | null;
  /** Objectives a spec may choose in `trainer.params.objective` (the task decides the rest). */
  readonly objectives: readonly string[];
  objective(classes: number, chosen: string | undefined): TaskObjective;
  /** SQL turning the label column into the number the trainer learns (class index for multiclass). */
  labelSql(column: string, classes: readonly string[] | undefined): string;
  /** The naive model, from the training labels. */
  baseline(labels: ArrayLike<number>, classes: number): Baseline;
  /** What the naive model predicts for `rows` rows, in the model's output layout. */
  constantPredictions(baseline: Baseline, rows: number): Float32Array;
  /** The model's loss against the naive model's, and what the naive model is, for people. */
  baselineComparison(m: Metrics): { readonly metric: string; readonly value: number; readonly baseline: number; readonly naive: string };
  /** One line for people: the headline metrics against the naive baseline. */
  describe(m: Metrics): string;
  forModel(shape: ModelShape): ModelTask;
}

/** A task bound to one model's shape. */
export interface ModelTask {
  readonly kind: TaskKind;
  /** Output values per row: classes for multiclass, else one. */
  readonly width: number;
  /** Metrics of predictions (in the output layout) against labels. */
  evaluate(labels: ArrayLike<number>, predictions: ArrayLike<number>, baseline: Baseline): Metrics;
  /** Expected calibration error over `bins` bins; null when the task has no calibration. */
  calibrationError(labels: ArrayLike<number>, predictions: ArrayLike<number>, bins: number): number | null;
  /** Whether two output arrays decide row `r` the same way (label for classifiers; always for regression). */
  sameDecision(a: ArrayLike<number>, b: ArrayLike<number>, r: number): boolean;
  /** Curves, reliability and confusion (classification) or residuals (regression) of predictions against labels, for people. */
  diagnostics(labels: ArrayLike<number>, predictions: ArrayLike<number>): Diagnostics;
  /** Row `r` of the output, as /predict answers it. */
  answer(output: ArrayLike<number>, r: number): PredictionValue;
  /** Names of the columns batch scoring stores the prediction in. */
  readonly predictionColumns: readonly string[];
  /** SELECT expressions from raw outputs s0..s{K-1} to predictionColumns, deciding as answer() does. */
  predictionExpressions(): string[];
  /** The outputs monitoring checks for drift, the headline one first. */
  readonly monitoredOutputs: readonly MonitoredValue[];
  /** Columns of a predictions relation `alias` that the performance SQL reads (`p`, or `probs`). */
  labelledOutputs(alias: string): string[];
  /** The label, from its number `y`, as monitoring compares it for drift. */
  readonly labelForDrift: MonitoredValue;
  /** The performance SQL (sql/monitoring/) and its bound parameters. */
  performanceQuery(calibrationBins: number): { readonly file: string; readonly params: DuckDBValue[]; readonly types: DuckDBType[] };
}

/** The metrics or baseline of another task reaching this one is a programming error. */
export function ownVariant<T extends { readonly task: Task }>(value: { readonly task: Task }, task: T['task']): T {
  if (value.task !== task) throw new Error(`expected ${task} ${'rate' in value || 'mean' in value || 'priors' in value ? 'baseline' : 'metrics'}, got ${value.task}`);
  return value as T;
}
