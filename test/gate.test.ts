// The promotion gate, check by check: absolute bounds, the naive baseline, the champion
// (tolerance and margin, in each metric's better direction), calibration and latency.
import { describe, expect, it } from 'vitest';
import { evaluateGate, type GateInputs } from '../core/gate.js';
import type { PromotionGate } from '../core/spec.js';
import type { BinaryMetrics, RegressionMetrics } from '../ml/metrics.js';
import flightDelay from '../models/flight_delay.json' with { type: 'json' };
import { parseFlightsSpec as parseSpec } from './specs.js';

const binary = (auc: number, logLoss = 0.4): BinaryMetrics => ({
  task: 'binary', rows: 1000, positiveRate: 0.2, auc, logLoss, accuracy: 0.8, baselineLogLoss: 0.5, baselineRate: 0.2,
});
const regression = (rmse: number): RegressionMetrics => ({
  task: 'regression', rows: 1000, rmse, mae: rmse / 2, r2: 0.1, baselineRmse: 40, baselineMean: 5,
});
const inputs = (candidate: GateInputs['candidate'], champion: GateInputs['champion'] = null): GateInputs => ({
  candidate, champion, calibrationError: 0.01, latency: { p99Ms: 0.2 },
});
const gate = (extra: Partial<PromotionGate> & { metric: string }): PromotionGate => ({ mustBeatBaseline: true, ...extra });

describe('promotion gate', () => {
  it('compares with the champion within a tolerance, or by a margin, in the better direction', () => {
    const tolerant = gate({ metric: 'auc', champion: { tolerance: 0.01 } });
    expect(evaluateGate(tolerant, inputs(binary(0.745), { version: 2, metrics: binary(0.75) })).passed).toBe(true);
    const worse = evaluateGate(tolerant, inputs(binary(0.73), { version: 2, metrics: binary(0.75) }));
    expect(worse.passed).toBe(false);
    expect(worse.checks.find((c) => !c.passed)?.detail).toBe('auc 0.7300 vs 0.7500 for champion v2 (worse by 0.0200)');

    const margin = gate({ metric: 'rmse', champion: { margin: 0.5 } });
    expect(evaluateGate(margin, inputs(regression(30), { version: 1, metrics: regression(31) })).passed).toBe(true); // lower is better
    expect(evaluateGate(margin, inputs(regression(30.8), { version: 1, metrics: regression(31) })).passed).toBe(false);
    const first = evaluateGate(margin, inputs(regression(30.8)));
    expect(first.passed).toBe(true);
    expect(first.checks.at(-1)?.detail).toContain('no champion yet');
  });

  it('checks the baseline, calibration and latency, and never passes a metric it could not compute', () => {
    const g = gate({ metric: 'auc', min: 0.6, calibration: { maxEce: 0.05, bins: 10 }, latency: { p99Ms: 1 } });
    expect(evaluateGate(g, inputs(binary(0.7))).checks.map((c) => c.passed)).toEqual([true, true, true, true]);
    const bad = evaluateGate(g, { ...inputs(binary(0.7, 0.6)), calibrationError: 0.08, latency: { p99Ms: 3 } });
    expect(bad.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual([
      'beats the naive baseline',
      'calibration error <= 0.05',
      'one-row p99 latency <= 1 ms',
    ]);
    expect(evaluateGate(g, inputs(binary(Number.NaN))).passed).toBe(false);
  });

  it('reads gates and approval from a spec, naming the field it rejects', () => {
    const spec = parseSpec(flightDelay, 'flight_delay.json');
    expect(spec.approval.required).toBe(false);
    expect(spec.gate.champion).toBeDefined();
    const withGate = (g: unknown) => () => parseSpec({ ...flightDelay, gate: g }, 'x.json');
    expect(withGate({ metric: 'auc', champion: { tolerance: 0.1, margin: 0.1 } })).toThrow(/gate\.champion: must set exactly one/);
    expect(withGate({ metric: 'auc', latency: { p99Ms: -1 } })).toThrow(/gate\.latency\.p99Ms/);
    expect(withGate({ metric: 'auc', maxLatency: 3 })).toThrow(/gate\.maxLatency: is not a field of gate/);
    expect(() => parseSpec({ ...flightDelay, approval: { required: 'yes' } }, 'x.json')).toThrow(/approval\.required/);
  });
});
