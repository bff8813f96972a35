// Metrics for binary classifiers. Rows whose label is NaN are skipped.

export interface BinaryMetrics {
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
    rows: n,
    positiveRate: n ? pos / n : Number.NaN,
    auc: auc(labels, probs),
    logLoss: logLoss(labels, probs),
    accuracy: n ? correct / n : Number.NaN,
    baselineLogLoss: logLoss(labels, baseline),
    baselineRate,
  };
}
