// Binary classification: one probability per row (the ONNX output `probability`), a label at
// or above the model's decision threshold, the training base rate as the naive model.
import { BIGINT, DOUBLE } from '@duckdb/node-api';
import { quoteIdent } from '../core/duckdb.js';
import { binaryCalibrationError, binaryMetrics, labelMean, type Baseline, type BinaryMetrics, type Metrics } from '../ml/metrics.js';
import { confusion, rankingCurves, reliability } from '../ml/curves.js';
import { ownVariant, type ModelShape, type ModelTask, type TaskKind } from './task.js';

type BinaryBaseline = Extract<Baseline, { task: 'binary' }>;
const show = (x: number) => x.toFixed(4);

export const binary: TaskKind = {
  name: 'binary',
  metrics: { auc: 'higher', logLoss: 'lower', accuracy: 'higher' },
  loss: 'logLoss',
  calibrated: true,
  link: 'logit',
  checkClasses: (classes) => (classes ? 'is only for multiclass tasks' : null),
  objectives: [],
  objective: () => ({ objective: 'binary', numClass: 1 }),
  labelSql: (column) => `CAST(${quoteIdent(column)} AS DOUBLE)`,
  baseline: (labels): BinaryBaseline => ({ task: 'binary', rate: labelMean(labels) }),
  constantPredictions: (baseline, rows) => new Float32Array(rows).fill(ownVariant<BinaryBaseline>(baseline, 'binary').rate),
  baselineComparison(m: Metrics) {
    const b = ownVariant<BinaryMetrics>(m, 'binary');
    return { metric: 'logLoss', value: b.logLoss, baseline: b.baselineLogLoss, naive: `always predicting the base rate ${show(b.baselineRate)}` };
  },
  describe(m: Metrics) {
    const b = ownVariant<BinaryMetrics>(m, 'binary');
    return `AUC ${show(b.auc)}, log loss ${show(b.logLoss)} (baseline ${show(b.baselineLogLoss)})`;
  },
  forModel: (shape) => binaryModel(shape),
};

function binaryModel({ decisionThreshold }: ModelShape): ModelTask {
  const threshold = Number(decisionThreshold);
  return {
    kind: binary,
    width: 1,
    evaluate: (labels, predictions, baseline) => binaryMetrics(labels, predictions, threshold, ownVariant<BinaryBaseline>(baseline, 'binary').rate),
    calibrationError: (labels, predictions, bins) => binaryCalibrationError(labels, predictions, bins),
    diagnostics(labels, predictions) {
      const { roc, pr } = rankingCurves(predictions, (i) => labels[i] === 1, 'true');
      const decided = (i: number) => (predictions[i]! >= threshold ? 1 : 0);
      return {
        kind: 'classification',
        rows: labels.length,
        roc: [roc],
        pr: [pr],
        calibration: reliability(predictions, (i) => labels[i] === 1),
        confusion: confusion((i) => (labels[i] === 1 ? 1 : 0), decided, labels.length, ['false', 'true']),
      };
    },
    sameDecision: (a, b, r) => a[r]! >= threshold === b[r]! >= threshold,
    answer: (output, r) => ({ probability: output[r]!, label: output[r]! >= threshold, threshold }),
    predictionColumns: ['probability', 'label'],
    predictionExpressions: () => ['s0 AS probability', `s0 >= ${threshold} AS label`],
    monitoredOutputs: [{ name: 'probability', kind: 'numeric', expression: 'probability' }],
    labelledOutputs: (alias) => [`${alias}.probability::DOUBLE AS p`],
    labelForDrift: { name: 'label', kind: 'categorical', expression: `CASE WHEN y = 1 THEN 'true' ELSE 'false' END` },
    performanceQuery: (bins) => ({ file: 'monitoring/performance_binary.sql', params: [threshold, bins], types: [DOUBLE, BIGINT] }),
  };
}
