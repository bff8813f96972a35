// K-fold assignment: every row in one fold, folds of equal size, each class spread evenly when
// stratified, the same folds for the same seed.
import { describe, expect, it } from 'vitest';
import { assignFolds, spread, takeRows } from '../ml/folds.js';

describe('k-fold assignment', () => {
  it('deals each class round the folds in turn when stratified, seeded', () => {
    const labels = Float32Array.from({ length: 103 }, (_, i) => (i < 13 ? 2 : i < 40 ? 1 : 0));
    const folds = assignFolds(labels, 5, 7, true);
    for (const cls of [0, 1, 2]) {
      const counts = [0, 0, 0, 0, 0];
      labels.forEach((y, i) => y === cls && counts[folds[i]!]!++);
      expect(Math.max(...counts) - Math.min(...counts), `class ${cls}`).toBeLessThanOrEqual(1);
    }
    expect(assignFolds(labels, 5, 7, true)).toEqual(folds);
    expect(assignFolds(labels, 5, 8, true)).not.toEqual(folds);
    const plain = assignFolds(labels, 4, 1, false);
    const sizes = [0, 1, 2, 3].map((f) => plain.filter((x) => x === f).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('takes rows of a table and reports mean and sample spread', () => {
    const table = { rows: 3, columns: [{ name: 'x', kind: 'numeric' as const, values: Float32Array.of(1, 2, 3) }, { name: 'c', kind: 'categorical' as const, codes: Int32Array.of(0, 1, 0), dictionary: ['a', 'b'] }] };
    const taken = takeRows(table, Uint32Array.of(2, 0, 2));
    expect(taken.rows).toBe(3);
    expect(Array.from((taken.columns[0] as { values: Float32Array }).values)).toEqual([3, 1, 3]);
    expect(spread([1, 2, 3])).toEqual({ mean: 2, std: 1 });
  });
});
