// The metrics of each kind of model, the naive baselines every model must beat, and calibration:
// pure functions that tasks/ puts together per task. Rows whose label is NaN are skipped.

export type Task = 'binary' | 'multiclass' | 'regression';

export interface BinaryMetrics {
  readonly task: 'binary';
  readonly rows: number;
  readonly positiveRate: number;
  readonly auc: number;
  readonly logLoss: number;
  readonly accuracy: number;
  /** Log loss of always predicting `baselineRate` (the training base rate): the bar to beat. */
  readonly baselineLogLoss: number;
  readonly baselineRate: number;
}

const EPS = 1e-15;

export function logLoss(labels: ArrayLike<number>, probs: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (Number.isNaN(y)) continue;
    const p = Math.min(1 - EPS, Math.max(EPS, probs[i]!));
    sum -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
    n++;
  }
  return n === 0 ? Number.NaN : sum / n;
}

/** Area under the ROC curve by ranks; tied scores share their average rank. */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const idx: number[] = [];
  for (let i = 0; i < labels.length; i++) if (!Number.isNaN(labels[i]!)) idx.push(i);
  idx.sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSumPositives = 0;
  for (let start = 0; start < idx.length; ) {
    let end = start;
    while (end + 1 < idx.length && scores[idx[end + 1]!] === scores[idx[start]!]) end++;
    const avgRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) {
      if (labels[idx[k]!] === 1) {
        positives++;
        rankSumPositives += avgRank;
      }
    }
    start = end + 1;
  }
  const negatives = idx.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSumPositives - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function binaryMetrics(
  labels: ArrayLike<number>,
  probs: ArrayLike<number>,
  threshold: number,
  baselineRate: number,
): BinaryMetrics {
  let n = 0;
  let pos = 0;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (Number.isNaN(y)) continue;
    n++;
    pos += y;
    if ((probs[i]! >= threshold ? 1 : 0) === y) correct++;
  }
  const baseline = new Float64Array(labels.length).fill(baselineRate);
  return {
    task: 'binary',
    rows: n,
    positiveRate: n ? pos / n : Number.NaN,
    auc: auc(labels, probs),
    logLoss: logLoss(labels, probs),
    accuracy: n ? correct / n : Number.NaN,
    baselineLogLoss: logLoss(labels, baseline),
    baselineRate,
  };
}

export interface MulticlassMetrics {
  readonly task: 'multiclass';
  readonly rows: number;
  readonly logLoss: number;
  readonly accuracy: number;
  /** Log loss and accuracy of always predicting the training class frequencies. */
  readonly baselineLogLoss: number;
  readonly baselineAccuracy: number;
}

/** `probs` is row-major [rows x classes]; `priors` are the training class frequencies. */
export function multiclassMetrics(labels: ArrayLike<number>, probs: ArrayLike<number>, priors: readonly number[]): MulticlassMetrics {
  const K = priors.length;
  let n = 0;
  let loss = 0;
  let correct = 0;
  let baselineLoss = 0;
  let baselineCorrect = 0;
  const majority = priors.indexOf(Math.max(...priors));
  for (let r = 0; r < labels.length; r++) {
    const y = labels[r]!;
    if (Number.isNaN(y)) continue;
    n++;
    let best = 0;
    for (let k = 1; k < K; k++) if (probs[r * K + k]! > probs[r * K + best]!) best = k;
    if (best === y) correct++;
    if (majority === y) baselineCorrect++;
    loss -= Math.log(Math.max(EPS, probs[r * K + y]!));
    baselineLoss -= Math.log(Math.max(EPS, priors[y]!));
  }
  return {
    task: 'multiclass',
    rows: n,
    logLoss: n ? loss / n : Number.NaN,
    accuracy: n ? correct / n : Number.NaN,
    baselineLogLoss: n ? baselineLoss / n : Number.NaN,
    baselineAccuracy: n ? baselineCorrect / n : Number.NaN,
  };
}

export interface RegressionMetrics {
  readonly task: 'regression';
  readonly rows: number;
  readonly rmse: number;
  readonly mae: number;
  readonly r2: number;
  /** RMSE of always predicting the training mean. */
  readonly baselineRmse: number;
  readonly baselineMean: number;
}

