// The drift and performance statistics of sql/monitoring/, run in DuckDB on known data and
// checked against independent computations in TypeScript (and against ml/metrics.ts, which
// trains and gates the models): Wasserstein-1, PSI, Jensen-Shannon, new categories, AUC with
// ties, log loss, accuracy, calibration error, RMSE; and the verdict rules around them.
import { DOUBLE, LIST, listValue, VARCHAR } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { columnDrift, groupMetrics } from '../activities/drift-statistics.js';
import { resolvePaths } from '../core/config.js';
import { judgePerformance, summarize } from '../core/drift.js';
import { openDuckDB, type OpenDuckDB } from '../core/duckdb.js';
import type { CategoricalDrift, NumericDrift } from '../core/monitoring.js';
import { parseMonitoring } from '../core/spec-operations.js';
import { Reader } from '../core/spec-reader.js';
import { binaryCalibrationError, binaryMetrics, multiclassMetrics, regressionMetrics, topLabelCalibrationError } from '../ml/metrics.js';
import { modelTask } from '../tasks/index.js';
import { mulberry32 } from '../ml/random.js';

const sqlDir = resolvePaths().sqlDir;
const policy = parseMonitoring(new Reader('test.json'), { minRows: 100 }, 'binary', 'auc', 0.05);
let db: OpenDuckDB;

beforeEach(async () => {
  db = await openDuckDB({ threads: 2 });
});
afterEach(() => db.close());

/** Fill `reference` and `current` with one column `v` of the given values. */
async function sides(reference: readonly (number | string | null)[], current: readonly (number | string | null)[], type: 'DOUBLE' | 'VARCHAR') {
  for (const [table, values] of [
    ['reference', reference],
    ['current', current],
  ] as const) {
    await db.connection.run(`CREATE OR REPLACE TABLE ${table} AS SELECT unnest($1::${type}[]) AS v`, [listValue([...values])], [LIST(type === 'DOUBLE' ? DOUBLE : VARCHAR)]);
  }
}

function normals(n: number, seed: number, mean = 0, sd = 1): number[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const u = Math.max(random(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    return Math.round((mean + sd * z) * 100) / 100; // two decimals: ties, as real data has
  });
}

/** Exact Wasserstein-1 of two samples: the area between their empirical CDFs. */
function wasserstein(a: readonly number[], b: readonly number[]): number {
  const xs = [...new Set([...a, ...b])].sort((x, y) => x - y);
  const cdf = (s: readonly number[]) => {
    const sorted = [...s].sort((x, y) => x - y);
    let i = 0;
    return xs.map((x) => {
      while (i < sorted.length && sorted[i]! <= x) i++;
      return i / sorted.length;
    });
  };
  const fa = cdf(a);
  const fb = cdf(b);
  let w = 0;
  for (let k = 0; k + 1 < xs.length; k++) w += Math.abs(fa[k]! - fb[k]!) * (xs[k + 1]! - xs[k]!);
  return w;
}

function psi(reference: readonly number[], current: readonly number[], floor = 1e-4): number {
  const tr = reference.reduce((s, x) => s + x, 0);
  const tc = current.reduce((s, x) => s + x, 0);
  return reference.reduce((s, r, i) => {
    const p = Math.max(r / tr, floor);
    const q = Math.max(current[i]! / tc, floor);
    return s + (q - p) * Math.log(q / p);
  }, 0);
}

