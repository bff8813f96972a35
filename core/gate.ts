// The promotion gate declared in a spec, applied to a candidate's holdout metrics.
// Pure: the same function decides in the workflow's activity and in tests.
import { baselineComparison, type Metrics } from '../ml/metrics.js';
import type { GateCheck } from './registry.js';
import type { PromotionGate } from './spec.js';

/** The value of a metric the spec names (checked against the task when the spec loads). */
export function metricValue(metrics: Metrics, name: string): number {
  const value = (metrics as unknown as Record<string, unknown>)[name];
  return typeof value === 'number' ? value : Number.NaN;
}

export function evaluateGate(gate: PromotionGate, metrics: Metrics): { passed: boolean; checks: GateCheck[] } {
  const checks: GateCheck[] = [];
  const value = metricValue(metrics, gate.metric);
  const show = (x: number) => x.toFixed(4);
  if (gate.min !== undefined) {
    checks.push({ name: `${gate.metric} >= ${gate.min}`, passed: value >= gate.min, detail: `${gate.metric} = ${show(value)}` });
  }
  if (gate.max !== undefined) {
    checks.push({ name: `${gate.metric} <= ${gate.max}`, passed: value <= gate.max, detail: `${gate.metric} = ${show(value)}` });
  }
  if (gate.mustBeatBaseline) {
    const b = baselineComparison(metrics);
    const naive =
      metrics.task === 'binary'
        ? `always predicting the base rate ${show(metrics.baselineRate)}`
        : metrics.task === 'multiclass'
          ? 'always predicting the training class frequencies'
          : `always predicting the training mean ${show(metrics.baselineMean)}`;
    checks.push({
      name: 'beats the naive baseline',
      passed: b.value < b.baseline,
      detail: `${b.metric} ${show(b.value)} vs ${show(b.baseline)} for ${naive}`,
    });
  }
  for (const c of checks) if (Number.isNaN(value)) Object.assign(c, { passed: false });
  return { passed: checks.every((c) => c.passed), checks };
}
