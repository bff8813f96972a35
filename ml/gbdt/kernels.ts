// The hot loops of training, each over one share of rows: histogram accumulation,
// partitioning a leaf's rows, gathering them back, and adding leaf values to scores. The
// thread pool (pool.ts) runs them on every thread; they touch only shared memory.
import type { SharedData } from './pool.js';

type AccumulateKernel = (hist: Float64Array, packed: Uint8Array, gh: Float32Array, rowIndex: Int32Array, base: number, start: number, end: number, contiguous: boolean) => void;
type PartitionKernel = (column: ArrayLike<number>, goesLeft: Uint8Array, rowIndex: Int32Array, lefts: Int32Array, rights: Int32Array, start: number, end: number) => number;

const kernels = new Map<string, AccumulateKernel | PartitionKernel>();

/**
 * The histogram kernel for one data layout, generated so the loop over features is unrolled
 * with each feature's byte offset, width and histogram offset as constants: straight-line
 * code that V8 compiles well, much as LightGBM's templates do. Only numbers go into the text.
 */
function accumulateKernel(d: SharedData): AccumulateKernel {
  const { byteOffsets, widths, rowBytes } = d.bins;
  const key = `acc:${rowBytes}:${byteOffsets.join(',')}:${widths.join(',')}:${Array.from(d.offsets).join(',')}`;
  let kernel = kernels.get(key) as AccumulateKernel | undefined;
  if (!kernel) {
    const lines = byteOffsets.map((o, f) => {
      const bin = widths[f] === 2 ? `(packed[b + ${o}] | (packed[b + ${o + 1}] << 8))` : `packed[b + ${o}]`;
      return `i = ${d.offsets[f]! * 2} + ${bin} * 2; hist[i] += g; hist[i + 1] += h;`;
    });
    const body = (row: string) => `{
        const r = ${row};
        const g = gh[2 * (base + r)];
        const h = gh[2 * (base + r) + 1];
        const b = r * ${rowBytes};
        ${lines.join('\n        ')}
      }`;
    kernel = new Function(
      'hist', 'packed', 'gh', 'rowIndex', 'base', 'start', 'end', 'contiguous',
      `let i = 0;
      if (contiguous) {
        for (let k = start; k < end; k++) ${body('k')}
        return;
      }
      for (let k = start; k < end; k++) ${body('rowIndex[k]')}`,
    ) as AccumulateKernel;
    kernels.set(key, kernel);
  }
  return kernel;
}

/**
 * Stable partition of rowIndex [start, end): rows whose bin goes left to `lefts`, the others
 * to `rights`, each from `start` on; returns the left count. One kernel per column type, so
 * each stays monomorphic (a byte column and a 16-bit column in one function slow both down).
 */
function partitionKernel(width: 1 | 2): PartitionKernel {
  const key = `part:${width}`;
  let kernel = kernels.get(key) as PartitionKernel | undefined;
  if (!kernel) {
    kernel = new Function(
      'column', 'goesLeft', 'rowIndex', 'lefts', 'rights', 'start', 'end',
      `let l = start;
      let r = start;
      for (let k = start; k < end; k++) {
        const row = rowIndex[k];
        // Branch-free: the side is data, and mispredicted branches cost more than two stores.
        const side = goesLeft[column[row]];
        lefts[l] = row;
        rights[r] = row;
        l += side;
        r += 1 - side;
      }
      return l - start; // width ${width}`,
    ) as PartitionKernel;
    kernels.set(key, kernel);
  }
  return kernel;
}

/** Add rows [start, end) of rowIndex (or the row numbers, when contiguous) to a [g, h] histogram. */
export function accumulate(hist: Float64Array, d: SharedData, output: number, start: number, end: number, contiguous: boolean): void {
  accumulateKernel(d)(hist, d.bins.packed, d.gradients, d.rowIndex, output * d.rows, start, end, contiguous);
}

/**
 * Stable partition of rowIndex [start, end) by goesLeft on `feature`. With `inPlace` (the
 * only share), left rows stay in rowIndex and right rows follow them; otherwise left rows go
 * to scratch and right rows to scratchRight, at the share's own offsets, for gatherShare.
 * Returns the number of left rows.
 */
export function partitionShare(d: SharedData, feature: number, start: number, end: number, inPlace: boolean): number {
  const column = d.bins.columns[feature]!;
  const rowIndex = d.rowIndex;
  const rights = inPlace ? d.scratch : d.scratchRight;
  const left = partitionKernel(d.bins.widths[feature]!)(column, d.goesLeft, rowIndex, inPlace ? rowIndex : d.scratch, rights, start, end);
  // (Plain loops: copies between shared buffers through set/copyWithin are several times slower.)
  if (inPlace) for (let k = start, l = start + left; l < end; k++, l++) rowIndex[l] = rights[k]!;
  return left;
}

/** Copy one share's left and right rows (from partitionShare) to their places in rowIndex. */
export function gatherShare(d: SharedData, start: number, left: number, right: number, leftTo: number, rightTo: number): void {
  const { rowIndex, scratch, scratchRight } = d;
  for (let k = 0; k < left; k++) rowIndex[leftTo + k] = scratch[start + k]!;
  for (let k = 0; k < right; k++) rowIndex[rightTo + k] = scratchRight[start + k]!;
}

export function updateShare(d: SharedData, output: number, numLeaves: number, start: number, end: number): void {
  const scores = d.scores;
  const base = output * d.rows;
  const rowIndex = d.rowIndex;
  for (let l = 0; l < numLeaves; l++) {
    const v = d.leafValues[l]!;
    const from = Math.max(start, d.leafRanges[2 * l]!);
    const to = Math.min(end, d.leafRanges[2 * l]! + d.leafRanges[2 * l + 1]!);
    if (v === 0) continue;
    for (let k = from; k < to; k++) scores[base + rowIndex[k]!]! += v;
  }
}
