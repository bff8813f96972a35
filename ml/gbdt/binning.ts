// Feature binning: every value becomes a small integer, found once from a seeded sample of
// rows: one byte per value, or two when a categorical feature has more than 255 categories.
//
// Numeric: up to maxBin value bins cut between sampled values, plus one bin for missing
// (NaN). Each bin's upper bound is a float32, so `x <= bound` decides the same way in the
// trainer and in onnxruntime (which compares float32 inputs with float32 thresholds).
// Categorical (LightGBM's rule): categories in order of frequency get a bin each while they
// cover less than 99% of the sample or there are fewer than maxBin bins, and only categories
// seen minDataInBin times; one last bin holds everything else: missing, rare and unseen
// categories. That bin always stays on the "false" side of a split, which is where
// onnxruntime sends a value that is in no set.
import { mulberry32, sampleSorted } from '../random.js';
import type { ColumnTable } from '../table.js';

export type BinMapper =
  | {
      readonly kind: 'numeric';
      readonly feature: string;
      /** Ascending float32 upper bounds of value bins 0..n-2; the last value bin has none. */
      readonly bounds: readonly number[];
      /** Value bins + 1 (the last bin is missing). */
      readonly numBins: number;
    }
  | {
      readonly kind: 'categorical';
      readonly feature: string;
      /** Category of each bin, most frequent first. */
      readonly categories: readonly string[];
      /** categories.length + 1 (the last bin is "other": missing, rare or unseen). */
      readonly numBins: number;
    };

/** One feature's bins: a byte per row, or two when it has more than 256 bins. */
export type BinArray = Uint8Array | Uint16Array;

/**
 * Binned rows, in shared memory, twice: column by column (partitioning reads one feature)
 * and packed row by row (a histogram reads whole rows). Narrow features take one byte, so
 * the data that is read at random stays small enough for the CPU's caches.
 */
export interface BinnedData {
  readonly rows: number;
  readonly numFeatures: number;
  readonly columns: readonly BinArray[];
  /**
   * Row-major, in 32-bit words so a histogram reads a row in a few loads: feature f of row r
   * is bits [8 * (byteOffsets[f] % 4), + 8 * widths[f]) of packed[r * rowWords +
   * floor(byteOffsets[f] / 4)]. Two-byte features come first, so none straddles two words.
   */
  readonly packed: Int32Array;
  readonly rowWords: number;
  readonly byteOffsets: readonly number[];
  readonly widths: readonly (1 | 2)[];
}

/** Most categories one categorical feature keeps (two bytes per value). */
export const MAX_CATEGORIES = 65_534;
/** Categories are kept until they cover this share of the sample (LightGBM's rule). */
const CATEGORY_COVERAGE = 0.99;

export interface BinningOptions {
  readonly maxBin: number;
  readonly sampleCount: number;
  readonly minDataInBin: number;
  readonly seed: number;
}

/** Largest float32 that is <= x (Math.fround rounds to nearest, which may be above). */
export function float32AtMost(x: number): number {
  const f = Math.fround(x);
  if (f <= x) return f;
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, f);
  const bits = buf.getUint32(0);
  // Stepping the bit pattern moves one float32 toward zero for positives, away for negatives.
  buf.setUint32(0, f > 0 ? bits - 1 : f === 0 ? 0x80000001 : bits + 1);
  return buf.getFloat32(0);
}

export function buildBinMappers(table: ColumnTable, options: BinningOptions): BinMapper[] {
  const sample = sampleSorted(table.rows, options.sampleCount, mulberry32(options.seed ^ 0x5bd1e995));
  return table.columns.map((col): BinMapper => {
    if (col.kind === 'numeric') {
      const values = new Float64Array(sample.length);
      let n = 0;
      for (const r of sample) {
        const v = col.values[r]!;
        if (!Number.isNaN(v)) values[n++] = v;
      }
      const bounds = numericBounds(values.subarray(0, n).sort(), options.maxBin, options.minDataInBin);
      return { kind: 'numeric', feature: col.name, bounds, numBins: bounds.length + 2 };
    }
    const counts = new Float64Array(col.dictionary.length);
    let present = 0;
    for (const r of sample) {
      const code = col.codes[r]!;
      if (code >= 0) {
        counts[code]!++;
        present++;
      }
    }
    const byFrequency = [...col.dictionary.keys()]
      .filter((code) => counts[code]! >= Math.min(options.minDataInBin, sample.length))
      .sort((a, b) => counts[b]! - counts[a]! || (col.dictionary[a]! < col.dictionary[b]! ? -1 : 1));
    const kept: string[] = [];
    let covered = 0;
    for (const code of byFrequency) {
      if (kept.length >= MAX_CATEGORIES || (covered >= CATEGORY_COVERAGE * present && kept.length >= options.maxBin)) break;
      kept.push(col.dictionary[code]!);
      covered += counts[code]!;
    }
    return { kind: 'categorical', feature: col.name, categories: kept, numBins: kept.length + 1 };
  });
}