describe('numeric drift in SQL', () => {
  it('matches the exact Wasserstein-1, moments and decile PSI computed independently', async () => {
    const reference = [...normals(5000, 1), null, null];
    const current = normals(3000, 2, 0.3, 1.2);
    await sides(reference, current, 'DOUBLE');
    const d = (await columnDrift(db.connection, sqlDir, 'x', 'v', 'numeric', policy)) as NumericDrift;
    const ref = reference.filter((x): x is number => x !== null);
    const mean = (s: number[]) => s.reduce((a, b) => a + b, 0) / s.length;
    const sd = (s: number[]) => Math.sqrt(mean(s.map((x) => (x - mean(s)) ** 2)));
    expect(d.referenceRows).toBe(5000);
    expect(d.referenceNulls).toBe(2);
    expect(d.currentRows).toBe(3000);
    expect(d.referenceMean).toBeCloseTo(mean(ref), 10);
    expect(d.referenceStd).toBeCloseTo(sd(ref), 8);
    expect(d.wasserstein).toBeCloseTo(wasserstein(ref, current), 10);
    expect(d.wassersteinNormalized).toBeCloseTo(wasserstein(ref, current) / sd(ref), 8);

    // Deciles of the reference (the smallest value whose CDF reaches q), then both sides binned.
    const sorted = [...ref].sort((a, b) => a - b);
    const edges = Array.from({ length: 9 }, (_, i) => sorted[Math.ceil(((i + 1) / 10) * sorted.length - 1e-9) - 1]!);
    const bin = (x: number) => edges.filter((e) => e < x).length;
    const count = (s: number[]) => s.reduce((c, x) => (c[bin(x)]!++, c), new Array<number>(10).fill(0));
    expect(d.psi).toBeCloseTo(psi(count(ref), count(current)), 10);
    expect(d.verdict).toBe('drift');
    expect(d.reasons.join(' ')).toMatch(/Wasserstein .* reference standard deviations >= 0.1/);
    // The chart's bins hold every row of both sides.
    expect(d.histogram.reference.reduce((a, b) => a + b, 0)).toBe(5000);
    expect(d.histogram.current.reduce((a, b) => a + b, 0)).toBe(3000);
  });

  it('finds no drift between two samples of one distribution, and no verdict on a small sample', async () => {
    await sides(normals(5000, 3), normals(5000, 4), 'DOUBLE');
    const same = (await columnDrift(db.connection, sqlDir, 'x', 'v', 'numeric', policy)) as NumericDrift;
    expect(same.verdict).toBe('ok');
    expect(same.psi!).toBeLessThan(0.01);
    expect(same.wassersteinNormalized!).toBeLessThan(0.05);

    await sides(normals(5000, 3), normals(50, 5, 3), 'DOUBLE');
    const small = await columnDrift(db.connection, sqlDir, 'x', 'v', 'numeric', policy);
    expect(small.verdict).toBe('insufficient-data');
    expect(small.reasons[0]).toContain('50 in the window, at least 100 each needed');
  });
});

describe('categorical drift in SQL', () => {
  it('matches PSI and the Jensen-Shannon distance computed independently, and names new categories', async () => {
    const repeat = (counts: Record<string, number>) => Object.entries(counts).flatMap(([v, n]) => new Array<string>(n).fill(v));
    await sides([...repeat({ a: 500, b: 300, c: 199 }), null], repeat({ a: 200, b: 300, c: 400, '<b>new</b>': 100 }), 'VARCHAR');
    const d = (await columnDrift(db.connection, sqlDir, 'c', 'v', 'categorical', policy)) as CategoricalDrift;
    const p = { a: 0.5, b: 0.3, c: 0.199, '(missing)': 0.001, '<b>new</b>': 0 };
    const q = { a: 0.2, b: 0.3, c: 0.4, '(missing)': 0, '<b>new</b>': 0.1 };
    const keys = Object.keys(p) as (keyof typeof p)[];
    // Every category is among the reference's top 50: none is pooled. The new one is its own bin.
    const expectedPsi = keys.reduce((s, k) => {
      const a = Math.max(p[k], 1e-4);
      const b = Math.max(q[k], 1e-4);
      return s + (b - a) * Math.log(b / a);
    }, 0);
    const kl = (x: typeof p, m: typeof p) => keys.reduce((s, k) => (x[k] > 0 ? s + x[k] * Math.log2(x[k] / m[k]) : s), 0);
    const mid = Object.fromEntries(keys.map((k) => [k, (p[k] + q[k]) / 2])) as typeof p;
    // The pooled '(other)' bin is empty on both sides here; the new category pools into it.
    expect(d.jensenShannon).toBeCloseTo(Math.sqrt(0.5 * kl(p, mid) + 0.5 * kl(q, mid)), 10);
    expect(d.psi).toBeCloseTo(expectedPsi, 10);
    expect(d.newCategories).toEqual([{ value: '<b>new</b>', count: 100, share: 0.1 }]);
    expect(d.newCategoryCount).toBe(1);
    expect(d.largestShift).toMatchObject({ value: 'a', referenceShare: 0.5, currentShare: 0.2 });
    expect(d.verdict).toBe('drift');
    expect(d.reasons.at(-1)).toContain("'<b>new</b>'");
  });

  it('gives a Jensen-Shannon distance of 1 for disjoint categories and 0 for the same shares', async () => {
    await sides(['x', 'y', 'x', 'y'].flatMap((v) => new Array<string>(100).fill(v)), ['z'].flatMap((v) => new Array<string>(400).fill(v)), 'VARCHAR');
    expect(((await columnDrift(db.connection, sqlDir, 'c', 'v', 'categorical', policy)) as CategoricalDrift).jensenShannon).toBeCloseTo(1, 10);
    await sides(new Array<string>(300).fill('x'), new Array<string>(200).fill('x'), 'VARCHAR');
    const same = (await columnDrift(db.connection, sqlDir, 'c', 'v', 'categorical', policy)) as CategoricalDrift;
    expect(same.jensenShannon).toBeCloseTo(0, 10);
    expect(same.verdict).toBe('ok');
  });
});

