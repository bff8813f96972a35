// ml/: the GBDT learns signals whose right answer is known (an interaction, a signal only a
// categorical column carries, missing values that carry signal), is deterministic for a
// seed, resumes from a checkpoint to the very same model, keeps its best round, and its
// ONNX export scores like the trainer in onnxruntime.
import { describe, expect, it } from 'vitest';
import { loadSession, runModel } from '../core/inference.js';
import { decodeCheckpoint, encodeCheckpoint } from '../ml/gbdt/checkpoint.js';
import { fastExp } from '../ml/gbdt/fast-exp.js';
import { decodeModel, encodeModel, encodeRows, forestOf, goesLeft, predict, predictRaw, type GbdtModel } from '../ml/gbdt/model.js';
import { explain } from '../ml/gbdt/shap.js';
import type { GbdtParams } from '../ml/gbdt/params.js';
import { trainGbdt, type GbdtCheckpoint } from '../ml/gbdt/train.js';
import { confusion, rankingCurves, reliability, residualDiagnostics } from '../ml/curves.js';
import { auc, binaryCalibrationError, binaryMetrics, logLoss, multiclassMetrics, regressionMetrics, topLabelCalibrationError } from '../ml/metrics.js';
import { exportGbdt, outputName } from '../ml/onnx/tree-ensemble.js';
import { mulberry32 } from '../ml/random.js';
import { sliceTable, type Column, type LabeledTable } from '../ml/table.js';

const numeric = (name: string, values: number[]): Column => ({ name, kind: 'numeric', values: Float32Array.from(values) });

function table(rows: number, columns: Column[], labels: number[]): LabeledTable {
  return { features: { rows, columns }, labels: Float32Array.from(labels) };
}

/** y = (x1 > 0.5) XOR (x2 > 0.5), with 5% of labels flipped: needs trees of depth 2. */
function xor(rows: number, seed: number): LabeledTable {
  const random = mulberry32(seed);
  const x1: number[] = [];
  const x2: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < rows; i++) {
    x1.push(random());
    x2.push(random());
    const truth = x1[i]! > 0.5 !== x2[i]! > 0.5 ? 1 : 0;
    y.push(random() < 0.05 ? 1 - truth : truth);
  }
  return table(rows, [numeric('x1', x1), numeric('x2', x2)], y);
}

/** 40 categories in arbitrary order, half of them "hot" (80% positive) and half cold (20%); x is noise. */
function categorical(rows: number, seed: number): { data: LabeledTable; hot: Set<string> } {
  const random = mulberry32(seed);
  const dictionary = Array.from({ length: 40 }, (_, i) => `c${(i * 7919) % 1000}`);
  const hot = new Set(dictionary.filter((_, i) => (i * 37) % 5 < 2 || i === 3));
  const codes = new Int32Array(rows);
  const noise: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < rows; i++) {
    codes[i] = Math.floor(random() * dictionary.length);
    noise.push(random());
    y.push(random() < (hot.has(dictionary[codes[i]!]!) ? 0.8 : 0.2) ? 1 : 0);
  }
  return {
    data: { features: { rows, columns: [{ name: 'shop', kind: 'categorical', codes, dictionary }, numeric('noise', noise)] }, labels: Float32Array.from(y) },
    hot,
  };
}

/** x is missing in 30% of rows, and a missing x means 90% positive; otherwise 10% + a little signal. */
function missingSignal(rows: number, seed: number): LabeledTable {
  const random = mulberry32(seed);
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < rows; i++) {
    const missing = random() < 0.3;
    x.push(missing ? Number.NaN : random());
    y.push(random() < (missing ? 0.9 : 0.1 + 0.1 * x[i]!) ? 1 : 0);
  }
  return table(rows, [numeric('x', x)], y);
}

const small: Partial<GbdtParams> = { objective: 'binary', numIterations: 30, numLeaves: 8, minDataInLeaf: 20, learningRate: 0.2, seed: 1 };

