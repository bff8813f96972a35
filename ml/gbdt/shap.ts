// TreeSHAP (Lundberg, Erion and Lee 2018, "Consistent individualized feature attribution for
// tree ensembles", Algorithm 2): each feature's exact Shapley value for one row's raw score,
// where a coalition's value is the tree's expected output with the features outside it
// following the training rows down both children (weighted by how many went each way). It
// runs in O(leaves x depth^2) per tree rather than over every coalition.
//
// Additivity: per output, the contributions plus the expected value (the initial score plus
// each tree's leaf values averaged over its training rows) equal the raw score. The served
// raw score is summed in float32 (as onnxruntime sums it); these are float64, so they differ
// from it by float32 rounding only.
import { encodeRows, forestOf, goesLeft, type Forest, type GbdtModel } from './model.js';
import type { ColumnTable } from '../table.js';

export interface Explanation {
  /** Row-major [rows x outputs x features]: each feature's contribution to each output's raw score. */
  readonly contributions: Float64Array;
  /** Per output: the raw score with no feature known (the sum over features is measured from it). */
  readonly expected: Float64Array;
  readonly rows: number;
  readonly outputs: number;
  readonly features: number;
}

/** The expected raw score per output: the initial score plus each tree's cover-weighted mean leaf value. */
export function expectedRaw(model: GbdtModel): Float64Array {
  const forest = forestOf(model.trees);
  const out = Float64Array.from(model.initScores);
  for (let t = 0; t < forest.root.length; t++) out[t % model.outputs]! += expectedTreeValue(forest, forest.root[t]!);
  return out;
}

function expectedTreeValue(forest: Forest, n: number): number {
  if (n < 0) return forest.leafValue[~n]!;
  const cover = forest.nodeCover[n]!;
  const l = forest.left[n]!;
  const r = forest.right[n]!;
  return (coverOf(forest, l) * expectedTreeValue(forest, l) + coverOf(forest, r) * expectedTreeValue(forest, r)) / cover;
}

function coverOf(forest: Forest, c: number): number {
  return c < 0 ? forest.leafCover[~c]! : forest.nodeCover[c]!;
}

/** Every row's contributions per output and feature (TreeSHAP, exact for these trees). */
export function explain(model: GbdtModel, table: ColumnTable): Explanation {
  const K = model.outputs;
  const F = model.features.length;
  const forest = forestOf(model.trees);
  const x = encodeRows(model, table);
  const contributions = new Float64Array(table.rows * K * F);
  const paths = new PathStack(maxDepth(forest));
  for (let r = 0; r < table.rows; r++) {
    const row = x.subarray(r * F, (r + 1) * F);
    for (let t = 0; t < forest.root.length; t++) {
      const root = forest.root[t]!;
      if (root < 0) continue; // a tree that never split adds the same to every row: expected value only
      const phi = contributions.subarray((r * K + (t % K)) * F, (r * K + (t % K) + 1) * F);
      recurse(forest, row, phi, paths, root, 0, 0, 1, 1, -1);
    }
  }
  return { contributions, expected: expectedRaw(model), rows: table.rows, outputs: K, features: F };
}

/** Mean |contribution| per feature (summed over outputs) over a table's rows: global importance. */
export function meanAbsoluteContribution(e: Explanation): Float64Array {
  const out = new Float64Array(e.features);
  for (let i = 0; i < e.contributions.length; i++) out[i % e.features]! += Math.abs(e.contributions[i]!);
  for (let f = 0; f < e.features; f++) out[f]! /= Math.max(1, e.rows);
  return out;
}

function maxDepth(forest: Forest): number {
  const depth = (n: number): number => (n < 0 ? 0 : 1 + Math.max(depth(forest.left[n]!), depth(forest.right[n]!)));
  let d = 0;
  for (let t = 0; t < forest.root.length; t++) d = Math.max(d, depth(forest.root[t]!));
  return d;
}

/**
 * The unique paths of every recursion depth, one after another in flat arrays (as the
 * reference implementation lays them out): depth d's path starts where its parent's ends.
 * Per element: the feature split on, the share of training rows that followed the path
 * (zero), whether the row follows it (one, 0 or 1), and the permutation weight.
 */
class PathStack {
  readonly feature: Int32Array;
  readonly zero: Float64Array;
  readonly one: Float64Array;
  readonly weight: Float64Array;