export function regressionMetrics(labels: ArrayLike<number>, predictions: ArrayLike<number>, trainMean: number): RegressionMetrics {
  let n = 0;
  let sse = 0;
  let sae = 0;
  let sum = 0;
  let baselineSse = 0;
  for (let r = 0; r < labels.length; r++) {
    const y = labels[r]!;
    if (Number.isNaN(y)) continue;
    n++;
    sum += y;
    sse += (predictions[r]! - y) ** 2;
    sae += Math.abs(predictions[r]! - y);
    baselineSse += (trainMean - y) ** 2;
  }
  const mean = sum / n;
  let sst = 0;
  for (let r = 0; r < labels.length; r++) if (!Number.isNaN(labels[r]!)) sst += (labels[r]! - mean) ** 2;
  return {
    task: 'regression',
    rows: n,
    rmse: n ? Math.sqrt(sse / n) : Number.NaN,
    mae: n ? sae / n : Number.NaN,
    r2: sst > 0 ? 1 - sse / sst : Number.NaN,
    baselineRmse: n ? Math.sqrt(baselineSse / n) : Number.NaN,
    baselineMean: trainMean,
  };
}

export type Metrics = BinaryMetrics | MulticlassMetrics | RegressionMetrics;

/** The value of a metric by its name (NaN when the metrics have none of that name). */
export function metricValue(metrics: Metrics, name: string): number {
  const value = (metrics as unknown as Record<string, unknown>)[name];
  return typeof value === 'number' ? value : Number.NaN;
}

/** What the naive model predicts, from the training labels: base rate, class frequencies or mean. */
export type Baseline =
  | { readonly task: 'binary'; readonly rate: number }
  | { readonly task: 'multiclass'; readonly priors: readonly number[] }
  | { readonly task: 'regression'; readonly mean: number };

/** Mean of the labels that are not NaN (0 when there are none). */
export function labelMean(labels: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (Number.isNaN(y)) continue;
    n++;
    sum += y;
  }
  return n ? sum / n : 0;
}

/** Share of each class index 0..classes-1 among the labels that are not NaN (uniform when there are none). */
export function classFrequencies(labels: ArrayLike<number>, classes: number): number[] {
  const counts = new Float64Array(Math.max(1, classes));
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (Number.isNaN(y)) continue;
    n++;
    counts[y]!++;
  }
  return Array.from(counts, (c) => (n ? c / n : 1 / classes));
}

/** Index of the first largest of values[offset .. offset+n). */
export function argmax(values: ArrayLike<number>, offset: number, n: number): number {
  let best = 0;
  for (let k = 1; k < n; k++) if (values[offset + k]! > values[offset + best]!) best = k;
  return best;
}

/**
 * Expected calibration error over `bins` equal-width confidence bins: the row-weighted mean
 * gap between how confident the model is and how often it is right. `confidenceAndHit(r)`
 * gives row r's confidence and 1 or 0 for right or wrong, or null to skip it. NaN when no row counts.
 */
function calibrationError(rows: number, confidenceAndHit: (r: number) => readonly [number, number] | null, bins: number): number {
  const confidence = new Float64Array(bins);
  const outcome = new Float64Array(bins);
  const count = new Float64Array(bins);
  let n = 0;
  for (let r = 0; r < rows; r++) {
    const pair = confidenceAndHit(r);
    if (!pair) continue;
    const [p, hit] = pair;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    confidence[b]! += p;
    outcome[b]! += hit;
    count[b]!++;
    n++;
  }
  if (n === 0) return Number.NaN;
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(confidence[b]! - outcome[b]!) / n;
  return ece;
}

/** ECE of a binary classifier: the predicted probability against the positive rate. */
export function binaryCalibrationError(labels: ArrayLike<number>, probs: ArrayLike<number>, bins = 10): number {
  return calibrationError(labels.length, (r) => (Number.isNaN(labels[r]!) ? null : [probs[r]!, labels[r]!]), bins);
}

/** Top-label ECE of a multiclass classifier (`probs` row-major [rows x classes]): the top class's probability against accuracy. */
export function topLabelCalibrationError(labels: ArrayLike<number>, probs: ArrayLike<number>, classes: number, bins = 10): number {
  return calibrationError(
    labels.length,
    (r) => {
      if (Number.isNaN(labels[r]!)) return null;
      const best = argmax(probs, r * classes, classes);
      return [probs[r * classes + best]!, best === labels[r]! ? 1 : 0];
    },
    bins,
  );
}