describe('metrics', () => {
  it('computes AUC with ties, log loss, multiclass and regression metrics', () => {
    expect(auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75);
    expect(auc([0, 1], [0.5, 0.5])).toBeCloseTo(0.5);
    expect(auc([1, 1], [0.2, 0.3])).toBeNaN();
    expect(logLoss([1, 0], [0.5, 0.5])).toBeCloseTo(Math.log(2));
    const mc = multiclassMetrics([0, 2], [0.7, 0.2, 0.1, 0.1, 0.1, 0.8], [0.5, 0.25, 0.25]);
    expect(mc.accuracy).toBe(1);
    expect(mc.logLoss).toBeCloseTo(-(Math.log(0.7) + Math.log(0.8)) / 2);
    expect(mc.baselineLogLoss).toBeCloseTo(-(Math.log(0.5) + Math.log(0.25)) / 2);
    const rg = regressionMetrics([1, 3], [2, 3], 2);
    expect(rg.rmse).toBeCloseTo(Math.sqrt(0.5));
    expect(rg.mae).toBeCloseTo(0.5);
    expect(rg.baselineRmse).toBeCloseTo(1);
  });

  it('measures expected calibration error: near 0 when calibrated, the confidence gap when not', () => {
    const random = mulberry32(3);
    const p: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < 200_000; i++) {
      p.push(random());
      y.push(random() < p[i]! ? 1 : 0);
    }
    expect(binaryCalibrationError(y, p)).toBeLessThan(0.005);
    // Says 0.9 for events that happen half the time: off by 0.4 everywhere.
    const half = y.map((_, i) => (i % 2 === 0 ? 1 : 0));
    expect(binaryCalibrationError(half, new Array(half.length).fill(0.9))).toBeCloseTo(0.4, 6);
    // Multiclass: top class 0.6, right 3 times in 4 -> gap 0.15; unlabeled rows are skipped.
    const probs = [0.6, 0.3, 0.1, 0.6, 0.3, 0.1, 0.6, 0.3, 0.1, 0.1, 0.6, 0.3, 0.2, 0.2, 0.6];
    expect(topLabelCalibrationError([0, 0, 0, 0, Number.NaN], probs, 3)).toBeCloseTo(0.15, 6);
    expect(binaryCalibrationError([Number.NaN], [0.5])).toBeNaN();
  });
});

describe('diagnostic curves', () => {
  const next = mulberry32(11);
  const n = 3_000;
  const labels = Float64Array.from({ length: n }, () => (next() < 0.3 ? 1 : 0));
  // Scores rounded to two decimals, so many rows tie: a threshold decides them together.
  const scores = Float64Array.from(labels, (y) => Math.round(Math.min(1, Math.max(0, 0.35 * y + 0.65 * next())) * 100) / 100);

  it('ROC area equals the rank AUC, ties included, and the curve runs from (0,0) to (1,1)', () => {
    const { roc, pr } = rankingCurves(scores, (i) => labels[i] === 1, 'true');
    expect(roc.area).toBeCloseTo(auc(labels, scores), 12);
    expect(roc.points[0]).toEqual([0, 0]);
    expect(roc.points.at(-1)).toEqual([1, 1]);
    expect(roc.points.length).toBeLessThanOrEqual(200);
    // Average precision, summed directly over the distinct thresholds.
    const thresholds = [...new Set(scores)].sort((a, b) => b - a);
    const positives = labels.reduce((a, b) => a + b, 0);
    let ap = 0;
    let lastRecall = 0;
    for (const t of thresholds) {
      let tp = 0;
      let all = 0;
      for (let i = 0; i < n; i++) if (scores[i]! >= t) (all++, (tp += labels[i]!));
      ap += (tp / positives - lastRecall) * (tp / all);
      lastRecall = tp / positives;
    }
    expect(pr.area).toBeCloseTo(ap, 12);
    expect(pr.points.at(-1)![0]).toBe(1);
  });

  it('reliability bins hold every row, confusion counts every row once, residuals spread over the rows', () => {
    const bins = reliability(scores, (i) => labels[i] === 1);
    expect(bins.reduce((a, b) => a + b.rows, 0)).toBe(n);
    for (const b of bins) expect(b.observed).toBeGreaterThanOrEqual(0);
    const m = confusion((i) => labels[i]!, (i) => (scores[i]! >= 0.5 ? 1 : 0), n, ['false', 'true']);
    expect(m.matrix.flat().reduce((a, b) => a + b, 0)).toBe(n);
    expect(m.matrix[1]![1]).toBe(Array.from(labels).filter((y, i) => y === 1 && scores[i]! >= 0.5).length);
    const r = residualDiagnostics(labels, scores);
    if (r.kind !== 'regression') throw new Error('regression diagnostics');
    expect(r.residuals).toHaveLength(1_000);
    expect(r.binned.reduce((a, b) => a + b.rows, 0)).toBe(n);
    const mean = Array.from(labels).reduce((a, y, i) => a + y - scores[i]!, 0) / n;
    expect(r.binned.reduce((a, b) => a + b.meanResidual * b.rows, 0) / n).toBeCloseTo(mean, 12);
  });
});

