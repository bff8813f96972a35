// TreeSHAP on real rows: for each shipped flights model (binary, multiclass, regression),
// trained on two weeks of the lake, the contributions of 10,000 rows of a later week plus the
// expected value equal the model's raw score, per class for multiclass: to 1e-9 against the
// raw score summed in float64, and within float32 rounding of the score the model serves
// (summed in float32, as onnxruntime sums it). ml.test.ts checks exactness against brute-force
// Shapley values on small models.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Paths } from '../core/config.js';
import { gbdtParams } from '../core/spec.js';
import { encodeRows, forestOf, goesLeft, predictRaw } from '../ml/gbdt/model.js';
import { explain } from '../ml/gbdt/shap.js';
import { trainGbdt } from '../ml/gbdt/train.js';
import { firstWeeksAndNewest, testPaths } from './helpers.js';

const ROWS = 10_000;
const FLOAT32_UNIT_ROUNDOFF = 2 ** -24;
let paths: Paths;

beforeAll(async () => {
  paths = await testPaths();
});

describe('TreeSHAP on real rows', () => {
  for (const model of ['flight_delay', 'flight_delay_class', 'flight_delay_minutes']) {
    it(`${model}: expected + contributions = the raw score on ${ROWS.toLocaleString('en-US')} flights`, async () => {
      const { loaded, train, test } = await firstWeeksAndNewest(paths, model, ROWS);
      expect(test.features.rows).toBe(ROWS);
      const trained = await trainGbdt(train, gbdtParams(loaded.spec, { numIterations: 30, earlyStoppingRounds: 0 }));
      const e = explain(trained, test.features);
      const served = predictRaw(trained, test.features);
      // The same trees summed in float64: the raw score the Shapley values decompose.
      const forest = forestOf(trained.trees);
      const x = encodeRows(trained, test.features);
      const K = trained.outputs;
      const F = trained.features.length;
      const roundingBound = (forest.root.length / K) * FLOAT32_UNIT_ROUNDOFF;
      let worstExact = 0;
      let worstServed = 0;
      for (let r = 0; r < ROWS; r++) {
        const exact = Float64Array.from(trained.initScores);
        const magnitude = Float64Array.from(trained.initScores, Math.abs);
        for (let t = 0; t < forest.root.length; t++) {
          let n = forest.root[t]!;
          while (n >= 0) n = goesLeft(forest, n, x[r * F + forest.feature[n]!]!) ? forest.left[n]! : forest.right[n]!;
          exact[t % K]! += forest.leafValue[~n]!;
          magnitude[t % K]! += Math.abs(forest.leafValue[~n]!);
        }
        for (let k = 0; k < K; k++) {
          let sum = e.expected[k]!;
          for (let f = 0; f < F; f++) sum += e.contributions[(r * K + k) * F + f]!;
          worstExact = Math.max(worstExact, Math.abs(sum - exact[k]!));
          // The served score is a float32 sum of n terms: each addition rounds by up to half a unit
          // in the last place, so it may differ by (n - 1) x 2^-24 x the sum of the terms' magnitudes.
          worstServed = Math.max(worstServed, Math.abs(sum - served[r * K + k]!) / (roundingBound * magnitude[k]!));
        }
      }
      console.log(`${model}: worst |expected + contributions - raw| ${worstExact.toExponential(2)} (float64 raw); against the served float32 raw, ${worstServed.toFixed(3)} of the float32 rounding bound`);
      expect(worstExact).toBeLessThan(1e-9);
      expect(worstServed).toBeLessThan(1);
      // Not a degenerate model: the contributions move the scores.
      expect(e.contributions.some((c) => Math.abs(c) > 1e-3)).toBe(true);
    });
  }
});
