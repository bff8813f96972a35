// Export a GBDT as an ONNX graph (ai.onnx.ml opset 5 TreeEnsemble) that reproduces the
// trainer's scores: the same float32 thresholds, leaf values and summation order.
//
//   numeric feature x      [N,1] float  ------------------------------------------.
//   categorical feature c  [N,1] string -> LabelEncoder(category -> its bin; else NaN) -> Concat -> [N,F]
//   -> TreeEnsemble (raw sums, one target per output) -> Add(initial scores)
//   -> Sigmoid (binary) | Softmax (multiclass) | as it is (regression)
//
// Categorical splits are BRANCH_MEMBER nodes: onnxruntime sends NaN (missing, rare and
// unseen categories) to the false branch, as the trainer does with its "other" bin. The
// link is a separate standard node because TreeEnsemble's post_transform is ignored for one
// target (see shared/design/ONNX_NOTES.md).
import type { GbdtModel } from '../gbdt/model.js';
import { DataType, encodeModel, type Graph, type Initializer, type ModelInfo, type Node, type ValueInfo } from './model.js';

/** The graph's output, by objective. */
export function outputName(objective: GbdtModel['objective']): string {
  return objective === 'binary' ? 'probability' : objective === 'multiclass' ? 'probabilities' : 'prediction';
}

const MODE_LEQ = 0;
const MODE_MEMBER = 6;
/** A key no real input has, for a categorical feature whose categories were all too rare. */
const NO_CATEGORY = '\u0000(no category)';

export function exportGbdt(model: GbdtModel, info: ModelInfo): Uint8Array {
  const nodes: Node[] = [];
  const initializers: Initializer[] = [];
  const inputs: ValueInfo[] = [];
  const columns: string[] = [];
  for (const f of model.features) {
    if (f.kind === 'numeric') {
      inputs.push({ name: f.feature, elemType: DataType.FLOAT, shape: ['N', 1] });
      columns.push(f.feature);
      continue;
    }
    inputs.push({ name: f.feature, elemType: DataType.STRING, shape: ['N', 1] });
    const coded = `${f.feature}__bin`;
    const keys = f.categories.length > 0 ? f.categories : [NO_CATEGORY];
    const values = f.categories.length > 0 ? f.categories.map((_, i) => i) : [Number.NaN];
    nodes.push({
      opType: 'LabelEncoder',
      domain: 'ai.onnx.ml',
      name: `${f.feature}__encode`,
      inputs: [f.feature],
      outputs: [coded],
      attributes: [
        { name: 'keys_tensor', type: 'tensor', value: { dataType: DataType.STRING, dims: [keys.length], values: keys } },
        { name: 'values_tensor', type: 'tensor', value: { dataType: DataType.FLOAT, dims: [values.length], values } },
        { name: 'default_tensor', type: 'tensor', value: { dataType: DataType.FLOAT, dims: [1], values: [Number.NaN] } },
      ],
    });
    columns.push(coded);
  }
  nodes.push({ opType: 'Concat', name: 'features', inputs: columns, outputs: ['features'], attributes: [{ name: 'axis', type: 'int', value: 1 }] });

  const e = ensembleAttributes(model);
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
      ...(e.membership.length > 0
        ? [{ name: 'membership_values', type: 'tensor' as const, value: { dataType: DataType.FLOAT, dims: [e.membership.length], values: e.membership } }]
        : []),
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
    inputs,
    outputs: [{ name: output, elemType: DataType.FLOAT, shape: ['N', model.outputs] }],
  };
  return encodeModel(graph, info);
}

/** The trees as TreeEnsemble's parallel arrays; node and leaf ids are global across trees. */
function ensembleAttributes(model: GbdtModel) {
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
    membership: [] as number[],
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
      const categories = tree.categories[n]!;
      a.featureIds.push(feature);
      if (categories.length > 0) {
        a.modes.push(MODE_MEMBER);
        a.splits.push(0); // unused by MEMBER nodes
        a.missingTrue.push(0);
        // Sets are separated (not terminated) by NaN.
        if (a.membership.length > 0) a.membership.push(Number.NaN);
        a.membership.push(...categories);
      } else {
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
