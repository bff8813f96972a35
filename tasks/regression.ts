// Regression: one number per row (the ONNX output `prediction`), the training mean as the
// naive model; squared error by default, Huber when the spec chooses it.
import { quoteIdent } from '../core/duckdb.js';
import { labelMean, regressionMetrics, type Baseline, type Metrics, type RegressionMetrics } from '../ml/metrics.js';
import { residualDiagnostics } from '../ml/curves.js';
import { ownVariant, type ModelTask, type TaskKind } from './task.js';

type RegressionBaseline = Extract<Baseline, { task: 'regression' }>;
const show = (x: number) => x.toFixed(4);

export const regression: TaskKind = {
  name: 'regression',
  metrics: { rmse: 'lower', mae: 'lower', r2: 'higher' },
  loss: 'rmse',
  calibrated: false,
  link: 'identity',
  checkClasses: (classes) => (classes ? 'is only for multiclass tasks' : null),
  objectives: ['huber'],
  objective: (_classes, chosen) => ({ objective: chosen === 'huber' ? 'huber' : 'regression', numClass: 1 }),
  labelSql: (column) => `CAST(${quoteIdent(column)} AS DOUBLE)`,
  baseline: (labels): RegressionBaseline => ({ task: 'regression', mean: labelMean(labels) }),
  constantPredictions: (baseline, rows) => new Float32Array(rows).fill(ownVariant<RegressionBaseline>(baseline, 'regression').mean),
  baselineComparison(m: Metrics) {
    const x = ownVariant<RegressionMetrics>(m, 'regression');
    return { metric: 'rmse', value: x.rmse, baseline: x.baselineRmse, naive: `always predicting the training mean ${show(x.baselineMean)}` };
  },
  describe(m: Metrics) {
    const x = ownVariant<RegressionMetrics>(m, 'regression');
    return `RMSE ${show(x.rmse)} (baseline ${show(x.baselineRmse)}), MAE ${show(x.mae)}, R² ${show(x.r2)}`;
  },
  forModel: () => regressionModel,
};

const regressionModel: ModelTask = {
  kind: regression,
  width: 1,
  evaluate: (labels, predictions, baseline) => regressionMetrics(labels, predictions, ownVariant<RegressionBaseline>(baseline, 'regression').mean),
  calibrationError: () => null,
  sameDecision: () => true,
  diagnostics: (labels, predictions) => residualDiagnostics(labels, predictions),
  answer: (output, r) => ({ prediction: output[r]! }),
  predictionColumns: ['prediction'],
  predictionExpressions: () => ['s0 AS prediction'],
  monitoredOutputs: [{ name: 'prediction', kind: 'numeric', expression: 'prediction' }],
  labelledOutputs: (alias) => [`${alias}.prediction::DOUBLE AS p`],
  labelForDrift: { name: 'label', kind: 'numeric', expression: 'y' },
  performanceQuery: () => ({ file: 'monitoring/performance_regression.sql', params: [], types: [] }),
};
