// Export a GBDT as an ONNX graph (ai.onnx.ml opset 5 TreeEnsemble) that reproduces the
// trainer's scores: the same float32 thresholds, leaf values and summation order.
//
//   numeric feature x      [N,1] float  ----------------------------------------------------.
//   categorical feature c  [N,1] string -> LabelEncoder(category -> its bin; else K) -+-> Cast ---> Concat -> [N, F + S]
//                                       Gather(one 0/1 row per bin, a column per set) '-> Cast -'
//   -> TreeEnsemble (raw sums, one target per output) -> Add(initial scores)
//   -> Sigmoid (binary) | Softmax (multiclass) | as it is (regression)
//
// Categorical splits test membership of a set of bins. TreeEnsemble can say that itself
// (BRANCH_MEMBER), but onnxruntime unrolls each set into a chain of equality tests: with
// sets of 25 routes out of 3,000 the trees grow fifteen-fold and a flight cost 235 us.
// Instead every distinct set of a feature becomes one 0/1 column, gathered per row from a
// table with a row per bin, and its split a single `>= 0.5` test: the same answers, about
// five times faster. The tables are mostly zero and stored sparse (flight_delay, with about
// 14,000 sets, is a 1.5 MB file). Unknown and missing categories take the table's last row,
// all zeros: the false branch, as the trainer does with its "other" bin. The first F columns
// keep each feature's own position (a categorical one as its bin code), so numeric splits
// keep their feature ids.
//
// The link is a separate standard node because TreeEnsemble's post_transform is ignored for
// one target (see shared/design/ONNX_NOTES.md).
import type { GbdtModel } from '../gbdt/model.js';
import { DataType, encodeModel, type Graph, type Initializer, type ModelInfo, type Node, type SparseInitializer, type ValueInfo } from './model.js';

/** The graph's output, by objective. */
export function outputName(objective: GbdtModel['objective']): string {
  return objective === 'binary' ? 'probability' : objective === 'multiclass' ? 'probabilities' : 'prediction';
}

const MODE_LEQ = 0;
const MODE_GTE = 2;
/** A key no real input has, for a categorical feature whose categories were all too rare. */
const NO_CATEGORY = '\u0000(no category)';

/** The distinct category sets the splits on each feature test, each with its column among a feature's sets. */
function categorySets(model: GbdtModel): Map<number, Map<string, { column: number; bins: readonly number[] }>> {
  const sets = new Map<number, Map<string, { column: number; bins: readonly number[] }>>();
  for (const tree of model.trees) {
    tree.splitFeature.forEach((feature, n) => {
      const bins = tree.categories[n]!;
      if (bins.length === 0) return;
      let ofFeature = sets.get(feature);
      if (!ofFeature) sets.set(feature, (ofFeature = new Map()));
      const key = bins.join(',');
      if (!ofFeature.has(key)) ofFeature.set(key, { column: ofFeature.size, bins });
    });
  }
  return sets;
}