describe('fastExp', () => {
  it('matches Math.exp to 1e-15 relative over the whole range, with its edge cases', () => {
    const random = mulberry32(3);
    let worst = 0;
    for (let i = 0; i < 200_000; i++) {
      const x = (random() - 0.5) * 1400;
      const exact = Math.exp(x);
      if (exact > 1e-300 && Number.isFinite(exact)) worst = Math.max(worst, Math.abs(fastExp(x) / exact - 1));
    }
    expect(worst).toBeLessThan(1e-15);
    for (const x of [0, 1, -1, 0.5 / 64, -0.5 / 64, 63.5 / 64, 700, -700]) expect(fastExp(x) / Math.exp(x) - 1).toBeCloseTo(0, 14);
    expect(fastExp(-800)).toBe(0);
    expect(fastExp(800)).toBe(Number.POSITIVE_INFINITY);
    expect(fastExp(Number.NaN)).toBeNaN();
  });
});

describe('GBDT trainer', () => {
  it('learns an XOR that stumps cannot', async () => {
    const train = xor(20_000, 1);
    const test = xor(5_000, 2);
    const stumps = await trainGbdt(train, { ...small, numLeaves: 2 });
    const trees = await trainGbdt(train, { ...small, numLeaves: 4 });
    expect(auc(test.labels, predict(stumps, test.features))).toBeLessThan(0.6);
    const m = binaryMetrics(test.labels, predict(trees, test.features), 0.5, 0.5);
    expect(m.auc).toBeGreaterThan(0.93);
    expect(m.accuracy).toBeGreaterThan(0.9); // 5% of labels are flipped: 0.95 is the best possible
  });

  it('finds a signal carried only by a categorical column, as a set of categories', async () => {
    const { data, hot } = categorical(30_000, 3);
    const test = categorical(5_000, 4).data;
    const model = await trainGbdt(data, { ...small, numIterations: 20 });
    expect(auc(test.labels, predict(model, test.features))).toBeGreaterThan(0.77); // Bayes-optimal AUC is 0.80
    expect(model.importance.gain[0]!).toBeGreaterThan(20 * model.importance.gain[1]!);
    // The first split puts all hot (or all cold) categories on one side.
    const first = model.trees[0]!;
    const mapper = model.features[0]!;
    if (mapper.kind !== 'categorical') throw new Error('shop must be categorical');
    const left = new Set(first.categories[0]!.map((bin) => mapper.categories[bin]!));
    const leftHot = [...left].filter((c) => hot.has(c)).length;
    expect(leftHot === left.size || leftHot === 0).toBe(true);
    expect(left.size).toBeGreaterThan(1);
  });

  it('predicts a table in slices as it predicts it whole, and follows a forest and a dictionary that grow', async () => {
    const { data } = categorical(20_000, 6);
    const test = categorical(3_000, 7).data;
    const model = await trainGbdt(data, { ...small, numIterations: 12 });
    const whole = predict(model, test.features);
    const sliced = new Float64Array(test.features.rows);
    for (let start = 0; start < test.features.rows; start += 48) sliced.set(predict(model, sliceTable(test.features, start, Math.min(test.features.rows, start + 48))), start);
    expect(sliced).toEqual(whole);
    // Fewer trees (an array of its own) and more trees (the same array grown) both predict with their own forest.
    const half = predict({ ...model, trees: model.trees.slice(0, 6) }, test.features);
    expect(half).not.toEqual(whole);
    const grown = [...model.trees.slice(0, 6)];
    const early = predict({ ...model, trees: grown }, test.features);
    grown.push(...model.trees.slice(6));
    expect(early).toEqual(half);
    expect(predict({ ...model, trees: grown }, test.features)).toEqual(whole);
    // A category appended to a dictionary after a prediction (dictionaries only grow) is binned as the trainer saw it.
    const shop = test.features.columns[0]!;
    if (shop.kind !== 'categorical') throw new Error('shop must be categorical');
    const dictionary = [...shop.dictionary];
    const probe = (code: number) => predict(model, { rows: 1, columns: [{ ...shop, codes: Int32Array.from([code]), dictionary }, numeric('noise', [0.5])] })[0];
    const hot = dictionary.findIndex((_, code) => probe(code)! > 0.6);
    const cold = dictionary.findIndex((_, code) => probe(code)! < 0.4);
    dictionary.push(dictionary[hot]!, dictionary[cold]!);
    expect([probe(dictionary.length - 2), probe(dictionary.length - 1)]).toEqual([probe(hot), probe(cold)]);
  });

  it('learns from missing values, and sends unseen categories down the "other" branch', async () => {
    const data = missingSignal(20_000, 5);
    const model = await trainGbdt(data, small);
    const probe = table(2, [numeric('x', [Number.NaN, 0.5])], [0, 0]);
    const [pMissing, pPresent] = predict(model, probe.features);
    expect(pMissing).toBeGreaterThan(0.85);
    expect(pPresent).toBeLessThan(0.25);
  });

  it('is deterministic for a seed, with bagging and feature sampling', async () => {
    const { data } = categorical(20_000, 6);
    const params = { ...small, baggingFraction: 0.7, baggingFreq: 1, featureFraction: 0.5 };
    const a = await trainGbdt(data, params);
    const b = await trainGbdt(data, params);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const c = await trainGbdt(data, { ...params, seed: 2 });
    expect(JSON.stringify(c.trees)).not.toBe(JSON.stringify(a.trees));
  });

  it('resumed from a checkpoint, ends with the same model as a run that never stopped', async () => {
    const { data } = categorical(20_000, 7);
    const validation = categorical(5_000, 8).data;
    const params = { ...small, numIterations: 25, baggingFraction: 0.8, baggingFreq: 2, earlyStoppingRounds: 50 };
    let saved: Uint8Array | undefined;
    const whole = await trainGbdt(data, params, {
      validation,
      checkpointEvery: 5,
      onCheckpoint: (cp: GbdtCheckpoint) => {
        if (cp.iteration === 10) saved = encodeCheckpoint(cp);
      },
    });
    expect(saved).toBeDefined();
    const resumed = await trainGbdt(data, params, { validation, resumeFrom: decodeCheckpoint(saved!) });
    expect(JSON.stringify(resumed)).toBe(JSON.stringify(whole));
  });

  it('stops early on the validation metric and keeps the best round', async () => {
    const train = xor(3_000, 9);
    const validation = xor(3_000, 10);
    const seen: number[] = [];
    const model = await trainGbdt(train, { ...small, numLeaves: 31, minDataInLeaf: 2, learningRate: 0.5, numIterations: 300, earlyStoppingRounds: 10 }, {
      validation,
      onIteration: (i) => void seen.push(i.validMetric!),
    });
    expect(seen.length).toBeLessThan(300);
    const best = seen.indexOf(Math.min(...seen)) + 1;
    expect(model.bestIteration).toBe(best);
    expect(model.iterations).toBe(best);
    expect(model.trees.length).toBe(best);
    expect(seen.length).toBe(best + 10);
  });

  it('rejects bad labels and parameters with the name of what is wrong', async () => {
    const data = xor(100, 11);
    await expect(trainGbdt({ ...data, labels: Float32Array.from(data.labels, (y, i) => (i === 7 ? 2 : y)) }, small)).rejects.toThrow(
      'label of row 7 must be 0 or 1, got 2',
    );
    await expect(trainGbdt(data, { ...small, numLeaves: 1 })).rejects.toThrow('numLeaves must be an integer in [2, 131072]');
  });
});

