// The promotion gate, check by check: absolute bounds, the naive baseline, the champion
// (tolerance and margin, in each metric's better direction), calibration and latency.
import { describe, expect, it } from 'vitest';
import { calibrationBins, evaluateGate, type GateInputs } from '../core/gate.js';
import { pairedBootstrap } from '../ml/bootstrap.js';
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

  it('on a small holdout, passes a candidate whose loss is within the noise, and judges calibration against the champion too', () => {
    const tolerant = gate({ metric: 'logLoss', champion: { tolerance: 0.01 }, calibration: { maxEce: 0.05, bins: 10 } });
    // The 46-row case: 0.04 worse in log loss, but the paired interval of the gain reaches above 0.
    const noisy = { version: 1, metrics: binary(0.8, 0.36), gain: { difference: -0.04, lo: -0.11, hi: 0.02, level: 0.95, resamples: 200 } };
    const within = evaluateGate(tolerant, inputs(binary(0.8, 0.4), noisy));
    expect(within.checks[1]).toMatchObject({ passed: true });
    expect(within.checks[1]!.detail).toContain('95% paired-bootstrap interval of the gain [-0.1100, 0.0200] over 200 resamples');
    const beyond = evaluateGate(tolerant, inputs(binary(0.8, 0.4), { ...noisy, gain: { ...noisy.gain, hi: -0.01 } }));
    expect(beyond.checks[1]!.passed).toBe(false);
    // Shifted data: both miss maxEce, the candidate no worse than the champion on the same rows.
    const shifted = { ...inputs(binary(0.8, 0.36), { version: 1, metrics: binary(0.8, 0.36), calibrationError: 0.09 }), calibrationError: 0.07 };
    expect(evaluateGate(tolerant, shifted).checks[2]).toMatchObject({ name: "calibration error <= 0.05 or no worse than the champion's", passed: true });
    expect(evaluateGate(tolerant, { ...shifted, calibrationError: 0.12 }).checks[2]!.passed).toBe(false);
    expect(calibrationBins(10, 46)).toBe(2);
    expect(calibrationBins(10, 200)).toBe(6);
    expect(calibrationBins(10, 116_000)).toBe(10);
  });

  it('bootstraps the paired difference: an interval around zero for the same model, above it for a better one', () => {
    const rows = 300;
    const labels = Float64Array.from({ length: rows }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const good = Float64Array.from(labels, (y, i) => (y ? 0.7 : 0.3) + ((i * 7) % 10) / 100);
    const bad = Float64Array.from(labels, (_, i) => ((i * 13) % 10) / 10);
    const loss = (p: Float64Array) => (index: Uint32Array) => {
      let sum = 0;
      for (const i of index) sum += (p[i]! - labels[i]!) ** 2;
      return sum / index.length;
    };
    const same = pairedBootstrap(rows, (m, index) => loss(m === 0 ? good : good)(index));
    expect(same).toMatchObject({ difference: 0, lo: 0, hi: 0 });
    const better = pairedBootstrap(rows, (m, index) => loss(m === 0 ? bad : good)(index), { seed: 3 });
    expect(better.lo).toBeGreaterThan(0); // a's loss above b's on every resample's central 95%
    expect(pairedBootstrap(rows, (m, index) => loss(m === 0 ? bad : good)(index), { seed: 3 })).toEqual(better); // seeded
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
