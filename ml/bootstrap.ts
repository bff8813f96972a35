// Paired bootstrap of a metric's difference between two models on the same rows: resample rows
// with replacement (seeded), score both models on each resample, and read the spread of the
// difference. Pure: the evaluation activity and the tests call it the same way.
import { mulberry32 } from './random.js';

export interface PairedInterval {
  /** The difference on the rows as they are (a - b). */
  readonly difference: number;
  /** Central interval of the difference over the resamples. */
  readonly lo: number;
  readonly hi: number;
  readonly level: number;
  readonly resamples: number;
}

/**
 * The interval of metric(a) - metric(b) over `resamples` resamples of `rows` rows. `metric`
 * scores one model (0: a, 1: b) on the rows `index` names (an index may repeat).
 */
export function pairedBootstrap(
  rows: number,
  metric: (model: 0 | 1, index: Uint32Array) => number,
  options: { resamples?: number; level?: number; seed?: number } = {},
): PairedInterval {
  const resamples = options.resamples ?? 200;
  const level = options.level ?? 0.95;
  const next = mulberry32(options.seed ?? 1);
  const all = Uint32Array.from({ length: rows }, (_, i) => i);
  const difference = metric(0, all) - metric(1, all);
  const diffs: number[] = [];
  const index = new Uint32Array(rows);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < rows; i++) index[i] = Math.floor(next() * rows);
    const d = metric(0, index) - metric(1, index);
    if (Number.isFinite(d)) diffs.push(d);
  }
  diffs.sort((x, y) => x - y);
  const at = (q: number) => diffs[Math.min(diffs.length - 1, Math.max(0, Math.floor(q * diffs.length)))] ?? Number.NaN;
  return { difference, lo: at((1 - level) / 2), hi: at(1 - (1 - level) / 2), level, resamples: diffs.length };
}

/** Rows `index` names of a row-major array of `width` values per row. */
export function gatherRows(values: ArrayLike<number>, width: number, index: Uint32Array): Float64Array {
  const out = new Float64Array(index.length * width);
  for (let i = 0; i < index.length; i++) for (let k = 0; k < width; k++) out[i * width + k] = values[index[i]! * width + k]!;
  return out;
}