/**
 * Upper bounds for sorted sample values: between every distinct value when there are few,
 * else greedy cuts of about equal counts, where a value frequent enough gets a bin alone.
 */
function numericBounds(sorted: Float64Array, maxBin: number, minDataInBin: number): number[] {
  const distinct: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i] === sorted[i - 1]) counts[counts.length - 1]!++;
    else {
      distinct.push(sorted[i]!);
      counts.push(1);
    }
  }
  const cutAfter: number[] = [];
  if (distinct.length <= maxBin) {
    for (let i = 0; i + 1 < distinct.length; i++) cutAfter.push(i);
  } else {
    let remaining = sorted.length;
    let binsLeft = maxBin;
    let inBin = 0;
    for (let i = 0; i + 1 < distinct.length && binsLeft > 1; i++) {
      inBin += counts[i]!;
      const target = remaining / binsLeft;
      const nextIsBig = counts[i + 1]! >= target;
      if ((inBin >= target || nextIsBig || counts[i]! >= target) && inBin >= minDataInBin) {
        cutAfter.push(i);
        remaining -= inBin;
        binsLeft--;
        inBin = 0;
      }
    }
  }
  const bounds: number[] = [];
  for (const i of cutAfter) {
    const bound = float32AtMost((distinct[i]! + distinct[i + 1]!) / 2);
    // Both neighbours are float32, so the bound separates them: lower <= bound < upper.
    if (bounds.length === 0 || bound > bounds[bounds.length - 1]!) bounds.push(bound);
  }
  return bounds;
}

/** Bin of a numeric value: the first bound it does not exceed; NaN goes to the missing bin. */
export function numericBin(bounds: readonly number[], x: number): number {
  if (Number.isNaN(x)) return bounds.length + 1;
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** For each code of a categorical column's dictionary, its bin (the "other" bin when not kept). */
export function categoryBins(mapper: Extract<BinMapper, { kind: 'categorical' }>, dictionary: readonly string[]): Int32Array {
  const position = new Map(mapper.categories.map((c, i) => [c, i]));
  return Int32Array.from(dictionary, (s) => position.get(s) ?? mapper.categories.length);
}

/** A shared column for one feature: bytes, or 16-bit words for more than 256 bins. */
function binColumn(mapper: BinMapper, rows: number): BinArray {
  const wide = mapper.numBins > 256;
  const buffer = new SharedArrayBuffer(Math.max(1, rows) * (wide ? 2 : 1));
  return wide ? new Uint16Array(buffer) : new Uint8Array(buffer);
}

export function binTable(table: ColumnTable, mappers: readonly BinMapper[]): BinnedData {
  const rows = table.rows;
  const columns = mappers.map((mapper) => {
    const col = table.columns.find((c) => c.name === mapper.feature);
    if (!col) throw new Error(`the data has no column '${mapper.feature}'`);
    if (col.kind !== mapper.kind) throw new Error(`column '${mapper.feature}' must be ${mapper.kind}, it is ${col.kind}`);
    const bins = binColumn(mapper, rows);
    if (mapper.kind === 'numeric' && col.kind === 'numeric') {
      for (let r = 0; r < rows; r++) bins[r] = numericBin(mapper.bounds, col.values[r]!);
    } else if (mapper.kind === 'categorical' && col.kind === 'categorical') {
      const byCode = categoryBins(mapper, col.dictionary);
      const other = mapper.categories.length;
      for (let r = 0; r < rows; r++) {
        const code = col.codes[r]!;
        bins[r] = code >= 0 ? byCode[code]! : other;
      }
    }
    return bins;
  });
  const widths = columns.map((c) => (c.BYTES_PER_ELEMENT === 2 ? 2 : 1) as 1 | 2);
  const byteOffsets = new Array<number>(widths.length);
  let rowBytes = 0;
  for (const width of [2, 1]) {
    widths.forEach((w, f) => {
      if (w !== width) return;
      byteOffsets[f] = rowBytes;
      rowBytes += w;
    });
  }
  const rowWords = Math.max(1, Math.ceil(rowBytes / 4));
  const packed = new Int32Array(new SharedArrayBuffer(Math.max(1, rows) * rowWords * 4));
  columns.forEach((column, f) => {
    const word = byteOffsets[f]! >> 2;
    const shift = (byteOffsets[f]! & 3) * 8;
    for (let r = 0; r < rows; r++) packed[r * rowWords + word]! |= column[r]! << shift;
  });
  return { rows, numFeatures: mappers.length, columns, packed, rowWords, byteOffsets, widths };
}
