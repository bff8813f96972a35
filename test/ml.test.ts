// ml/: the trainer learns known signals, is deterministic, resumes exactly, and its ONNX
// export reproduces its scores in onnxruntime (including missing and unseen values).
import { describe, expect, it } from 'vitest';
import { loadSession, predictProbabilities } from '../core/inference.js';
import {
  predictAdditiveLogistic,
  trainAdditiveLogistic,
  type AdditiveLogisticConfig,
  type Checkpoint,
} from '../ml/additive-logistic.js';
import { auc, binaryMetrics, logLoss } from '../ml/metrics.js';
import { exportAdditiveLogistic } from '../ml/onnx/additive-logistic.js';
import { mulberry32 } from '../ml/random.js';
import type { ColumnTable, LabeledTable } from '../ml/table.js';

const config: AdditiveLogisticConfig = {
  epochs: 4,
  batchSize: 256,
  learningRate: 0.05,
  l2: 1e-6,
  numericBins: 16,
  minCategoryCount: 5,
  seed: 3,
};

/** y depends on a category (strongly) and on x > 0.5 (weakly); x is missing 5% of the time. */
function synthetic(rows: number, seed: number): LabeledTable {
  const random = mulberry32(seed);
  const dictionary = ['red', 'green', 'blue', 'rare'];
  const codes = new Int32Array(rows);
  const x = new Float32Array(rows);
  const labels = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const r = random();
    codes[i] = r < 0.0001 ? 3 : r < 0.4 ? 0 : r < 0.7 ? 1 : r < 0.72 ? -1 : 2;
    x[i] = random() < 0.05 ? Number.NaN : Math.fround(random());
    const logit = (codes[i] === 0 ? 1.5 : codes[i] === 1 ? -1.5 : 0) + (x[i]! > 0.5 ? 0.7 : -0.7);
    labels[i] = random() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
  }
  return {
    features: {
      rows,
      columns: [
        { name: 'color', kind: 'categorical', codes, dictionary },
        { name: 'x', kind: 'numeric', values: x },
      ],
    },
    labels,
  };
}

describe('metrics', () => {
  it('computes AUC with ties and log loss', () => {
    expect(auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75);
    expect(auc([0, 1], [0.5, 0.5])).toBeCloseTo(0.5);
    expect(auc([1, 1], [0.2, 0.3])).toBeNaN();
    expect(logLoss([1, 0], [0.5, 0.5])).toBeCloseTo(Math.log(2));
  });
});

describe('additive logistic trainer', () => {
  const train = synthetic(40_000, 1);
  const test = synthetic(10_000, 2);

  it('learns the categorical and numeric signal', async () => {
    const model = await trainAdditiveLogistic(train, config);
    const m = binaryMetrics(test.labels, predictAdditiveLogistic(model, test.features), 0.5, 0.5);
    expect(m.auc).toBeGreaterThan(0.78);
    expect(m.logLoss).toBeLessThan(m.baselineLogLoss - 0.1);
    const color = model.terms.find((t) => t.feature === 'color');
    expect(color?.kind).toBe('categorical');
    if (color?.kind === 'categorical') {
      const w = Object.fromEntries(color.categories.map((c, i) => [c, color.weights[i]!]));
      expect(w.red! - w.green!).toBeGreaterThan(2.5); // true difference: 3.0
      expect(color.categories).not.toContain('rare'); // below minCategoryCount: shares "other"
    }
  });

  it('is deterministic for a seed and resumes from a checkpoint to the same model', async () => {
    const a = await trainAdditiveLogistic(train, config);
    const b = await trainAdditiveLogistic(train, config);
    expect(b).toEqual(a);
    let saved: Checkpoint | undefined;
    await trainAdditiveLogistic(train, { ...config, epochs: 2 }, { onEpoch: (_e, c) => void (saved = c) });
    const resumed = await trainAdditiveLogistic(train, config, { resumeFrom: JSON.parse(JSON.stringify(saved)) as Checkpoint });
    expect(resumed).toEqual(a);
  });

  it('exports ONNX that onnxruntime scores like the trainer, missing and unseen values included', async () => {
    const model = await trainAdditiveLogistic(train, config);
    const session = await loadSession(exportAdditiveLogistic(model, { producerName: 'test', producerVersion: '0' }));
    // Unseen category and all-missing rows on top of the test rows.
    const colorCol = test.features.columns[0]!;
    const xCol = test.features.columns[1]!;
    if (colorCol.kind !== 'categorical' || xCol.kind !== 'numeric') throw new Error('fixture shape');
    const table: ColumnTable = {
      rows: test.features.rows + 2,
      columns: [
        { ...colorCol, dictionary: [...colorCol.dictionary, 'never-seen'], codes: Int32Array.from([...colorCol.codes, 4, -1]) },
        { ...xCol, values: Float32Array.from([...xCol.values, 0.9, Number.NaN]) },
      ],
    };
    const expected = predictAdditiveLogistic(model, table);
    const actual = await predictProbabilities(session, table);
    let maxDiff = 0;
    let labelMismatches = 0;
    for (let i = 0; i < table.rows; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
      if (actual[i]! >= 0.5 !== expected[i]! >= 0.5) labelMismatches++;
    }
    expect(maxDiff).toBeLessThan(1e-5);
    expect(labelMismatches).toBe(0);
    await session.release();
  });
});
