// The promotion gate declared in a spec, applied to what an evaluation measured: the
// candidate's holdout metrics, the champion's on the same rows, calibration and latency.
// Pure: the evaluation activity and the tests call the same function.
import { metricValue, type Metrics } from '../ml/metrics.js';
import type { PairedInterval } from '../ml/bootstrap.js';
import { taskKind } from '../tasks/index.js';
import type { PromotionGate } from './spec.js';

/** One check of the gate, with the numbers behind its verdict. */
export interface GateCheck {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
}

/** Whether larger values of the task's metric are better. */
export function higherIsBetter(metrics: Metrics, name: string): boolean {
  return taskKind(metrics.task).metrics[name] === 'higher';
}

export interface GateInputs {
  readonly candidate: Metrics;
  /** The champion scored on the same holdout rows; null when no version is champion yet. */
  readonly champion: {
    readonly version: number;
    readonly metrics: Metrics;
    readonly sawHoldout?: readonly string[];
    /** The champion's calibration error on the same rows, for classification. */
    readonly calibrationError?: number | null;
    /** Paired bootstrap interval of the candidate's gain over the champion (better direction), on small holdouts. */
    readonly gain?: PairedInterval;
  } | null;
  /** The candidate's expected calibration error (classification), null for regression. */
  readonly calibrationError: number | null;
  readonly latency: { readonly p99Ms: number };
  /** The bins calibration was measured over (fewer than the spec's on a small holdout). */
  readonly calibrationBins?: number;
}

/** How much worse than the champion's a candidate's calibration error may be and still count as no worse. */
const CALIBRATION_SLACK = 0.005;

/** Calibration bins for `rows` holdout rows: the spec's, but at least about 30 rows a bin on average. */
export function calibrationBins(configured: number, rows: number): number {
  return Math.max(2, Math.min(configured, Math.floor(rows / 30)));
}

export interface GateDecision {
  readonly passed: boolean;
  readonly checks: readonly GateCheck[];
}

const show = (x: number) => x.toFixed(4);

/** What each check of a gate asks: the names evaluateGate gives its checks, and describeGate's words. */
const RULES = {
  min: (metric: string, min: number) => `${metric} >= ${min}`,
  max: (metric: string, max: number) => `${metric} <= ${max}`,
  baseline: 'beats the naive baseline',
  champion: (metric: string, rule: NonNullable<PromotionGate['champion']>) =>
    'margin' in rule ? `beats the champion's ${metric} by ${rule.margin}` : `${metric} within ${rule.tolerance} of the champion`,
  calibration: (maxEce: number) => `calibration error <= ${maxEce}`,
  latency: (p99Ms: number) => `one-row p99 latency <= ${p99Ms} ms`,
};

/** The gate's checks in words, in the order evaluateGate makes them (for people reading the policy). */
export function describeGate(gate: PromotionGate): string[] {
  return [
    ...(gate.min !== undefined ? [RULES.min(gate.metric, gate.min)] : []),
    ...(gate.max !== undefined ? [RULES.max(gate.metric, gate.max)] : []),
    ...(gate.mustBeatBaseline ? [RULES.baseline] : []),
    ...(gate.champion ? [RULES.champion(gate.metric, gate.champion)] : []),
    ...(gate.calibration ? [RULES.calibration(gate.calibration.maxEce)] : []),
    ...(gate.latency ? [RULES.latency(gate.latency.p99Ms)] : []),
  ];
}

export function evaluateGate(gate: PromotionGate, inputs: GateInputs): GateDecision {
  const { candidate } = inputs;
  const checks: GateCheck[] = [];
  const value = metricValue(candidate, gate.metric);
  if (gate.min !== undefined) {
    checks.push({ name: RULES.min(gate.metric, gate.min), passed: value >= gate.min, detail: `${gate.metric} = ${show(value)}` });
  }
  if (gate.max !== undefined) {
    checks.push({ name: RULES.max(gate.metric, gate.max), passed: value <= gate.max, detail: `${gate.metric} = ${show(value)}` });
  }
  if (gate.mustBeatBaseline) {
    const b = taskKind(candidate.task).baselineComparison(candidate);
    checks.push({
      name: RULES.baseline,
      passed: b.value < b.baseline,
      detail: `${b.metric} ${show(b.value)} vs ${show(b.baseline)} for ${b.naive}`,
    });
  }
  if (gate.champion) checks.push(championCheck(gate.metric, gate.champion, candidate, inputs.champion));
  if (gate.calibration) {
    const ece = inputs.calibrationError ?? Number.NaN;
    // Judged against the champion on the same rows too: when the data shifts, every model is
    // less calibrated, and a fresh candidate no worse than the decayed champion should replace it.
    const theirs = inputs.champion?.calibrationError;
    const asChampion = theirs !== undefined && theirs !== null && ece <= theirs + CALIBRATION_SLACK;
    checks.push({
      name: `${RULES.calibration(gate.calibration.maxEce)}${theirs !== undefined && theirs !== null ? " or no worse than the champion's" : ''}`,
      passed: ece <= gate.calibration.maxEce || asChampion,
      detail: `expected calibration error ${show(ece)} over ${inputs.calibrationBins ?? gate.calibration.bins} bins${theirs !== undefined && theirs !== null ? `; champion ${show(theirs)} on the same rows` : ''}`,
    });
  }
  if (gate.latency) {
    checks.push({
      name: RULES.latency(gate.latency.p99Ms),
      passed: inputs.latency.p99Ms <= gate.latency.p99Ms,
      detail: `p99 ${inputs.latency.p99Ms.toFixed(3)} ms in onnxruntime (the median round of several)`,
    });
  }
  // A metric that could not be computed (NaN) never passes, whatever the comparison said.
  for (const c of checks) if (Number.isNaN(value)) Object.assign(c, { passed: false });
  return { passed: checks.every((c) => c.passed), checks };
}

function championCheck(
  metric: string,
  rule: NonNullable<PromotionGate['champion']>,
  candidate: Metrics,
  champion: GateInputs['champion'],
): GateCheck {
  const higher = higherIsBetter(candidate, metric);
  const name = RULES.champion(metric, rule);
  if (!champion) return { name, passed: true, detail: 'no champion yet: nothing to compare with' };
  const mine = metricValue(candidate, metric);
  const theirs = metricValue(champion.metrics, metric);
  // Improvement in the metric's better direction: positive when the candidate is better.
  const gain = higher ? mine - theirs : theirs - mine;
  // Not worse beyond the tolerance, or (on a small holdout) not worse beyond what its noise allows.
  const withinNoise = !('margin' in rule) && champion.gain !== undefined && champion.gain.hi >= 0;
  const passed = 'margin' in rule ? gain >= rule.margin : gain >= -rule.tolerance || withinNoise;
  const noise = champion.gain
    ? `; ${Math.round(champion.gain.level * 100)}% paired-bootstrap interval of the gain [${show(champion.gain.lo)}, ${show(champion.gain.hi)}] over ${champion.gain.resamples} resamples`
    : '';
  const saw = champion.sawHoldout?.length ? `; note: the champion trained on ${champion.sawHoldout.join(', ')}, so this comparison favours it` : '';
  return {
    name,
    passed,
    detail: `${metric} ${show(mine)} vs ${show(theirs)} for champion v${champion.version} (${gain >= 0 ? 'better' : 'worse'} by ${show(Math.abs(gain))})${noise}${saw}`,
  };
}
