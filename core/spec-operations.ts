// The operating policy of a model, declared in its spec beside what it is: how batch scoring
// runs, what monitoring calls drift, when it retrains by itself, and the weekly schedules.
// Every field has a default, so a spec without these sections still runs the whole loop.
import type { Task } from '../ml/metrics.js';
import { taskKind } from '../tasks/index.js';
import type { Reader } from './spec-reader.js';

export interface BatchPolicy {
  /** Partitions scored at once (each in its own thread, with its own onnxruntime session). */
  readonly concurrency: number;
  /** onnxruntime intra-op threads per partition: concurrency x threads should match the cores. */
  readonly threads: number;
}

/** Drift thresholds: a statistic at or above its threshold is drift. */
export interface NumericDriftThresholds {
  /** Population stability index over the reference's quantile bins. */
  readonly psi: number;
  /** Wasserstein-1 distance divided by the reference's standard deviation. */
  readonly wasserstein: number;
}

export interface CategoricalDriftThresholds {
  readonly psi: number;
  /** Jensen-Shannon distance (base 2, between 0 and 1). */
  readonly jensenShannon: number;
}

export interface MonitoringPolicy {
  /** How many of the newest partitions a scheduled run compares with the reference. */
  readonly windowPartitions: number;
  /** Fewest rows with a value on each side for a drift verdict; fewer gives "insufficient-data". */
  readonly minRows: number;
  /** Quantile bins of the reference for a numeric PSI. */
  readonly bins: number;
  readonly numeric: NumericDriftThresholds;
  readonly categorical: CategoricalDriftThresholds;
  readonly performance: {
    /** A metric of the task (tasks/: TaskKind.metrics); its value at promotion is the bar. */
    readonly metric: string;
    /** Decay: the window's metric worse than at promotion by at least this much. */
    readonly maxDegradation: number;
    /** Classification: decay also when the window's expected calibration error reaches this. */
    readonly maxCalibrationError?: number;
    /** Fewest labelled rows for a performance verdict. */
    readonly minLabelledRows: number;
  };
  readonly retrain: {
    /** Start TrainModelWorkflow when at least `minDriftedFeatures` features drifted. */
    readonly onFeatureDrift: boolean;
    readonly minDriftedFeatures: number;
    readonly onPredictionDrift: boolean;
    readonly onDecay: boolean;
  };
}

/** Cron expressions (5 fields, in `timezone`) of the weekly jobs; null: no such schedule. */
export interface SchedulePolicy {
  readonly train: string | null;
  readonly batch: string | null;
  readonly monitor: string | null;
  /** Refreshing the online store of the model's feature views (a model without views has no such schedule). */
  readonly materialize: string | null;
  readonly timezone: string;
}