export function exportGbdt(model: GbdtModel, info: ModelInfo): Uint8Array {
  const nodes: Node[] = [];
  const initializers: Initializer[] = [];
  const sparseInitializers: SparseInitializer[] = [];
  const inputs: ValueInfo[] = [];
  const columns: string[] = [];
  const setColumns: string[] = [];
  const sets = categorySets(model);
  /** Where each categorical feature's set columns start, after the F feature columns. */
  const firstSetColumn = new Map<number, number>();
  let nextSetColumn = model.features.length;
  initializers.push({ name: 'squeeze_axis', dims: [1], dataType: DataType.INT64, values: [1] });
  model.features.forEach((f, index) => {
    if (f.kind === 'numeric') {
      inputs.push({ name: f.feature, elemType: DataType.FLOAT, shape: ['N', 1] });
      columns.push(f.feature);
      return;
    }
    inputs.push({ name: f.feature, elemType: DataType.STRING, shape: ['N', 1] });
    const K = f.categories.length;
    const bin = `${f.feature}__bin`;
    nodes.push({
      opType: 'LabelEncoder',
      domain: 'ai.onnx.ml',
      name: `${f.feature}__encode`,
      inputs: [f.feature],
      outputs: [bin],
      attributes: [
        { name: 'keys_tensor', type: 'tensor', value: { dataType: DataType.STRING, dims: [Math.max(K, 1)], values: K > 0 ? f.categories : [NO_CATEGORY] } },
        { name: 'values_tensor', type: 'tensor', value: { dataType: DataType.INT64, dims: [Math.max(K, 1)], values: K > 0 ? f.categories.map((_, i) => i) : [K] } },
        { name: 'default_tensor', type: 'tensor', value: { dataType: DataType.INT64, dims: [1], values: [K] } },
      ],
    });
    const code = `${f.feature}__code`;
    nodes.push({ opType: 'Cast', name: `${f.feature}__code`, inputs: [bin], outputs: [code], attributes: [{ name: 'to', type: 'int', value: DataType.FLOAT }] });
    columns.push(code);

    const ofFeature = sets.get(index);
    if (!ofFeature) return;
    // Row b (a bin, or K for unknown) has a 1 in the column of every set holding b.
    const M = ofFeature.size;
    const indices: number[] = [];
    for (const { column, bins } of ofFeature.values()) for (const b of bins) indices.push(b * M + column);
    indices.sort((a, b) => a - b);
    const table = `${f.feature}__sets`;
    sparseInitializers.push({ name: table, dims: [K + 1, M], dataType: DataType.UINT8, indices, values: new Uint8Array(indices.length).fill(1) });
    nodes.push({ opType: 'Gather', name: `${f.feature}__gather`, inputs: [table, bin], outputs: [`${table}__rows`], attributes: [{ name: 'axis', type: 'int', value: 0 }] });
    nodes.push({ opType: 'Squeeze', name: `${f.feature}__squeeze`, inputs: [`${table}__rows`, 'squeeze_axis'], outputs: [`${table}__2d`] });
    nodes.push({ opType: 'Cast', name: `${f.feature}__in_sets`, inputs: [`${table}__2d`], outputs: [`${table}__float`], attributes: [{ name: 'to', type: 'int', value: DataType.FLOAT }] });
    setColumns.push(`${table}__float`);
    firstSetColumn.set(index, nextSetColumn);
    nextSetColumn += M;
  });
  nodes.push({ opType: 'Concat', name: 'features', inputs: [...columns, ...setColumns], outputs: ['features'], attributes: [{ name: 'axis', type: 'int', value: 1 }] });

  const e = ensembleAttributes(model, (feature, bins) => firstSetColumn.get(feature)! + sets.get(feature)!.get(bins.join(','))!.column);
  nodes.push({
    opType: 'TreeEnsemble',
    domain: 'ai.onnx.ml',
    name: 'trees',
    inputs: ['features'],
    outputs: ['tree_sum'],
    attributes: [
      { name: 'n_targets', type: 'int', value: model.outputs },
      { name: 'aggregate_function', type: 'int', value: 1 }, // SUM
      { name: 'post_transform', type: 'int', value: 0 }, // NONE: the link is its own node
      { name: 'tree_roots', type: 'ints', value: e.treeRoots },
      { name: 'nodes_featureids', type: 'ints', value: e.featureIds },
      { name: 'nodes_modes', type: 'tensor', value: { dataType: DataType.UINT8, dims: [e.modes.length], values: e.modes } },
      { name: 'nodes_splits', type: 'tensor', value: { dataType: DataType.FLOAT, dims: [e.splits.length], values: e.splits } },
      { name: 'nodes_truenodeids', type: 'ints', value: e.trueIds },
      { name: 'nodes_trueleafs', type: 'ints', value: e.trueLeafs },
      { name: 'nodes_falsenodeids', type: 'ints', value: e.falseIds },
      { name: 'nodes_falseleafs', type: 'ints', value: e.falseLeafs },
      { name: 'nodes_missing_value_tracks_true', type: 'ints', value: e.missingTrue },
      { name: 'leaf_targetids', type: 'ints', value: e.leafTargets },
      { name: 'leaf_weights', type: 'tensor', value: { dataType: DataType.FLOAT, dims: [e.leafWeights.length], values: e.leafWeights } },
    ],
  });
  const output = outputName(model.objective);
  const scores = model.objective === 'regression' || model.objective === 'huber' ? output : 'score';
  initializers.push({ name: 'init_scores', dims: [model.outputs], dataType: DataType.FLOAT, values: model.initScores });
  nodes.push({ opType: 'Add', name: 'add_init_scores', inputs: ['tree_sum', 'init_scores'], outputs: [scores] });
  if (model.objective === 'binary') nodes.push({ opType: 'Sigmoid', name: 'sigmoid', inputs: [scores], outputs: [output] });
  if (model.objective === 'multiclass') {
    nodes.push({ opType: 'Softmax', name: 'softmax', inputs: [scores], outputs: [output], attributes: [{ name: 'axis', type: 'int', value: 1 }] });
  }
  const graph: Graph = {
    name: `gbdt_${model.objective}`,
    nodes,
    initializers,
    sparseInitializers,
    inputs,
    outputs: [{ name: output, elemType: DataType.FLOAT, shape: ['N', model.outputs] }],
  };
  return encodeModel(graph, info);
}

