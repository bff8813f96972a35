// K-fold cross-validation on the rows a model learns from: folds assigned by a seeded
// shuffle (stratified by class: each class dealt round the folds in turn), so every fold has
// each class's share. Pure.
import { mulberry32, permutation } from './random.js';
import type { ColumnTable } from './table.js';

/** Each row's fold, 0..k-1. */
export function assignFolds(labels: ArrayLike<number>, k: number, seed: number, stratify: boolean): Uint8Array {
  const n = labels.length;
  const order = permutation(n, mulberry32(seed));
  const folds = new Uint8Array(n);
  if (!stratify) {
    order.forEach((row, i) => (folds[row] = i % k));
    return folds;
  }
  const dealt = new Map<number, number>();
  for (const row of order) {
    const label = labels[row]!;
    const i = dealt.get(label) ?? 0;
    folds[row] = i % k;
    dealt.set(label, i + 1);
  }
  return folds;
}

/** The rows `index` names, as a table of their own. */
export function takeRows(table: ColumnTable, index: Uint32Array): ColumnTable {
  return {
    rows: index.length,
    columns: table.columns.map((c) =>
      c.kind === 'numeric' ? { ...c, values: Float32Array.from(index, (i) => c.values[i]!) } : { ...c, codes: Int32Array.from(index, (i) => c.codes[i]!) },
    ),
  };
}

/** Mean and sample standard deviation. */
export function spread(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}
