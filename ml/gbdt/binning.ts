// Feature binning: every value becomes one byte, found once from a seeded sample of rows.
//
// Numeric: up to maxBin value bins cut between sampled values, plus one bin for missing
// (NaN). Each bin's upper bound is a float32, so `x <= bound` decides the same way in the
// trainer and in onnxruntime (which compares float32 inputs with float32 thresholds).
// Categorical: the most frequent categories (at most maxBin) get a bin each, in order of
// frequency; one last bin holds everything else: missing, rare and unseen categories. That
// bin always stays on the "false" side of a split, which is where onnxruntime sends a value
// that is in no set.
import { mulberry32 } from '../random.js';
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

export interface BinnedData {
  readonly rows: number;
  readonly numFeatures: number;
  /** Row-major: bins[row * numFeatures + feature]. */
  readonly bins: Uint8Array;
}

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

function sampleRows(rows: number, count: number, seed: number): Int32Array {
  if (rows <= count) return Int32Array.from({ length: rows }, (_, i) => i);
  // Seeded selection sampling (Knuth's algorithm S): sorted, without replacement.
  const random = mulberry32(seed ^ 0x5bd1e995);
  const out = new Int32Array(count);
  let chosen = 0;
  for (let i = 0; i < rows && chosen < count; i++) {
    if (random() * (rows - i) < count - chosen) out[chosen++] = i;
  }
  return out;
}

export function buildBinMappers(table: ColumnTable, options: BinningOptions): BinMapper[] {
  const sample = sampleRows(table.rows, options.sampleCount, options.seed);
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
    for (const r of sample) {
      const code = col.codes[r]!;
      if (code >= 0) counts[code]!++;
    }
    const kept = [...col.dictionary.keys()]
      .filter((code) => counts[code]! >= Math.min(options.minDataInBin, sample.length))
      .sort((a, b) => counts[b]! - counts[a]! || (col.dictionary[a]! < col.dictionary[b]! ? -1 : 1))
      .slice(0, options.maxBin)
      .map((code) => col.dictionary[code]!);
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
export function categoryBins(mapper: Extract<BinMapper, { kind: 'categorical' }>, dictionary: readonly string[]): Uint8Array {
  const position = new Map(mapper.categories.map((c, i) => [c, i]));
  return Uint8Array.from(dictionary, (s) => position.get(s) ?? mapper.categories.length);
}

export function binTable(table: ColumnTable, mappers: readonly BinMapper[]): BinnedData {
  const F = mappers.length;
  const bins = new Uint8Array(new SharedArrayBuffer(Math.max(1, table.rows * F)));
  mappers.forEach((mapper, f) => {
    const col = table.columns.find((c) => c.name === mapper.feature);
    if (!col) throw new Error(`the data has no column '${mapper.feature}'`);
    if (col.kind !== mapper.kind) throw new Error(`column '${mapper.feature}' must be ${mapper.kind}, it is ${col.kind}`);
    if (mapper.kind === 'numeric' && col.kind === 'numeric') {
      for (let r = 0; r < table.rows; r++) bins[r * F + f] = numericBin(mapper.bounds, col.values[r]!);
    } else if (mapper.kind === 'categorical' && col.kind === 'categorical') {
      const byCode = categoryBins(mapper, col.dictionary);
      const other = mapper.categories.length;
      for (let r = 0; r < table.rows; r++) {
        const code = col.codes[r]!;
        bins[r * F + f] = code >= 0 ? byCode[code]! : other;
      }
    }
  });
  return { rows: table.rows, numFeatures: F, bins };
}
