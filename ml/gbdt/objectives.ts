// Loss functions: the initial score, gradients and hessians of each row, and the metric
// early stopping watches (lower is better). Scores are laid out one block of `rows` per
// output: output k of row r is at k * rows + r. Gradients and hessians are interleaved in one
// array, g at 2 * (k * rows + r) and h just after: a histogram reads both for a row, so they
// share a cache line.
import { fastExp } from './fast-exp.js';
import type { Objective } from './params.js';

export interface ObjectiveFunction {
  readonly name: Objective;
  /** Scores per row. */
  readonly outputs: number;
  /** Metric early stopping watches, as LightGBM names it. */
  readonly metric: 'binary_logloss' | 'multi_logloss' | 'rmse';
  /** Check every label; the message names the first bad row. */
  checkLabels(labels: Float32Array): void;
  initScores(labels: Float32Array): number[];
  /** Gradients and hessians of rows [start, end) (all outputs), written into gh. */
  gradients(labels: Float32Array, scores: Float64Array, gh: Float32Array, start: number, end: number): void;
  /** The metric over all rows. */
  loss(labels: Float32Array, scores: Float64Array): number;
}

const EPS = 1e-15;

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function createObjective(name: Objective, numClass: number, huberAlpha: number): ObjectiveFunction {
  switch (name) {
    case 'binary':
      return {
        name,
        outputs: 1,
        metric: 'binary_logloss',
        checkLabels: (labels) => checkEach(labels, (y) => y === 0 || y === 1, 'must be 0 or 1'),
        initScores(labels) {
          const p = Math.min(1 - 1e-12, Math.max(1e-12, mean(labels)));
          return [Math.log(p / (1 - p))];
        },
        gradients(labels, scores, gh, start, end) {
          for (let r = start; r < end; r++) {
            const p = 1 / (1 + fastExp(-scores[r]!));
            gh[2 * r] = p - labels[r]!;
            gh[2 * r + 1] = p * (1 - p);
          }
        },
        loss(labels, scores) {
          let sum = 0;
          for (let r = 0; r < labels.length; r++) {
            const p = Math.min(1 - EPS, Math.max(EPS, sigmoid(scores[r]!)));
            sum -= labels[r] === 1 ? Math.log(p) : Math.log(1 - p);
          }
          return sum / labels.length;
        },
      };
    case 'multiclass': {
      const K = numClass;
      // LightGBM scales the diagonal hessian by K / (K - 1).
      const factor = K / (K - 1);
      return {
        name,
        outputs: K,
        metric: 'multi_logloss',
        checkLabels: (labels) => checkEach(labels, (y) => Number.isInteger(y) && y >= 0 && y < K, `must be a class index in [0, ${K - 1}]`),
        initScores(labels) {
          const counts = new Float64Array(K);
          for (const y of labels) counts[y]!++;
          return Array.from(counts, (c) => Math.log(Math.max(1e-12, c / labels.length)));
        },
        gradients(labels, scores, gh, start, end) {
          const n = labels.length;
          const p = new Float64Array(K);
          for (let r = start; r < end; r++) {
            // Softmax as softmaxInto, with fastExp.
            let max = Number.NEGATIVE_INFINITY;
            for (let k = 0; k < K; k++) max = Math.max(max, scores[k * n + r]!);
            let sum = 0;
            for (let k = 0; k < K; k++) sum += p[k] = fastExp(scores[k * n + r]! - max);
            const y = labels[r]!;
            for (let k = 0; k < K; k++) {
              const pk = p[k]! / sum;
              gh[2 * (k * n + r)] = pk - (k === y ? 1 : 0);
              gh[2 * (k * n + r) + 1] = factor * pk * (1 - pk);
            }
          }
        },
        loss(labels, scores) {
          const n = labels.length;
          const p = new Float64Array(K);
          let sum = 0;
          for (let r = 0; r < n; r++) {
            softmaxInto(scores, r, n, p);
            sum -= Math.log(Math.max(EPS, p[labels[r]!]!));
          }
          return sum / n;
        },
      };
    }
    case 'regression':
    case 'huber':
      return {
        name,
        outputs: 1,
        metric: 'rmse',
        checkLabels: (labels) => checkEach(labels, Number.isFinite, 'must be a finite number'),
        initScores: (labels) => [mean(labels)],
        gradients(labels, scores, gh, start, end) {
          for (let r = start; r < end; r++) {
            const residual = scores[r]! - labels[r]!;
            gh[2 * r] = name === 'huber' ? Math.max(-huberAlpha, Math.min(huberAlpha, residual)) : residual;
            gh[2 * r + 1] = 1;
          }
        },
        loss(labels, scores) {
          let sum = 0;
          for (let r = 0; r < labels.length; r++) sum += (scores[r]! - labels[r]!) ** 2;
          return Math.sqrt(sum / labels.length);
        },
      };
  }
}

/** Softmax of row r's K scores (stored one block of n per class) into p. */
export function softmaxInto(scores: ArrayLike<number>, r: number, n: number, p: Float64Array): void {
  const K = p.length;
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < K; k++) max = Math.max(max, scores[k * n + r]!);
  let sum = 0;
  for (let k = 0; k < K; k++) {
    p[k] = Math.exp(scores[k * n + r]! - max);
    sum += p[k]!;
  }
  for (let k = 0; k < K; k++) p[k]! /= sum;
}

function mean(values: Float32Array): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / Math.max(1, values.length);
}

function checkEach(labels: Float32Array, ok: (y: number) => boolean, rule: string): void {
  for (let r = 0; r < labels.length; r++) {
    if (!ok(labels[r]!)) throw new RangeError(`label of row ${r} ${rule}, got ${labels[r]}`);
  }
}