describe('performance metrics in SQL', () => {
  const random = mulberry32(11);
  const n = 4000;
  // Scores on a coarse grid: many ties, which the rank-based AUC must share out.
  const labels = Float32Array.from({ length: n }, () => (random() < 0.3 ? 1 : 0));
  const probs = Float32Array.from(labels, (y) => Math.round(Math.min(0.99, Math.max(0.01, 0.3 + 0.25 * (y - 0.3) + 0.3 * (random() - 0.5))) * 50) / 50);

  it('computes binary AUC (with ties), log loss, accuracy and calibration error as ml/metrics.ts does', async () => {
    await db.connection.run('CREATE TABLE rows AS SELECT unnest($1::DOUBLE[]) AS y, unnest($2::DOUBLE[]) AS p', [listValue([...labels]), listValue([...probs])], [LIST(DOUBLE), LIST(DOUBLE)]);
    const [sql] = await groupMetrics(db.connection, sqlDir, modelTask({ task: 'binary', decisionThreshold: 0.5 }).performanceQuery(10), "SELECT 'all' AS grp, y, p FROM rows");
    const js = binaryMetrics(labels, probs, 0.5, 0.3);
    expect(sql!.rows).toBe(n);
    expect(sql!.metrics.auc).toBeCloseTo(js.auc, 12);
    expect(sql!.metrics.logLoss).toBeCloseTo(js.logLoss, 12);
    expect(sql!.metrics.accuracy).toBeCloseTo(js.accuracy, 12);
    expect(sql!.metrics.calibrationError).toBeCloseTo(binaryCalibrationError(labels, probs, 10), 12);
  });

  it('computes multiclass log loss, accuracy and top-label calibration, and regression RMSE, MAE and R²', async () => {
    const K = 3;
    const y = Float32Array.from({ length: n }, () => Math.floor(random() * K));
    const p = new Float32Array(n * K);
    for (let r = 0; r < n; r++) {
      const raw = Array.from({ length: K }, (_, k) => random() + (k === y[r] ? 0.8 : 0));
      const sum = raw.reduce((a, b) => a + b, 0);
      raw.forEach((v, k) => (p[r * K + k] = v / sum));
    }
    const lists = Array.from({ length: n }, (_, r) => listValue(Array.from(p.subarray(r * K, r * K + K))));
    await db.connection.run('CREATE TABLE mc AS SELECT unnest($1::DOUBLE[]) AS y, unnest($2::DOUBLE[][]) AS probs', [listValue([...y]), listValue(lists)], [LIST(DOUBLE), LIST(LIST(DOUBLE))]);
    const [mc] = await groupMetrics(db.connection, sqlDir, modelTask({ task: 'multiclass', classes: ['a', 'b', 'c'], decisionThreshold: 0.5 }).performanceQuery(10), "SELECT 'all' AS grp, y, probs FROM mc");
    const js = multiclassMetrics(y, p, [1 / 3, 1 / 3, 1 / 3]);
    expect(mc!.metrics.logLoss).toBeCloseTo(js.logLoss, 6); // float32 probabilities, summed in double by both
    expect(mc!.metrics.accuracy).toBeCloseTo(js.accuracy, 12);
    expect(mc!.metrics.calibrationError).toBeCloseTo(topLabelCalibrationError(y, p, K, 10), 6);

    const target = Float32Array.from({ length: n }, () => 50 * random());
    const guess = Float32Array.from(target, (t) => t + 10 * (random() - 0.4));
    await db.connection.run('CREATE TABLE reg AS SELECT unnest($1::DOUBLE[]) AS y, unnest($2::DOUBLE[]) AS p', [listValue([...target]), listValue([...guess])], [LIST(DOUBLE), LIST(DOUBLE)]);
    const [reg] = await groupMetrics(db.connection, sqlDir, modelTask({ task: 'regression', decisionThreshold: 0.5 }).performanceQuery(10), "SELECT 'all' AS grp, y, p FROM reg");
    const r = regressionMetrics(target, guess, 25);
    expect(reg!.metrics.rmse).toBeCloseTo(r.rmse, 8);
    expect(reg!.metrics.mae).toBeCloseTo(r.mae, 8);
    expect(reg!.metrics.r2).toBeCloseTo(r.r2, 8);
  });
});

