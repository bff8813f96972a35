// The promotion gate declared in a spec, applied to what an evaluation measured: the
// candidate's holdout metrics, the champion's on the same rows, calibration and latency.
// Pure: the evaluation activity and the tests call the same function.
import { metricValue, type Metrics } from '../ml/metrics.js';
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
  readonly champion: { readonly version: number; readonly metrics: Metrics; readonly sawHoldout?: readonly string[] } | null;
  /** The candidate's expected calibration error (classification), null for regression. */
  readonly calibrationError: number | null;
  readonly latency: { readonly p99Ms: number };
}

export interface GateDecision {
  readonly passed: boolean;
  readonly checks: readonly GateCheck[];
}

const show = (x: number) => x.toFixed(4);

export function evaluateGate(gate: PromotionGate, inputs: GateInputs): GateDecision {
  const { candidate } = inputs;
  const checks: GateCheck[] = [];
  const value = metricValue(candidate, gate.metric);
  if (gate.min !== undefined) {
    checks.push({ name: `${gate.metric} >= ${gate.min}`, passed: value >= gate.min, detail: `${gate.metric} = ${show(value)}` });
  }
  if (gate.max !== undefined) {
    checks.push({ name: `${gate.metric} <= ${gate.max}`, passed: value <= gate.max, detail: `${gate.metric} = ${show(value)}` });
  }
  if (gate.mustBeatBaseline) {
    const b = taskKind(candidate.task).baselineComparison(candidate);
    checks.push({
      name: 'beats the naive baseline',
      passed: b.value < b.baseline,
      detail: `${b.metric} ${show(b.value)} vs ${show(b.baseline)} for ${b.naive}`,
    });
  }
  if (gate.champion) checks.push(championCheck(gate.metric, gate.champion, candidate, inputs.champion));
  if (gate.calibration) {
    const ece = inputs.calibrationError ?? Number.NaN;
    checks.push({
      name: `calibration error <= ${gate.calibration.maxEce}`,
      passed: ece <= gate.calibration.maxEce,
      detail: `expected calibration error ${show(ece)} over ${gate.calibration.bins} bins`,
    });
  }
  if (gate.latency) {
    checks.push({
      name: `one-row p99 latency <= ${gate.latency.p99Ms} ms`,
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
  const name = 'margin' in rule ? `beats the champion's ${metric} by ${rule.margin}` : `${metric} within ${rule.tolerance} of the champion`;
  if (!champion) return { name, passed: true, detail: 'no champion yet: nothing to compare with' };
  const mine = metricValue(candidate, metric);
  const theirs = metricValue(champion.metrics, metric);
  // Improvement in the metric's better direction: positive when the candidate is better.
  const gain = higher ? mine - theirs : theirs - mine;
  const passed = 'margin' in rule ? gain >= rule.margin : gain >= -rule.tolerance;
  const saw = champion.sawHoldout?.length ? `; note: the champion trained on ${champion.sawHoldout.join(', ')}, so this comparison favours it` : '';
  return {
    name,
    passed,
    detail: `${metric} ${show(mine)} vs ${show(theirs)} for champion v${champion.version} (${gain >= 0 ? 'better' : 'worse'} by ${show(Math.abs(gain))})${saw}`,
  };
}
