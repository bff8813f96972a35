// Leaf-wise tree growth (LightGBM's serial tree learner): build the root's histogram, find
// every leaf's best split, split the leaf with the largest gain until num_leaves. Only the
// smaller child's histogram is built; the larger one is the parent's minus it.
import type { BinMapper } from './binning.js';
import type { Child } from './kernels.js';
import type { ThreadPool } from './pool.js';
import type { GbdtParams } from './params.js';
import { emptyTree, type Tree } from './tree.js';

const K_EPSILON = 1e-15;

interface Split {
  gain: number;
  feature: number;
  /** Numeric: last value bin on the left (-1: only missing goes left). */
  thresholdBin: number;
  missingLeft: boolean;
  /** Categorical: the bins on the left. */
  categories: number[] | null;
  leftG: number;
  leftH: number;
  leftN: number;
  leftOutput: number;
  rightOutput: number;
}

export interface LearnerContext {
  readonly params: GbdtParams;
  readonly mappers: readonly BinMapper[];
  readonly pool: ThreadPool;
}

/** Reusable buffers for growing trees over one data set. */
export class TreeLearner {
  private readonly hist: Float64Array[];
  private readonly leafStart: Int32Array;
  private readonly leafCount: Int32Array;
  private readonly leafDepth: Int32Array;
  private readonly leafParent: Int32Array;
  private readonly leafG: Float64Array;
  private readonly leafH: Float64Array;
  private readonly leafOutput: Float64Array;
  private readonly best: (Split | null)[];
  private readonly numBins: Int32Array;
  private readonly isCategorical: Uint8Array;

  constructor(private readonly ctx: LearnerContext) {
    const L = ctx.params.numLeaves;
    this.hist = Array.from({ length: L }, () => new Float64Array(ctx.pool.histogramSize));
    this.leafStart = new Int32Array(L);
    this.leafCount = new Int32Array(L);
    this.leafDepth = new Int32Array(L);
    this.leafParent = new Int32Array(L);
    this.leafG = new Float64Array(L);
    this.leafH = new Float64Array(L);
    this.leafOutput = new Float64Array(L);
    this.best = new Array<Split | null>(L).fill(null);
    this.numBins = Int32Array.from(ctx.mappers, (m) => m.numBins);
    this.isCategorical = Uint8Array.from(ctx.mappers, (m) => (m.kind === 'categorical' ? 1 : 0));
  }

  /**
   * Grow one tree for output `output` over the first `bagCount` rows of the row index
   * (all rows in order when `contiguous`). On return the row index holds each leaf's rows
   * at [leafStart, leafStart + leafCount), for updating scores without walking the tree.
   */
  grow(output: number, bagCount: number, contiguous: boolean, featureMask: Uint8Array): { tree: Tree; leafStart: Int32Array; leafCount: Int32Array } {
    const { params, pool } = this.ctx;
    const rowIndex = pool.data.rowIndex;
    if (contiguous) for (let i = 0; i < bagCount; i++) rowIndex[i] = i;
    pool.histogram(this.hist[0]!, output, 0, bagCount, contiguous);
    this.leafStart[0] = 0;
    this.leafCount[0] = bagCount;
    this.leafDepth[0] = 0;
    this.leafParent[0] = -1;
    const [g0, h0] = this.sums(this.hist[0]!);
    this.leafG[0] = g0;
    this.leafH[0] = h0;
    this.leafOutput[0] = 0;
    this.best[0] = this.findBestSplit(0, featureMask);

    const tree = emptyTree(0, bagCount);
    let leaves = 1;
    while (leaves < params.numLeaves) {
      let pick = -1;
      let bestGain = 0;
      for (let l = 0; l < leaves; l++) {
        const s = this.best[l];
        if (s && s.gain > bestGain) {
          bestGain = s.gain;
          pick = l;
        }
      }
      if (pick < 0) break;
      // Build the histogram of the child with fewer rows (by the split's estimate, known
      // before partitioning) into the free slot while splitting; the parent's histogram minus
      // it is the other child's. Then each leaf's histogram goes to its own slot. The last
      // split of a tree needs neither.
      const split = this.best[pick]!;
      const last = leaves + 1 === params.numLeaves;
      const build = last ? 'none' : split.leftN <= this.leafCount[pick]! - split.leftN ? 'left' : 'right';
      const parentHist = this.hist[pick]!;
      const free = this.hist[leaves]!;
      this.split(tree, pick, leaves, split, output, build, free);
      leaves++;
      if (last) break;
      const newLeaf = leaves - 1;
      for (let i = 0; i < parentHist.length; i++) parentHist[i] = parentHist[i]! - free[i]!;
      if (build === 'left') {
        this.hist[pick] = free;
        this.hist[newLeaf] = parentHist;
      }
      this.best[pick] = this.findBestSplit(pick, featureMask);
      this.best[newLeaf] = this.findBestSplit(newLeaf, featureMask);
    }
    if (leaves === 1) {
      tree.leafValue[0] = 0;
    } else {
      for (let l = 0; l < leaves; l++) {
        tree.leafValue[l] = Math.fround(this.leafOutput[l]! * params.learningRate);
        tree.leafCount[l] = this.leafCount[l]!;
      }
    }
    return { tree, leafStart: this.leafStart, leafCount: this.leafCount };
  }