describe('ONNX export', () => {
  for (const objective of ['binary', 'multiclass', 'regression'] as const) {
    it(`scores like the trainer in onnxruntime (${objective}), missing and unseen values included`, async () => {
      const { data } = categorical(20_000, 12);
      const labels =
        objective === 'multiclass'
          ? Float32Array.from(data.labels, (y, i) => (y + (i % 3)) % 3)
          : objective === 'regression'
            ? Float32Array.from(data.labels, (y, i) => y * 10 + (i % 7))
            : data.labels;
      // Missing values in the numeric column.
      const noise = data.features.columns[1]!;
      if (noise.kind !== 'numeric') throw new Error('noise must be numeric');
      for (let i = 0; i < noise.values.length; i += 13) noise.values[i] = Number.NaN;
      const model = await trainGbdt({ features: data.features, labels }, { ...small, objective, numClass: objective === 'multiclass' ? 3 : 1 });
      const test = categorical(2_000, 13).data.features;
      const shop = test.columns[0]!;
      if (shop.kind !== 'categorical') throw new Error('shop must be categorical');
      // An unseen category and a missing one.
      const probe = { ...test, columns: [{ ...shop, dictionary: [...shop.dictionary, 'never-seen'], codes: Int32Array.from(shop.codes, (c, i) => (i === 0 ? shop.dictionary.length : i === 1 ? -1 : c)) }, test.columns[1]!] };
      const session = await loadSession(exportGbdt(model, { producerName: 'test', producerVersion: '0' }));
      const actual = await runModel(session, probe, outputName(objective));
      const expected = predict(model, probe);
      expect(actual.length).toBe(expected.length);
      let maxDiff = 0;
      for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
      expect(maxDiff).toBeLessThan(1e-5);
      if (objective === 'multiclass') {
        const a = multiclassMetrics(labels.subarray(0, probe.rows), actual, [1 / 3, 1 / 3, 1 / 3]);
        const e = multiclassMetrics(labels.subarray(0, probe.rows), expected, [1 / 3, 1 / 3, 1 / 3]);
        expect(a.accuracy).toBe(e.accuracy);
      }
      await session.release();
    });
  }
});

