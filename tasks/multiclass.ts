// Multiclass classification: one probability per declared class (the ONNX output
// `probabilities`, [rows x classes]), the label is the first most probable class, the training
// class frequencies are the naive model, calibration is top-label.
import { BIGINT } from '@duckdb/node-api';
import { quoteIdent, quoteLiteral } from '../core/duckdb.js';
import { argmax, classFrequencies, multiclassMetrics, topLabelCalibrationError, type Baseline, type Metrics, type MulticlassMetrics } from '../ml/metrics.js';
import { confusion, rankingCurves, reliability } from '../ml/curves.js';
import { ownVariant, type ModelShape, type ModelTask, type TaskKind } from './task.js';

type MulticlassBaseline = Extract<Baseline, { task: 'multiclass' }>;
const show = (x: number) => x.toFixed(4);
const sqlList = (classes: readonly string[]) => `[${classes.map(quoteLiteral).join(', ')}]`;

export const multiclass: TaskKind = {
  name: 'multiclass',
  metrics: { logLoss: 'lower', accuracy: 'higher' },
  loss: 'logLoss',
  calibrated: true,
  link: 'softmax',
  checkClasses: (classes) =>
    !classes || classes.length < 2 ? 'must list at least 2 classes for a multiclass task' : new Set(classes).size !== classes.length ? 'must not repeat a class' : null,
  objectives: [],
  objective: (classes) => ({ objective: 'multiclass', numClass: classes }),
  // The class's index in `classes`; NULL for a value that is not a declared class.
  labelSql: (column, classes) => `CAST(nullif(list_position(${sqlList(classes ?? [])}, CAST(${quoteIdent(column)} AS VARCHAR)), 0) - 1 AS DOUBLE)`,
  baseline: (labels, classes): MulticlassBaseline => ({ task: 'multiclass', priors: classFrequencies(labels, classes) }),
  constantPredictions(baseline, rows) {
    const { priors } = ownVariant<MulticlassBaseline>(baseline, 'multiclass');
    const out = new Float32Array(rows * priors.length);
    for (let r = 0; r < rows; r++) out.set(priors, r * priors.length);
    return out;
  },
  baselineComparison(m: Metrics) {
    const x = ownVariant<MulticlassMetrics>(m, 'multiclass');
    return { metric: 'logLoss', value: x.logLoss, baseline: x.baselineLogLoss, naive: 'always predicting the training class frequencies' };
  },
  describe(m: Metrics) {
    const x = ownVariant<MulticlassMetrics>(m, 'multiclass');
    return `accuracy ${show(x.accuracy)} (baseline ${show(x.baselineAccuracy)}), log loss ${show(x.logLoss)} (baseline ${show(x.baselineLogLoss)})`;
  },
  forModel: (shape) => multiclassModel(shape),
};

function multiclassModel(shape: ModelShape): ModelTask {
  const classes = shape.classes ?? [];
  const K = classes.length;
  const probabilityColumns = classes.map((c) => `probability_${c}`);
  const scores = classes.map((_, k) => `s${k}`).join(', ');
  return {
    kind: multiclass,
    width: K,
    evaluate: (labels, predictions, baseline) => multiclassMetrics(labels, predictions, ownVariant<MulticlassBaseline>(baseline, 'multiclass').priors),
    calibrationError: (labels, predictions, bins) => topLabelCalibrationError(labels, predictions, K, bins),
    sameDecision: (a, b, r) => argmax(a, r * K, K) === argmax(b, r * K, K),
    diagnostics(labels, predictions) {
      const rows = labels.length;
      const curves = classes.map((c, k) => {
        const scores = new Float64Array(rows);
        for (let i = 0; i < rows; i++) scores[i] = predictions[i * K + k]!;
        return rankingCurves(scores, (i) => labels[i] === k, c);
      });
      const top = new Float64Array(rows);
      for (let i = 0; i < rows; i++) top[i] = predictions[i * K + argmax(predictions, i * K, K)]!;
      return {
        kind: 'classification',
        rows,
        roc: curves.map((c) => c.roc),
        pr: curves.map((c) => c.pr),
        calibration: reliability(top, (i) => argmax(predictions, i * K, K) === labels[i]),
        confusion: confusion((i) => labels[i]!, (i) => argmax(predictions, i * K, K), rows, classes),
      };
    },
    answer(output, r) {
      const probabilities: Record<string, number> = {};
      for (let k = 0; k < K; k++) probabilities[classes[k]!] = output[r * K + k]!;
      return { probabilities, label: classes[argmax(output, r * K, K)]! };
    },
    predictionColumns: [...probabilityColumns, 'label'],
    // list_position finds the first largest, as argmax does.
    predictionExpressions: () => [
      ...probabilityColumns.map((c, k) => `s${k} AS ${quoteIdent(c)}`),
      `${sqlList(classes)}[list_position([${scores}], greatest(${scores}))] AS label`,
    ],
    // The predicted class, and each class's probability: a model that mostly predicts the
    // majority class can keep predicting it while its probabilities move.
    monitoredOutputs: [
      { name: 'predicted class', kind: 'categorical', expression: 'label' },
      ...classes.map((c, k) => ({ name: `probability of ${c}`, kind: 'numeric' as const, expression: quoteIdent(probabilityColumns[k]!) })),
    ],
    labelledOutputs: (alias) => [`[${probabilityColumns.map((c) => `${alias}.${quoteIdent(c)}::DOUBLE`).join(', ')}] AS probs`],
    labelForDrift: { name: 'label', kind: 'categorical', expression: `${sqlList(classes)}[y::BIGINT + 1]` },
    performanceQuery: (bins) => ({ file: 'monitoring/performance_multiclass.sql', params: [bins], types: [BIGINT] }),
  };
}
