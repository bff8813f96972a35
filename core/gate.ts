// The promotion gate declared in a spec, applied to a candidate's holdout metrics.
// Pure: the same function decides in the workflow's activity and in tests.
import type { BinaryMetrics } from '../ml/metrics.js';
import type { GateCheck } from './registry.js';
import type { PromotionGate } from './spec.js';

export function evaluateGate(gate: PromotionGate, metrics: BinaryMetrics): { passed: boolean; checks: GateCheck[] } {
  const checks: GateCheck[] = [];
  const value = metrics[gate.metric];
  const show = (x: number) => x.toFixed(4);
  if (gate.min !== undefined) {
    checks.push({ name: `${gate.metric} >= ${gate.min}`, passed: value >= gate.min, detail: `${gate.metric} = ${show(value)}` });
  }
  if (gate.max !== undefined) {
    checks.push({ name: `${gate.metric} <= ${gate.max}`, passed: value <= gate.max, detail: `${gate.metric} = ${show(value)}` });
  }
  if (gate.mustBeatBaseline) {
    checks.push({
      name: 'beats the base-rate baseline',
      passed: metrics.logLoss < metrics.baselineLogLoss,
      detail: `log loss ${show(metrics.logLoss)} vs ${show(metrics.baselineLogLoss)} for always predicting ${show(metrics.baselineRate)}`,
    });
  }
  for (const c of checks) if (Number.isNaN(value)) Object.assign(c, { passed: false });
  return { passed: checks.every((c) => c.passed), checks };
}
