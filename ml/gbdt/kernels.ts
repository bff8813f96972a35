// The hot loops of training, each over one share of rows: histogram accumulation,
// partitioning a leaf's rows (and building one child's histogram), gathering them back, and
// adding leaf values to scores. The thread pool (pool.ts) runs them on every thread; they
// touch only shared memory.
import type { SharedData } from './pool.js';

type AccumulateKernel = (hist: Float64Array, packed: Int32Array, gh: Float32Array, rowIndex: Int32Array, base: number, start: number, end: number, contiguous: boolean) => void;
type PartitionKernel = (column: ArrayLike<number>, goesLeft: Uint8Array, rowIndex: Int32Array, out: Int32Array, start: number, end: number) => number;

const kernels = new Map<string, AccumulateKernel | PartitionKernel>();

/**
 * The histogram kernel for one data layout, generated so the loop over features is unrolled
 * with each feature's byte offset, width and histogram offset as constants: straight-line
 * code that V8 compiles well, much as LightGBM's templates do. Only numbers go into the text.
 */
function accumulateKernel(d: SharedData): AccumulateKernel {
  const { byteOffsets, widths, rowWords } = d.bins;
  const key = `acc:${rowWords}:${byteOffsets.join(',')}:${widths.join(',')}:${Array.from(d.offsets).join(',')}`;
  let kernel = kernels.get(key) as AccumulateKernel | undefined;
  if (!kernel) {
    const words = Array.from({ length: rowWords }, (_, w) => `const w${w} = packed[b + ${w}];`);
    const lines = byteOffsets.map((o, f) => {
      const shift = (o & 3) * 8;
      const mask = widths[f] === 2 ? 0xffff : 0xff;
      const bin = shift + 8 * widths[f]! === 32 ? `(w${o >> 2} >>> ${shift})` : `((w${o >> 2} >>> ${shift}) & ${mask})`;
      return `i = ${d.offsets[f]! * 2} + ${bin} * 2; hist[i] += g; hist[i + 1] += h;`;
    });
    const body = (row: string) => `{
        const r = ${row};
        const g = gh[2 * (base + r)];
        const h = gh[2 * (base + r) + 1];
        const b = r * ${rowWords};
        ${words.join('\n        ')}
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
 * Partition kernels, one per column type so each stays monomorphic (a byte column and a
 * 16-bit column in one function slow both down). Both are branch-free: the side is data, and
 * mispredicted branches cost more than the extra store or select.
 *
 * In place (the only share): left rows stay in order at `start` of rowIndex (a write never
 * passes the read), right rows go in order to `out` from `start`.
 * Into a share of `out`: left rows in order from `start`, right rows backwards from `end - 1`
 * (so in reverse order): one store per row, and the share's own rows stay within the share.
 */
function partitionKernel(width: 1 | 2, inPlace: boolean): PartitionKernel {
  const key = `part:${width}:${inPlace}`;
  let kernel = kernels.get(key) as PartitionKernel | undefined;
  if (!kernel) {
    const store = inPlace ? 'rowIndex[l] = row; out[r] = row; l += side; r += 1 - side;' : 'out[side === 1 ? l : r] = row; l += side; r -= 1 - side;';
    kernel = new Function(
      'column', 'goesLeft', 'rowIndex', 'out', 'start', 'end',
      `let l = start;
      let r = ${inPlace ? 'start' : 'end - 1'};
      for (let k = start; k < end; k++) {
        const row = rowIndex[k];
        const side = goesLeft[column[row]];
        ${store}
      }
      return l - start; // width ${width}`,
    ) as PartitionKernel;
    kernels.set(key, kernel);
  }
  return kernel;
}

/**
 * Add the rows listed in index [start, end) (rowIndex unless given; the row numbers
 * themselves when contiguous) to a [g, h] histogram of output `output`.
 */
export function accumulate(hist: Float64Array, d: SharedData, output: number, start: number, end: number, contiguous: boolean, index = d.rowIndex): void {
  accumulateKernel(d)(hist, d.bins.packed, d.gradients, index, output * d.rows, start, end, contiguous);
}

/**
 * Stable partition of rowIndex [start, end) by goesLeft on `feature`, when it is the only
 * share: left rows first, then right rows, each in their order. Returns the number of left rows.
 */
export function partitionInPlace(d: SharedData, feature: number, start: number, end: number): number {
  const { rowIndex, scratch } = d;
  const left = partitionKernel(d.bins.widths[feature]!, true)(d.bins.columns[feature]!, d.goesLeft, rowIndex, scratch, start, end);
  copyRows(rowIndex, start + left, scratch, start, end - start - left);
  return left;
}

/** Below this many rows a loop copies faster than TypedArray#set (which allocates a view). */
const COPY_LOOP_MAX = 64;

function copyRows(to: Int32Array, at: number, from: Int32Array, start: number, count: number): void {
  if (count <= COPY_LOOP_MAX) for (let k = 0; k < count; k++) to[at + k] = from[start + k]!;
  else to.set(from.subarray(start, start + count), at);
}

/** Which child of a split gets its histogram built (the other is the parent's minus it). */
export type Child = 'left' | 'right' | 'none';

/**
 * One share of a parallel split: partition rowIndex [start, end) into scratch (left rows from
 * `start`, right rows backwards from `end - 1`), then add this share's rows of the `build`
 * child to `hist`, while they are still in cache. Returns the share's left rows.
 */
export function splitShare(d: SharedData, hist: Float64Array, output: number, feature: number, start: number, end: number, build: Child): number {
  const { scratch } = d;
  const left = partitionKernel(d.bins.widths[feature]!, false)(d.bins.columns[feature]!, d.goesLeft, d.rowIndex, scratch, start, end);
  if (build === 'none') return left;
  hist.fill(0);
  if (build === 'left') accumulate(hist, d, output, start, start + left, false, scratch);
  else accumulate(hist, d, output, start + left, end, false, scratch);
  return left;
}

/**
 * Copy one share's rows from scratch (as splitShare left them) to their places in rowIndex:
 * left rows to `leftTo`, right rows to `rightTo`. The right rows keep splitShare's reverse
 * order: any fixed order gives the same trees run after run, and a block copy is about four
 * times faster than a loop that reverses.
 */
export function gatherShare(d: SharedData, start: number, end: number, left: number, leftTo: number, rightTo: number): void {
  const { rowIndex, scratch } = d;
  copyRows(rowIndex, leftTo, scratch, start, left);
  copyRows(rowIndex, rightTo, scratch, start + left, end - start - left);
}

export function updateShare(d: SharedData, output: number, numLeaves: number, start: number, end: number): void {
  const scores = d.scores;
  const base = output * d.rows;
  const rowIndex = d.rowIndex;
  for (let l = 0; l < numLeaves; l++) {
    const v = d.leafValues[l]!;
    if (v === 0) continue;
    const from = Math.max(start, d.leafRanges[2 * l]!);
    const to = Math.min(end, d.leafRanges[2 * l]! + d.leafRanges[2 * l + 1]!);
    for (let k = from; k < to; k++) scores[base + rowIndex[k]!]! += v;
  }
}