  private sums(hist: Float64Array): [number, number] {
    // Every row falls in exactly one bin of feature 0.
    let g = 0;
    let h = 0;
    for (let b = 0; b < this.numBins[0]!; b++) {
      g += hist[b * 2]!;
      h += hist[b * 2 + 1]!;
    }
    return [g, h];
  }

  /**
   * Split leaf `leaf` into itself (left) and `newLeaf` (right), partitioning its rows
   * and building the histogram of the `build` child into `hist`.
   */
  private split(tree: Tree, leaf: number, newLeaf: number, s: Split, output: number, build: Child, hist: Float64Array): void {
    const { mappers } = this.ctx;
    const node = tree.splitFeature.length;
    const mapper = mappers[s.feature]!;
    tree.splitFeature.push(s.feature);
    tree.thresholdBin.push(s.categories ? -1 : s.thresholdBin);
    tree.threshold.push(
      s.categories || mapper.kind !== 'numeric'
        ? Number.NaN
        : s.thresholdBin < 0
          ? Number.NEGATIVE_INFINITY
          : (mapper.bounds[s.thresholdBin] ?? Number.POSITIVE_INFINITY),
    );
    tree.missingLeft.push(s.missingLeft);
    tree.categories.push(s.categories ?? []);
    tree.left.push(~leaf);
    tree.right.push(~newLeaf);
    tree.gain.push(s.gain);
    const parent = this.leafParent[leaf]!;
    if (parent >= 0) {
      if ((parent & 1) === 0) tree.left[parent >> 1] = node;
      else tree.right[parent >> 1] = node;
    }
    this.leafParent[leaf] = node * 2;
    this.leafParent[newLeaf] = node * 2 + 1;

    // Partition: left rows at the front, right rows after them.
    const start = this.leafStart[leaf]!;
    const f = s.feature;
    const goesLeft = this.ctx.pool.data.goesLeft;
    goesLeft.fill(0);
    if (s.categories) for (const c of s.categories) goesLeft[c] = 1;
    else {
      for (let b = 0; b <= s.thresholdBin; b++) goesLeft[b] = 1;
      goesLeft[this.numBins[f]! - 1] = s.missingLeft ? 1 : 0;
    }
    const leftCount = this.ctx.pool.split(f, start, start + this.leafCount[leaf]!, output, build, hist);
    const l = start + leftCount;
    const r = this.leafCount[leaf]! - leftCount;

    const depth = this.leafDepth[leaf]! + 1;
    this.leafStart[newLeaf] = l;
    this.leafCount[newLeaf] = r;
    this.leafCount[leaf] = l - start;
    this.leafDepth[leaf] = depth;
    this.leafDepth[newLeaf] = depth;
    this.leafG[newLeaf] = this.leafG[leaf]! - s.leftG;
    this.leafH[newLeaf] = this.leafH[leaf]! - s.leftH;
    this.leafG[leaf] = s.leftG;
    this.leafH[leaf] = s.leftH;
    this.leafOutput[leaf] = s.leftOutput;
    this.leafOutput[newLeaf] = s.rightOutput;
  }