  constructor(depth: number) {
    // A node at depth d starts its path after its ancestors' (at most 1 + 2 + ... + d elements).
    const size = ((depth + 3) * (depth + 4)) / 2;
    this.feature = new Int32Array(size);
    this.zero = new Float64Array(size);
    this.one = new Float64Array(size);
    this.weight = new Float64Array(size);
  }
}

function recurse(
  forest: Forest,
  row: Float32Array,
  phi: Float64Array,
  p: PathStack,
  node: number,
  parentStart: number,
  uniqueDepth: number,
  parentZero: number,
  parentOne: number,
  parentFeature: number,
): void {
  // This node's path: a copy of the parent's, extended by the split that led here.
  const start = parentStart + uniqueDepth + 1;
  for (let i = 0; i <= uniqueDepth; i++) {
    p.feature[start + i] = p.feature[parentStart + i]!;
    p.zero[start + i] = p.zero[parentStart + i]!;
    p.one[start + i] = p.one[parentStart + i]!;
    p.weight[start + i] = p.weight[parentStart + i]!;
  }
  extendPath(p, start, uniqueDepth, parentZero, parentOne, parentFeature);
  if (node < 0) {
    const value = forest.leafValue[~node]!;
    for (let i = 1; i <= uniqueDepth; i++) {
      const w = unwoundPathSum(p, start, uniqueDepth, i);
      phi[p.feature[start + i]!]! += w * (p.one[start + i]! - p.zero[start + i]!) * value;
    }
    return;
  }
  const split = forest.feature[node]!;
  const left = forest.left[node]!;
  const right = forest.right[node]!;
  const toLeft = goesLeft(forest, node, row[split]!);
  const hot = toLeft ? left : right;
  const cold = toLeft ? right : left;
  let incomingZero = 1;
  let incomingOne = 1;
  let depth = uniqueDepth;
  // A feature split on again higher up: undo that split, so it is redone here (a feature
  // appears once per path, with the combined fractions).
  for (let k = 1; k <= depth; k++) {
    if (p.feature[start + k] !== split) continue;
    incomingZero = p.zero[start + k]!;
    incomingOne = p.one[start + k]!;
    unwindPath(p, start, depth, k);
    depth--;
    break;
  }
  const cover = forest.nodeCover[node]!;
  recurse(forest, row, phi, p, hot, start, depth + 1, (coverOf(forest, hot) / cover) * incomingZero, incomingOne, split);
  recurse(forest, row, phi, p, cold, start, depth + 1, (coverOf(forest, cold) / cover) * incomingZero, 0, split);
}

function extendPath(p: PathStack, s: number, l: number, zero: number, one: number, feature: number): void {
  p.feature[s + l] = feature;
  p.zero[s + l] = zero;
  p.one[s + l] = one;
  p.weight[s + l] = l === 0 ? 1 : 0;
  for (let i = l - 1; i >= 0; i--) {
    p.weight[s + i + 1]! += (one * p.weight[s + i]! * (i + 1)) / (l + 1);
    p.weight[s + i] = (zero * p.weight[s + i]! * (l - i)) / (l + 1);
  }
}

function unwindPath(p: PathStack, s: number, l: number, i: number): void {
  const one = p.one[s + i]!;
  const zero = p.zero[s + i]!;
  let n = p.weight[s + l]!;
  for (let j = l - 1; j >= 0; j--) {
    if (one !== 0) {
      const t = p.weight[s + j]!;
      p.weight[s + j] = (n * (l + 1)) / ((j + 1) * one);
      n = t - (p.weight[s + j]! * zero * (l - j)) / (l + 1);
    } else {
      p.weight[s + j] = (p.weight[s + j]! * (l + 1)) / (zero * (l - j));
    }
  }
  for (let j = i; j < l; j++) {
    p.feature[s + j] = p.feature[s + j + 1]!;
    p.zero[s + j] = p.zero[s + j + 1]!;
    p.one[s + j] = p.one[s + j + 1]!;
  }
}

function unwoundPathSum(p: PathStack, s: number, l: number, i: number): number {
  const one = p.one[s + i]!;
  const zero = p.zero[s + i]!;
  let n = p.weight[s + l]!;
  let total = 0;
  for (let j = l - 1; j >= 0; j--) {
    if (one !== 0) {
      const t = (n * (l + 1)) / ((j + 1) * one);
      total += t;
      n = p.weight[s + j]! - (t * zero * (l - j)) / (l + 1);
    } else {
      total += p.weight[s + j]! / ((zero * (l - j)) / (l + 1));
    }
  }
  return total;
}