describe('ONNX export of categorical splits', () => {
  it('scores like the trainer when a categorical feature has no category frequent enough to keep', async () => {
    const { data } = categorical(5_000, 21);
    // Every serial number is seen once: all rare, so the feature has no categories and no splits.
    const serial = { name: 'serial', kind: 'categorical' as const, codes: Int32Array.from({ length: data.features.rows }, (_, i) => i), dictionary: Array.from({ length: data.features.rows }, (_, i) => `s${i}`) };
    const features = { ...data.features, columns: [serial, ...data.features.columns] };
    const model = await trainGbdt({ features, labels: data.labels }, small);
    const serialBins = model.features[0]!;
    expect(serialBins.kind === 'categorical' && serialBins.categories.length).toBe(0);
    // The category sets the trees test on 'shop' are shared by several splits: one column each.
    const session = await loadSession(exportGbdt(model, { producerName: 'test', producerVersion: '0' }));
    const actual = await runModel(session, features, outputName('binary'));
    const expected = predict(model, features);
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
    await session.release();
  });
});

describe('stored models', () => {
  it('keep a split of missing values against all others (an infinite threshold) through their JSON', async () => {
    // A numeric feature whose missing values tell the label: the first split sends every value one way, NaN the other.
    const n = 4000;
    const rand = mulberry32(3);
    const values = new Float32Array(n);
    const labels = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      values[i] = rand() < 0.3 ? NaN : Math.floor(rand() * 3);
      labels[i] = (Number.isNaN(values[i]!) ? rand() < 0.9 : rand() < 0.2) ? 1 : 0;
    }
    const data: LabeledTable = { features: { rows: n, columns: [{ name: 'a', kind: 'numeric', values }] }, labels };
    const model = await trainGbdt(data, { objective: 'binary', numIterations: 3, numLeaves: 4, minDataInLeaf: 5 });
    expect(model.trees.some((t) => t.threshold.some((x) => !Number.isFinite(x)))).toBe(true); // one numeric feature: every node is a numeric split
    const stored = decodeModel(encodeModel(model));
    expect(Array.from(predict(stored, data.features))).toEqual(Array.from(predict(model, data.features)));
  });
});

