// What a person looks at to judge a model on labelled rows: ROC and precision-recall curves (one
// per class, one against the rest, for multiclass), a reliability diagram, a confusion matrix,
// or residuals against predictions for regression. Curves are thinned to a few hundred points
// (every threshold's point is exact; only which thresholds are drawn is chosen).

export type Point = readonly [number, number];

export interface Curve {
  /** The class the curve is for (the positive label for binary). */
  readonly name: string;
  readonly points: readonly Point[];
  /** Area under the ROC curve, or average precision for a precision-recall curve. */
  readonly area: number;
}

export interface ReliabilityBin {
  readonly predicted: number;
  readonly observed: number;
  readonly rows: number;
}

export type Diagnostics =
  | {
      readonly kind: 'classification';
      readonly rows: number;
      /** [false-positive rate, true-positive rate] */
      readonly roc: readonly Curve[];
      /** [recall, precision] */
      readonly pr: readonly Curve[];
      /** Mean predicted probability (of the predicted class, for multiclass) against how often it was right. */
      readonly calibration: readonly ReliabilityBin[];
      /** matrix[actual][predicted] row counts. */
      readonly confusion: { readonly labels: readonly string[]; readonly matrix: readonly (readonly number[])[] };
    }
  | {
      readonly kind: 'regression';
      readonly rows: number;
      /** [prediction, label - prediction] for rows spread over the holdout. */
      readonly residuals: readonly Point[];
      /** Mean residual per prediction decile. */
      readonly binned: readonly { readonly predicted: number; readonly meanResidual: number; readonly rows: number }[];
    };

const MAX_CURVE_POINTS = 200;
const MAX_SCATTER_POINTS = 1_000;

/** Indices of rows by score, highest first. */
function byScoreDescending(scores: ArrayLike<number>): Uint32Array {
  const order = new Uint32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => scores[b]! - scores[a]!);
}

/** Keep at most `max` points, evenly by index, always the first and last. */
function thin(points: Point[], max: number): Point[] {
  if (points.length <= max) return points;
  const out: Point[] = [];
  for (let k = 0; k < max; k++) out.push(points[Math.round((k * (points.length - 1)) / (max - 1))]!);
  return out;
}

/**
 * ROC and precision-recall curves of `scores` for `positive(i)`, one point per distinct score
 * threshold; the ROC area by the trapezoid rule, average precision as the step sum.
 */
export function rankingCurves(scores: ArrayLike<number>, positive: (i: number) => boolean, name: string): { roc: Curve; pr: Curve } {
  const order = byScoreDescending(scores);
  let positives = 0;
  for (let i = 0; i < scores.length; i++) if (positive(i)) positives++;
  const negatives = scores.length - positives;
  const roc: Point[] = [[0, 0]];
  const pr: Point[] = [];
  let tp = 0;
  let fp = 0;
  let auc = 0;
  let ap = 0;
  let lastRecall = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    if (positive(i)) tp++;
    else fp++;
    // A point only where the threshold changes: rows with equal scores are decided together.
    const next = order[k + 1];
    if (next !== undefined && scores[next] === scores[i]) continue;
    const tpr = positives ? tp / positives : 0;
    const fpr = negatives ? fp / negatives : 0;
    const [prevFpr, prevTpr] = roc.at(-1)!;
    auc += (fpr - prevFpr) * (tpr + prevTpr) / 2;
    roc.push([fpr, tpr]);
    const precision = tp / (tp + fp);
    pr.push([tpr, precision]);
    ap += (tpr - lastRecall) * precision;
    lastRecall = tpr;
  }
  return { roc: { name, points: thin(roc, MAX_CURVE_POINTS), area: auc }, pr: { name, points: thin(pr, MAX_CURVE_POINTS), area: ap } };
}

/** Equal-width probability bins: mean predicted probability, how often the event happened, rows; empty bins left out. */
export function reliability(probability: ArrayLike<number>, happened: (i: number) => boolean, bins = 10): ReliabilityBin[] {
  const sum = new Float64Array(bins);
  const hits = new Float64Array(bins);
  const rows = new Float64Array(bins);
  for (let i = 0; i < probability.length; i++) {
    const p = probability[i]!;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    sum[b]! += p;
    rows[b]!++;
    if (happened(i)) hits[b]!++;
  }
  const out: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) if (rows[b]) out.push({ predicted: sum[b]! / rows[b]!, observed: hits[b]! / rows[b]!, rows: rows[b]! });
  return out;
}

/** matrix[actual][predicted] counts over class indices 0..labels-1. */
export function confusion(actual: (i: number) => number, predicted: (i: number) => number, rows: number, labels: readonly string[]): { labels: readonly string[]; matrix: number[][] } {
  const matrix = labels.map(() => labels.map(() => 0));
  for (let i = 0; i < rows; i++) matrix[actual(i)]![predicted(i)]!++;
  return { labels, matrix };
}

/** Residuals (label - prediction) against predictions for rows spread evenly, and the mean residual per prediction decile. */
export function residualDiagnostics(labels: ArrayLike<number>, predictions: ArrayLike<number>): Diagnostics {
  const n = predictions.length;
  const step = Math.max(1, n / MAX_SCATTER_POINTS);
  const residuals: Point[] = [];
  for (let k = 0; k < Math.min(n, MAX_SCATTER_POINTS); k++) {
    const i = Math.floor(k * step);
    residuals.push([predictions[i]!, labels[i]! - predictions[i]!]);
  }
  const order = byScoreDescending(predictions).reverse();
  const binned = [];
  for (let d = 0; d < 10; d++) {
    const from = Math.floor((d * n) / 10);
    const to = Math.floor(((d + 1) * n) / 10);
    if (to <= from) continue;
    let p = 0;
    let r = 0;
    for (let k = from; k < to; k++) {
      const i = order[k]!;
      p += predictions[i]!;
      r += labels[i]! - predictions[i]!;
    }
    binned.push({ predicted: p / (to - from), meanResidual: r / (to - from), rows: to - from });
  }
  return { kind: 'regression', rows: n, residuals, binned };
}