  private findBestSplit(leaf: number, featureMask: Uint8Array): Split | null {
    const p = this.ctx.params;
    const n = this.leafCount[leaf]!;
    if (n < 2 * p.minDataInLeaf) return null;
    if (p.maxDepth > 0 && this.leafDepth[leaf]! >= p.maxDepth) return null;
    const G = this.leafG[leaf]!;
    const H = this.leafH[leaf]!;
    const minGainShift = leafGain(G, H, p.lambdaL2) + p.minGainToSplit;
    // Rows per unit of hessian: a bin's row count is estimated as round(hessian * cntFactor).
    const cntFactor = n / H;
    const hist = this.hist[leaf]!;
    let best: Split | null = null;
    let offset = 0;
    for (let f = 0; f < this.numBins.length; f++) {
      const nb = this.numBins[f]!;
      if (featureMask[f]) {
        const s = this.isCategorical[f]
          ? this.categoricalSplit(hist, offset, nb, G, H, n, cntFactor, minGainShift)
          : this.numericSplit(hist, offset, nb, G, H, n, cntFactor, minGainShift);
        if (s && (!best || s.gain > best.gain)) {
          s.feature = f;
          best = s;
        }
      }
      offset += nb;
    }
    return best;
  }

  private numericSplit(hist: Float64Array, offset: number, nb: number, G: number, H: number, n: number, cntFactor: number, minGainShift: number): Split | null {
    const p = this.ctx.params;
    const l2 = p.lambdaL2;
    const minData = p.minDataInLeaf;
    const minHess = p.minSumHessianInLeaf;
    const missing = (offset + nb - 1) * 2;
    const mG = hist[missing]!;
    const mH = hist[missing + 1]!;
    const mN = Math.round(mH * cntFactor);
    let bestGain = minGainShift;
    let bestT = -2;
    let bestMissingLeft = false;
    let bestLG = 0;
    let bestLH = 0;
    let bestLN = 0;
    // Candidate t: value bins <= t go left; pass 0 sends missing right, pass 1 left. t = -1
    // with missing left is the split that asks "is it missing?".
    let aG = 0;
    let aH = K_EPSILON;
    let aN = 0;
    const firstPass = mN > 0 ? 0 : 2;
    const lastPass = mN > 0 ? 1 : 2;
    for (let t = -1; t < nb - 2; t++) {
      if (t >= 0) {
        const i = (offset + t) * 2;
        aG += hist[i]!;
        aH += hist[i + 1]!;
        aN += Math.round(hist[i + 1]! * cntFactor);
      }
      for (let pass = firstPass; pass <= lastPass; pass++) {
        if (pass === 0 && t < 0) continue;
        const withMissing = pass === 1;
        const lG = withMissing ? aG + mG : aG;
        const lH = withMissing ? aH + mH : aH;
        const lN = withMissing ? aN + mN : aN;
        const rN = n - lN;
        const rH = H - lH;
        if (lN < minData || rN < minData || lH < minHess || rH < minHess) continue;
        const rG = G - lG;
        const gain = (lG * lG) / (lH + l2) + (rG * rG) / (rH + l2);
        if (gain > bestGain) {
          bestGain = gain;
          bestT = t;
          // Pass 2 (no missing values here to learn from): unseen ones follow the larger side.
          bestMissingLeft = pass === 2 ? lN >= rN : withMissing;
          bestLG = lG;
          bestLH = lH;
          bestLN = lN;
        }
      }
    }
    if (bestT === -2) return null;
    return {
      gain: bestGain - minGainShift,
      feature: -1,
      thresholdBin: bestT,
      missingLeft: bestMissingLeft,
      categories: null,
      leftG: bestLG,
      leftH: bestLH,
      leftN: bestLN,
      leftOutput: leafOutput(bestLG, bestLH, l2),
      rightOutput: leafOutput(G - bestLG, H - bestLH, l2),
    };
  }