describe('TreeSHAP', () => {
  /** A categorical with signal, two numerics that interact, one of them missing in 20% of rows: labels per objective. */
  function mixed(rows: number, seed: number, objective: 'binary' | 'multiclass' | 'regression'): LabeledTable {
    const random = mulberry32(seed);
    const dictionary = ['a', 'b', 'c', 'd', 'e', 'f'];
    const codes = new Int32Array(rows);
    const x1: number[] = [];
    const x2: number[] = [];
    const x3: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < rows; i++) {
      codes[i] = random() < 0.05 ? -1 : Math.floor(random() * dictionary.length);
      x1.push(random() < 0.2 ? NaN : random());
      x2.push(random());
      x3.push(Math.floor(random() * 4));
      const score = (codes[i]! % 2 === 0 ? 1 : -1) + (Number.isNaN(x1[i]!) ? 0.5 : x1[i]! > 0.5 === x2[i]! > 0.5 ? 1.5 : -1) + x3[i]! * 0.2 + random() - 0.5;
      y.push(objective === 'regression' ? score * 10 : objective === 'binary' ? (score > 0.3 ? 1 : 0) : score < -0.5 ? 0 : score < 1 ? 1 : 2);
    }
    const columns: Column[] = [{ name: 'shop', kind: 'categorical', codes, dictionary }, numeric('x1', x1), numeric('x2', x2), numeric('x3', x3)];
    return table(rows, columns, y);
  }

  /** v(S): each output's expected raw score with the features in S known, the others following the training rows down both children. */
  function coalitionValue(model: GbdtModel, row: Float32Array, known: Set<number>): Float64Array {
    const forest = forestOf(model.trees);
    const cover = (c: number) => (c < 0 ? forest.leafCover[~c]! : forest.nodeCover[c]!);
    const value = (n: number): number => {
      if (n < 0) return forest.leafValue[~n]!;
      const [l, r] = [forest.left[n]!, forest.right[n]!];
      if (known.has(forest.feature[n]!)) return value(goesLeft(forest, n, row[forest.feature[n]!]!) ? l : r);
      return (cover(l) * value(l) + cover(r) * value(r)) / forest.nodeCover[n]!;
    };
    const out = Float64Array.from(model.initScores);
    for (let t = 0; t < forest.root.length; t++) out[t % model.outputs]! += value(forest.root[t]!);
    return out;
  }

  /** Shapley values by their definition: every coalition, weighted |S|! (M - |S| - 1)! / M!. */
  function bruteForce(model: GbdtModel, row: Float32Array): Float64Array {
    const M = model.features.length;
    const K = model.outputs;
    const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));
    const values = new Map<number, Float64Array>();
    for (let mask = 0; mask < 1 << M; mask++) values.set(mask, coalitionValue(model, row, new Set(Array.from({ length: M }, (_, f) => f).filter((f) => mask & (1 << f)))));
    const phi = new Float64Array(K * M);
    for (let f = 0; f < M; f++) {
      for (let mask = 0; mask < 1 << M; mask++) {
        if (mask & (1 << f)) continue;
        const size = Array.from({ length: M }, (_, g) => (mask >> g) & 1).reduce((a, b) => a + b, 0);
        const weight = (factorial(size) * factorial(M - size - 1)) / factorial(M);
        for (let k = 0; k < K; k++) phi[k * M + f]! += weight * (values.get(mask | (1 << f))![k]! - values.get(mask)![k]!);
      }
    }
    return phi;
  }

  for (const objective of ['binary', 'multiclass', 'regression'] as const) {
    it(`${objective}: equals the exact Shapley values of a small model, and adds up to its raw score`, async () => {
      const data = mixed(3000, 11, objective);
      const model = await trainGbdt(data, { objective, numClass: objective === 'multiclass' ? 3 : 1, numIterations: 6, numLeaves: 12, minDataInLeaf: 10, maxCatToOnehot: 2 });
      expect(model.trees.some((t) => t.categories.some((c) => c.length > 0))).toBe(true);
      expect(model.trees.some((t) => t.splitFeature.some((f, n) => f === 1 && t.missingLeft[n]))).toBe(true);
      const test = sliceTable(mixed(40, 12, objective).features, 0, 40);
      const explained = explain(model, test);
      const raw = predictRaw(model, test);
      const rows = encodeRows(model, test);
      const M = model.features.length;
      const K = model.outputs;
      for (let r = 0; r < test.rows; r++) {
        const exact = bruteForce(model, rows.subarray(r * M, (r + 1) * M));
        const phi = explained.contributions.subarray(r * K * M, (r + 1) * K * M);
        for (let i = 0; i < K * M; i++) expect(phi[i]).toBeCloseTo(exact[i]!, 9);
        for (let k = 0; k < K; k++) {
          const sum = phi.subarray(k * M, (k + 1) * M).reduce((a, b) => a + b, explained.expected[k]!);
          expect(Math.abs(sum - raw[r * K + k]!)).toBeLessThan(1e-6 * Math.max(1, Math.abs(raw[r * K + k]!)));
        }
      }
    });
  }
});