/** The trees as TreeEnsemble's parallel arrays; node and leaf ids are global across trees. */
function ensembleAttributes(model: GbdtModel, setColumn: (feature: number, bins: readonly number[]) => number) {
  const a = {
    treeRoots: [] as number[],
    featureIds: [] as number[],
    modes: [] as number[],
    splits: [] as number[],
    trueIds: [] as number[],
    trueLeafs: [] as number[],
    falseIds: [] as number[],
    falseLeafs: [] as number[],
    missingTrue: [] as number[],
    leafTargets: [] as number[],
    leafWeights: [] as number[],
  };
  model.trees.forEach((tree, t) => {
    const nodeBase = a.featureIds.length;
    const leafBase = a.leafWeights.length;
    a.treeRoots.push(nodeBase);
    const target = t % model.outputs;
    for (const v of tree.leafValue) {
      a.leafWeights.push(v);
      a.leafTargets.push(target);
    }
    const child = (c: number, ids: number[], leafs: number[]) => {
      ids.push(c >= 0 ? nodeBase + c : leafBase + ~c);
      leafs.push(c >= 0 ? 0 : 1);
    };
    if (tree.splitFeature.length === 0) {
      // A tree needs a node: one whose both branches reach its only leaf.
      a.featureIds.push(0);
      a.modes.push(MODE_LEQ);
      a.splits.push(0);
      a.missingTrue.push(0);
      child(~0, a.trueIds, a.trueLeafs);
      child(~0, a.falseIds, a.falseLeafs);
      return;
    }
    tree.splitFeature.forEach((feature, n) => {
      const bins = tree.categories[n]!;
      if (bins.length > 0) {
        // In the set: its 0/1 column is 1, the true branch. The column is never missing.
        a.featureIds.push(setColumn(feature, bins));
        a.modes.push(MODE_GTE);
        a.splits.push(0.5);
        a.missingTrue.push(0);
      } else {
        a.featureIds.push(feature);
        a.modes.push(MODE_LEQ);
        a.splits.push(tree.threshold[n]!);
        a.missingTrue.push(tree.missingLeft[n] ? 1 : 0);
      }
      child(tree.left[n]!, a.trueIds, a.trueLeafs);
      child(tree.right[n]!, a.falseIds, a.falseLeafs);
    });
  });
  return a;
}