  /** Categories with at least catSmooth rows here, ordered by gradient / (hessian + catSmooth). */
  private sortedCategories(hist: Float64Array, offset: number, categories: number, cntFactor: number): number[] {
    const p = this.ctx.params;
    let m = 0;
    for (let t = 0; t < categories; t++) {
      const i = (offset + t) * 2;
      if (Math.round(hist[i + 1]! * cntFactor) >= p.catSmooth) {
        sortKeys[m] = hist[i]! / (hist[i + 1]! + p.catSmooth);
        // Little-endian: element 2m holds the low 32 bits of key m.
        sortBits[2 * m] = ((sortBits[2 * m]! & 0xffff0000) | t) >>> 0;
        m++;
      }
    }
    sortKeys.subarray(0, m).sort();
    const used = new Array<number>(m);
    for (let j = 0; j < m; j++) used[j] = sortBits[2 * j]! & 0xffff;
    return used;
  }

  private categoricalSplit(hist: Float64Array, offset: number, nb: number, G: number, H: number, n: number, cntFactor: number, minGainShift: number): Split | null {
    const p = this.ctx.params;
    const categories = nb - 1; // the last bin ("other") never goes left
    let best: Split | null = null;
    let bestGain = minGainShift;
    const take = (lG: number, lH: number, lN: number, l2: number, set: () => number[]) => {
      const rG = G - lG;
      const rH = H - lH;
      const gain = leafGain(lG, lH, l2) + leafGain(rG, rH, l2);
      if (gain > bestGain) {
        bestGain = gain;
        best = {
          gain: 0,
          feature: -1,
          thresholdBin: -1,
          missingLeft: false,
          categories: set(),
          leftG: lG,
          leftH: lH,
          leftN: lN,
          leftOutput: leafOutput(lG, lH, l2),
          rightOutput: leafOutput(rG, rH, l2),
        };
      }
    };
    if (categories <= p.maxCatToOnehot) {
      for (let t = 0; t < categories; t++) {
        const i = (offset + t) * 2;
        const lN = Math.round(hist[i + 1]! * cntFactor);
        const lH = hist[i + 1]! + K_EPSILON;
        if (lN < p.minDataInLeaf || n - lN < p.minDataInLeaf || lH < p.minSumHessianInLeaf || H - lH < p.minSumHessianInLeaf) continue;
        take(hist[i]!, lH, lN, p.lambdaL2, () => [t]);
      }
    } else {
      // LightGBM's many-vs-many split: order categories by gradient / (hessian + smoothing),
      // then grow the left set from either end, at most maxCatThreshold categories.
      const used = this.sortedCategories(hist, offset, categories, cntFactor);
      const l2 = p.lambdaL2 + p.catL2;
      const maxNum = Math.min(p.maxCatThreshold, (used.length + 1) >> 1);
      for (const dir of [1, -1]) {
        let lG = 0;
        let lH = K_EPSILON;
        let lN = 0;
        let group = 0;
        for (let i = 0; i < used.length && i < maxNum; i++) {
          const t = used[dir === 1 ? i : used.length - 1 - i]!;
          const j = (offset + t) * 2;
          const count = Math.round(hist[j + 1]! * cntFactor);
          lG += hist[j]!;
          lH += hist[j + 1]!;
          lN += count;
          group += count;
          if (lN < p.minDataInLeaf || lH < p.minSumHessianInLeaf) continue;
          const rN = n - lN;
          if (rN < p.minDataInLeaf || rN < p.minDataPerGroup) break;
          if (H - lH < p.minSumHessianInLeaf) break;
          if (group < p.minDataPerGroup) continue;
          group = 0;
          const size = i + 1;
          take(lG, lH, lN, l2, () =>
            (dir === 1 ? used.slice(0, size) : used.slice(used.length - size)).sort((a, b) => a - b),
          );
        }
      }
    }
    if (best) (best as Split).gain = bestGain - minGainShift;
    return best;
  }
}

/**
 * Sorting helper for categorical splits: each key carries its category in the low 16 bits
 * of its mantissa, so a native Float64Array sort (no comparator, much faster than
 * Array#sort with one) orders categories by key, ties by category. Keys that differ by less
 * than 2^-36 relative count as ties: deterministic either way.
 */
const sortKeys = new Float64Array(65_536);
const sortBits = new Uint32Array(sortKeys.buffer);

function leafGain(g: number, h: number, l2: number): number {
  return (g * g) / (h + l2);
}

function leafOutput(g: number, h: number, l2: number): number {
  return -g / (h + l2);
}
