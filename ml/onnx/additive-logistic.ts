// Export an additive logistic model as an ONNX graph that reproduces the trainer's scores.
//
// Inputs: one [N,1] tensor per feature (string for categorical, float for numeric), so a
// columnar source feeds it without reshaping. Per term:
//   categorical: LabelEncoder(string -> its weight; unknown -> "other" weight)
//   numeric:     bin = ReduceSum(Cast(Greater(x, edges))) -> Gather(weights, bin);
//                NaN -> missing weight (Where(IsNaN(x), ...))
// then Sum(terms, bias) -> Sigmoid -> output `probability` [N,1].
import type { AdditiveLogisticModel } from '../additive-logistic.js';
import { DataType, encodeModel, type Graph, type Initializer, type ModelInfo, type Node, type ValueInfo } from './model.js';

export const PROBABILITY_OUTPUT = 'probability';

export function exportAdditiveLogistic(model: AdditiveLogisticModel, info: ModelInfo): Uint8Array {
  const nodes: Node[] = [];
  const initializers: Initializer[] = [];
  const inputs: ValueInfo[] = [];
  const contributions: string[] = [];

  initializers.push({ name: 'reduce_axes', dims: [1], dataType: DataType.INT64, values: [1] });
  for (const term of model.terms) {
    const x = term.feature;
    const out = `${x}__contribution`;
    if (term.kind === 'categorical') {
      inputs.push({ name: x, elemType: DataType.STRING, shape: ['N', 1] });
      nodes.push({
        opType: 'LabelEncoder',
        domain: 'ai.onnx.ml',
        name: `${x}__weights`,
        inputs: [x],
        outputs: [out],
        attributes: [
          { name: 'keys_strings', type: 'strings', value: term.categories },
          { name: 'values_floats', type: 'floats', value: term.weights },
          { name: 'default_float', type: 'float', value: term.otherWeight },
        ],
      });
    } else {
      inputs.push({ name: x, elemType: DataType.FLOAT, shape: ['N', 1] });
      initializers.push(
        { name: `${x}__edges`, dims: [1, term.edges.length], dataType: DataType.FLOAT, values: term.edges },
        { name: `${x}__bin_weights`, dims: [term.weights.length], dataType: DataType.FLOAT, values: term.weights },
        { name: `${x}__missing_weight`, dims: [1, 1], dataType: DataType.FLOAT, values: [term.missingWeight] },
      );
      nodes.push(
        { opType: 'Greater', name: `${x}__above_edges`, inputs: [x, `${x}__edges`], outputs: [`${x}__above`] },
        {
          opType: 'Cast',
          name: `${x}__above_as_int`,
          inputs: [`${x}__above`],
          outputs: [`${x}__above_int`],
          attributes: [{ name: 'to', type: 'int', value: DataType.INT64 }],
        },
        {
          opType: 'ReduceSum',
          name: `${x}__bin`,
          inputs: [`${x}__above_int`, 'reduce_axes'],
          outputs: [`${x}__bin`],
          attributes: [{ name: 'keepdims', type: 'int', value: 1 }],
        },
        {
          opType: 'Gather',
          name: `${x}__bin_weight`,
          inputs: [`${x}__bin_weights`, `${x}__bin`],
          outputs: [`${x}__binned`],
          attributes: [{ name: 'axis', type: 'int', value: 0 }],
        },
        { opType: 'IsNaN', name: `${x}__is_missing`, inputs: [x], outputs: [`${x}__missing`] },
        {
          opType: 'Where',
          name: `${x}__missing_or_bin`,
          inputs: [`${x}__missing`, `${x}__missing_weight`, `${x}__binned`],
          outputs: [out],
        },
      );
    }
    contributions.push(out);
  }
  initializers.push({ name: 'bias', dims: [1, 1], dataType: DataType.FLOAT, values: [model.bias] });
  nodes.push(
    { opType: 'Sum', name: 'logit', inputs: ['bias', ...contributions], outputs: ['logit'] },
    { opType: 'Sigmoid', name: PROBABILITY_OUTPUT, inputs: ['logit'], outputs: [PROBABILITY_OUTPUT] },
  );
  const graph: Graph = {
    name: 'additive_logistic',
    nodes,
    initializers,
    inputs,
    outputs: [{ name: PROBABILITY_OUTPUT, elemType: DataType.FLOAT, shape: ['N', 1] }],
  };
  return encodeModel(graph, info);
}