export const SCHEDULE_KINDS = ['train', 'batch', 'monitor', 'materialize'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

/**
 * Monday morning, UTC: retrain on last week's data, then score it, then look at it. Feature
 * views are refreshed every hour (a view's grain is at most what its schedule keeps fresh).
 */
const DEFAULT_SCHEDULES: SchedulePolicy = { train: '0 2 * * MON', batch: '0 4 * * MON', monitor: '0 5 * * MON', materialize: '5 * * * *', timezone: 'UTC' };

export function parseBatch(r: Reader, raw: unknown): BatchPolicy {
  if (raw === undefined) return { concurrency: 2, threads: 1 };
  const b = r.strictObject(raw, 'batch', ['concurrency', 'threads']);
  return {
    concurrency: b.concurrency === undefined ? 2 : r.integer(b.concurrency, 'batch.concurrency', 1, 64),
    threads: b.threads === undefined ? 1 : r.integer(b.threads, 'batch.threads', 1, 64),
  };
}

export function parseMonitoring(r: Reader, raw: unknown, task: Task, gateMetric: string, gateMaxEce: number | undefined): MonitoringPolicy {
  const m = raw === undefined ? {} : r.strictObject(raw, 'monitoring', ['windowPartitions', 'minRows', 'bins', 'numeric', 'categorical', 'performance', 'retrain']);
  const section = (key: string, fields: readonly string[]) =>
    m[key] === undefined ? {} : r.strictObject(m[key], `monitoring.${key}`, fields);
  const num = (o: Record<string, unknown>, key: string, field: string, fallback: number, min: number, max?: number) =>
    o[key] === undefined ? fallback : r.number(o[key], field, min, max);
  const int = (o: Record<string, unknown>, key: string, field: string, fallback: number, min: number, max?: number) =>
    o[key] === undefined ? fallback : r.integer(o[key], field, min, max);
  const bool = (o: Record<string, unknown>, key: string, field: string, fallback: boolean) =>
    o[key] === undefined ? fallback : r.boolean(o[key], field);

  const numeric = section('numeric', ['psi', 'wasserstein']);
  const categorical = section('categorical', ['psi', 'jensenShannon']);
  const perf = section('performance', ['metric', 'maxDegradation', 'maxCalibrationError', 'minLabelledRows']);
  const retrain = section('retrain', ['onFeatureDrift', 'minDriftedFeatures', 'onPredictionDrift', 'onDecay']);
  const metric = perf.metric === undefined ? gateMetric : r.oneOf(perf.metric, 'monitoring.performance.metric', Object.keys(taskKind(task).metrics));
  const { calibrated } = taskKind(task);
  if (!calibrated && perf.maxCalibrationError !== undefined) {
    r.fail('monitoring.performance.maxCalibrationError', `applies to classification tasks only, not ${task}`);
  }
  const maxCalibrationError =
    !calibrated ? undefined : perf.maxCalibrationError === undefined ? gateMaxEce : r.number(perf.maxCalibrationError, 'monitoring.performance.maxCalibrationError', 0, 1);
  return {
    windowPartitions: int(m, 'windowPartitions', 'monitoring.windowPartitions', 1, 1, 520),
    minRows: int(m, 'minRows', 'monitoring.minRows', 1000, 1),
    bins: int(m, 'bins', 'monitoring.bins', 10, 2, 100),
    // PSI 0.2 is the usual line for a significant shift; a tenth of a standard deviation of
    // transport, or a Jensen-Shannon distance of 0.1, is a move a person would notice on a chart.
    numeric: {
      psi: num(numeric, 'psi', 'monitoring.numeric.psi', 0.2, 0),
      wasserstein: num(numeric, 'wasserstein', 'monitoring.numeric.wasserstein', 0.1, 0),
    },
    categorical: {
      psi: num(categorical, 'psi', 'monitoring.categorical.psi', 0.2, 0),
      jensenShannon: num(categorical, 'jensenShannon', 'monitoring.categorical.jensenShannon', 0.1, 0, 1),
    },
    performance: {
      metric,
      maxDegradation: num(perf, 'maxDegradation', 'monitoring.performance.maxDegradation', 0.02, 0),
      ...(maxCalibrationError === undefined ? {} : { maxCalibrationError }),
      minLabelledRows: int(perf, 'minLabelledRows', 'monitoring.performance.minLabelledRows', 1000, 1),
    },
    retrain: {
      onFeatureDrift: bool(retrain, 'onFeatureDrift', 'monitoring.retrain.onFeatureDrift', true),
      minDriftedFeatures: int(retrain, 'minDriftedFeatures', 'monitoring.retrain.minDriftedFeatures', 1, 1),
      onPredictionDrift: bool(retrain, 'onPredictionDrift', 'monitoring.retrain.onPredictionDrift', true),
      onDecay: bool(retrain, 'onDecay', 'monitoring.retrain.onDecay', true),
    },
  };
}

// The five cron fields: minute, hour, day of month, month, day of week. Each is a list of `*`,
// a value or a range, each with an optional /step; months and days may be named.
const CRON_FIELDS = [
  { name: 'minute', min: 0, max: 59, names: [] },
  { name: 'hour', min: 0, max: 23, names: [] },
  { name: 'day of month', min: 1, max: 31, names: [] },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
] as const;
const CRON_ITEM = /^(?:\*|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:\/([0-9]+))?$/;

/** What is wrong with a 5-field cron expression, or undefined when the server will take it. */
function cronProblem(fields: readonly string[]): string | undefined {
  if (fields.length !== 5) return `has ${fields.length} fields, not 5`;
  for (const [i, field] of fields.entries()) {
    const { name, min, max, names } = CRON_FIELDS[i]!;
    // Named months count from 1 (JAN), named days from 0 (SUN).
    const value = (text: string): number | undefined => {
      const named = (names as readonly string[]).indexOf(text.toUpperCase());
      if (named >= 0) return named + min;
      const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
      return n >= min && n <= max ? n : undefined;
    };
    for (const item of field.split(',')) {
      const m = CRON_ITEM.exec(item);
      const from = m?.[1] === undefined ? min : value(m[1]);
      const to = m?.[2] === undefined ? from : value(m[2]);
      const step = m?.[3] === undefined ? 1 : Number(m[3]);
      if (!m || from === undefined || to === undefined || to < from || step < 1) {
        return `the ${name} field '${field}' is not a value, range or list from ${min} to ${max}${names.length ? ` or ${names[0]}..${names.at(-1)}` : ''}`;
      }
    }
  }
  return undefined;
}

/** Whether Node knows the IANA time zone; the Temporal server reads the same tz database names. */
function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export function parseSchedules(r: Reader, raw: unknown): SchedulePolicy {
  if (raw === undefined) return DEFAULT_SCHEDULES;
  const s = r.strictObject(raw, 'schedules', [...SCHEDULE_KINDS, 'timezone']);
  const cron = (kind: ScheduleKind): string | null => {
    const v = s[kind];
    if (v === undefined) return DEFAULT_SCHEDULES[kind];
    if (v === false || v === null) return null;
    const text = r.string(v, `schedules.${kind}`).trim();
    const fields = text.split(/\s+/);
    const problem = cronProblem(fields);
    if (problem) r.fail(`schedules.${kind}`, `must be a 5-field cron expression like "0 4 * * MON", or false for none: "${text}" ${problem}`);
    return fields.join(' ');
  };
  const timezone = (name: string): string =>
    isTimeZone(name) ? name : r.fail('schedules.timezone', `must be an IANA time zone like "UTC" or "America/Chicago" (got "${name}")`);
  return {
    train: cron('train'),
    batch: cron('batch'),
    monitor: cron('monitor'),
    materialize: cron('materialize'),
    timezone: s.timezone === undefined ? DEFAULT_SCHEDULES.timezone : timezone(r.string(s.timezone, 'schedules.timezone')),
  };
}
