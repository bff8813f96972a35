// The exported ONNX graph scores 100,000 real flights exactly as the trainer does, for each
// of the shipped flights models (binary, multiclass, regression): every score within 1e-5
// and every predicted label equal.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Paths } from '../core/config.js';
import { loadSession, runModel } from '../core/inference.js';
import { gbdtParams, specShape } from '../core/spec.js';
import { modelTask } from '../tasks/index.js';
import { predict } from '../ml/gbdt/model.js';
import { trainGbdt } from '../ml/gbdt/train.js';
import { exportGbdt, outputName } from '../ml/onnx/tree-ensemble.js';
import { firstWeeksAndNewest, testPaths } from './helpers.js';

const ROWS = 100_000;
let paths: Paths;

beforeAll(async () => {
  paths = await testPaths();
});

describe('ONNX parity on real rows', () => {
  for (const model of ['flight_delay', 'flight_delay_class', 'flight_delay_minutes']) {
    it(`${model}: onnxruntime equals the trainer on ${ROWS.toLocaleString('en-US')} flights`, async () => {
      const { loaded, train, test } = await firstWeeksAndNewest(paths, model, ROWS);
      expect(test.features.rows).toBe(ROWS);
      const trained = await trainGbdt(train, gbdtParams(loaded.spec, { numIterations: 40, earlyStoppingRounds: 0 }));
      const session = await loadSession(exportGbdt(trained, { producerName: 'test', producerVersion: '0' }));
      try {
        const expected = predict(trained, test.features);
        const actual = await runModel(session, test.features, outputName(trained.objective));
        expect(actual.length).toBe(expected.length);
        let maxDiff = 0;
        let labelMismatches = 0;
        for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
        const task = modelTask(specShape(loaded.spec));
        for (let r = 0; r < ROWS; r++) if (!task.sameDecision(actual, expected, r)) labelMismatches++;
        expect(maxDiff).toBeLessThan(1e-5);
        expect(labelMismatches).toBe(0);
      } finally {
        await session.release();
      }
    });
  }
});
