// A regression tree as the trainer grows it and the exporter writes it.
//
// Internal nodes are numbered from 0 (the root); a child reference >= 0 is a node, < 0 is a
// leaf (~child is its index). A tree that never split has no nodes and one leaf.
// A numeric node sends x <= threshold left; NaN goes left when missingLeft. A categorical
// node (one with a non-empty `categories`) sends those categories (bin indexes of the
// feature) left; missing, rare and unseen values always go right. Leaf values are float32.

export interface Tree {
  readonly splitFeature: number[];
  /** Numeric nodes: float32 threshold; categorical nodes: NaN. */
  readonly threshold: number[];
  /** Numeric nodes: the last value bin that goes left (-1: only missing goes left); categorical: -1. */
  readonly thresholdBin: number[];
  readonly missingLeft: boolean[];
  /** Categorical nodes: bins that go left, ascending; numeric nodes: empty. */
  readonly categories: number[][];
  readonly left: number[];
  readonly right: number[];
  readonly gain: number[];
  readonly leafValue: number[];
  readonly leafCount: number[];
}

export function emptyTree(rootValue: number, rows: number): Tree {
  return {
    splitFeature: [],
    threshold: [],
    thresholdBin: [],
    missingLeft: [],
    categories: [],
    left: [],
    right: [],
    gain: [],
    leafValue: [Math.fround(rootValue)],
    leafCount: [rows],
  };
}

/** Does a row with this bin go left at node n? `missingBin` is the feature's last bin. */
export function binGoesLeft(tree: Tree, n: number, bin: number, missingBin: number): boolean {
  const cats = tree.categories[n]!;
  if (cats.length > 0) return cats.includes(bin);
  return bin === missingBin ? tree.missingLeft[n]! : bin <= tree.thresholdBin[n]!;
}

/** Leaf reached by row `row` of binned columns. */
export function leafOfBinnedRow(tree: Tree, columns: readonly ArrayLike<number>[], row: number, missingBins: Int32Array): number {
  let n = tree.left.length === 0 ? -1 : 0;
  while (n >= 0) {
    const f = tree.splitFeature[n]!;
    n = binGoesLeft(tree, n, columns[f]![row]!, missingBins[f]!) ? tree.left[n]! : tree.right[n]!;
  }
  return ~n;
}