describe('verdicts', () => {
  const check = { metric: 'auc', higherIsBetter: true, atPromotion: 0.74, maxDegradation: 0.02, maxCalibrationError: 0.05, overTime: [] };
  it('calls a metric worse than at promotion by the allowed amount decay, in the metric’s direction', () => {
    expect(judgePerformance({ ...check, current: 0.715, calibrationError: 0.01, labelledRows: 5000 }, 1000).verdict).toBe('drift');
    expect(judgePerformance({ ...check, current: 0.73, calibrationError: 0.01, labelledRows: 5000 }, 1000).verdict).toBe('ok');
    expect(judgePerformance({ ...check, current: 0.78, calibrationError: 0.06, labelledRows: 5000 }, 1000).reasons).toEqual(['calibration error 0.0600 >= 0.05']);
    const loss = { ...check, metric: 'logLoss', higherIsBetter: false, atPromotion: 0.41 };
    expect(judgePerformance({ ...loss, current: 0.44, calibrationError: 0.01, labelledRows: 5000 }, 1000).degradation).toBeCloseTo(0.03, 12);
    expect(judgePerformance({ ...check, current: 0.5, calibrationError: 0.3, labelledRows: 999 }, 1000).verdict).toBe('insufficient-data');
  });

  it('wants a retraining only for what the spec retrains on', () => {
    const ok = { verdict: 'ok' as const, reasons: [] };
    const feature = (name: string, verdict: 'ok' | 'drift') => ({ ...ok, name, verdict, reasons: verdict === 'drift' ? ['PSI 0.3 >= 0.2'] : [] }) as unknown as NumericDrift;
    const perf = judgePerformance({ ...check, current: 0.74, calibrationError: 0.01, labelledRows: 5000 }, 1000);
    const drifted = summarize([feature('a', 'drift'), feature('b', 'ok')], [feature('p', 'ok')], perf, policy.retrain);
    expect(drifted.summary).toMatchObject({ verdict: 'drift', driftedFeatures: ['a'] });
    expect(drifted.retrain).toEqual({ wanted: true, reasons: ['feature drift in a'] });
    const stricter = summarize([feature('a', 'drift')], [feature('p', 'ok')], perf, { ...policy.retrain, minDriftedFeatures: 2 });
    expect(stricter.retrain.wanted).toBe(false);
    // Any output that drifts is prediction drift (a class's probability while the predicted class holds still).
    const detail = summarize([], [feature('predicted class', 'ok'), feature('probability of late', 'drift')], perf, policy.retrain);
    expect(detail.summary).toMatchObject({ verdict: 'drift', predictionDrift: true });
    expect(detail.retrain.reasons).toEqual(['prediction drift (probability of late: PSI 0.3 >= 0.2)']);
  });
});
