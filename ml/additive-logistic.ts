// An additive logistic model: logit = bias + sum over features of a learned weight for the
// feature's bucket. Categorical features get one weight per frequent category (rare and
// unseen categories share an "other" weight); numeric features are cut at quantiles and get
// one weight per bin plus one for missing values. It is a one-hot logistic regression,
// trained with mini-batch Adam on log loss with L2, seeded and deterministic.
//
// Every weight and bin edge is a float32 once training finishes, and prediction uses exactly
// those numbers, so the ONNX graph (ml/onnx/additive-logistic.ts) reproduces the scores.
import { mulberry32, permutation } from './random.js';
import type { ColumnTable, LabeledTable } from './table.js';

export interface AdditiveLogisticConfig {
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly l2: number;
  readonly numericBins: number;
  readonly minCategoryCount: number;
  readonly seed: number;
}

export type Term =
  | {
      readonly feature: string;
      readonly kind: 'categorical';
      readonly categories: readonly string[];
      readonly weights: readonly number[];
      /** Weight of rare, unseen and missing categories. */
      readonly otherWeight: number;
    }
  | {
      readonly feature: string;
      readonly kind: 'numeric';
      /** Ascending float32 cut points: the bin of x is the number of edges e with x > e. */
      readonly edges: readonly number[];
      readonly weights: readonly number[];
      readonly missingWeight: number;
    };

export interface AdditiveLogisticModel {
  readonly kind: 'additive-logistic';
  readonly bias: number;
  readonly terms: readonly Term[];
}

/** Progress reported after every `reportEvery` batches and at each epoch's end. */
export interface TrainingProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly batch: number;
  readonly batchesPerEpoch: number;
  readonly trainLoss: number;
}

/** Everything needed to continue training exactly where it stopped. */
export interface Checkpoint {
  readonly epochsDone: number;
  readonly step: number;
  readonly params: number[];
  readonly adamM: number[];
  readonly adamV: number[];
  readonly layout: Layout;
}

export interface TrainOptions {
  readonly resumeFrom?: Checkpoint;
  readonly onProgress?: (p: TrainingProgress) => void;
  /** Called after each epoch with a checkpoint and the model as it stands. */
  readonly onEpoch?: (epoch: number, checkpoint: Checkpoint, model: AdditiveLogisticModel) => void | Promise<void>;
  readonly reportEvery?: number;
}

/** How parameters are laid out: one block per term, plus the bias at index 0. */
interface Layout {
  readonly blocks: readonly (
    | { readonly feature: string; readonly kind: 'categorical'; readonly offset: number; readonly categories: readonly string[] }
    | { readonly feature: string; readonly kind: 'numeric'; readonly offset: number; readonly edges: readonly number[] }
  )[];
  readonly size: number;
}

const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;
const ADAM_EPS = 1e-8;
const EDGE_SAMPLE = 200_000;

export async function trainAdditiveLogistic(
  data: LabeledTable,
  config: AdditiveLogisticConfig,
  options: TrainOptions = {},
): Promise<AdditiveLogisticModel> {
  const rows = data.features.rows;
  if (rows === 0) throw new Error('cannot train on an empty table');
  const layout = options.resumeFrom?.layout ?? buildLayout(data, config);
  const index = encodeRows(data.features, layout);
  const width = layout.blocks.length;
  const labels = data.labels;

  const params = Float64Array.from(options.resumeFrom?.params ?? initialParams(layout, labels));
  const m = Float64Array.from(options.resumeFrom?.adamM ?? new Array<number>(layout.size).fill(0));
  const v = Float64Array.from(options.resumeFrom?.adamV ?? new Array<number>(layout.size).fill(0));
  let step = options.resumeFrom?.step ?? 0;
  const grad = new Float64Array(layout.size);
  const touched = new Uint8Array(layout.size);
  const touchedList = new Int32Array(layout.size);
  const batchesPerEpoch = Math.ceil(rows / config.batchSize);
  const reportEvery = options.reportEvery ?? 200;

  for (let epoch = options.resumeFrom?.epochsDone ?? 0; epoch < config.epochs; epoch++) {
    // The order of an epoch depends only on the seed and the epoch, so resuming is exact.
    const order = permutation(rows, mulberry32(config.seed * 1_000_003 + epoch));
    let lossSum = 0;
    let lossRows = 0;
    for (let batch = 0; batch < batchesPerEpoch; batch++) {
      const start = batch * config.batchSize;
      const end = Math.min(rows, start + config.batchSize);
      let nTouched = 0;
      let gBias = 0;
      for (let k = start; k < end; k++) {
        const r = order[k]!;
        const y = labels[r]!;
        if (Number.isNaN(y)) continue;
        let z = params[0]!;
        const base = r * width;
        for (let t = 0; t < width; t++) z += params[index[base + t]!]!;
        const p = 1 / (1 + Math.exp(-z));
        const g = p - y;
        lossSum -= y === 1 ? Math.log(Math.max(p, 1e-15)) : Math.log(Math.max(1 - p, 1e-15));
        lossRows++;
        gBias += g;
        for (let t = 0; t < width; t++) {
          const j = index[base + t]!;
          grad[j]! += g;
          if (!touched[j]) {
            touched[j] = 1;
            touchedList[nTouched++] = j;
          }
        }
      }
      const n = end - start;
      step++;
      const lr = (config.learningRate * Math.sqrt(1 - ADAM_BETA2 ** step)) / (1 - ADAM_BETA1 ** step);
      adamUpdate(params, m, v, 0, gBias / n, lr, 0);
      for (let k = 0; k < nTouched; k++) {
        const j = touchedList[k]!;
        adamUpdate(params, m, v, j, grad[j]! / n, lr, config.l2);
        grad[j] = 0;
        touched[j] = 0;
      }
      if (options.onProgress && ((batch + 1) % reportEvery === 0 || batch === batchesPerEpoch - 1)) {
        options.onProgress({ epoch: epoch + 1, epochs: config.epochs, batch: batch + 1, batchesPerEpoch, trainLoss: lossSum / Math.max(1, lossRows) });
      }
    }
    const checkpoint: Checkpoint = { epochsDone: epoch + 1, step, params: [...params], adamM: [...m], adamV: [...v], layout };
    await options.onEpoch?.(epoch + 1, checkpoint, toModel(layout, params));
  }
  return toModel(layout, params);
}

function adamUpdate(params: Float64Array, m: Float64Array, v: Float64Array, j: number, g0: number, lr: number, l2: number): void {
  const g = g0 + l2 * params[j]!;
  m[j] = ADAM_BETA1 * m[j]! + (1 - ADAM_BETA1) * g;
  v[j] = ADAM_BETA2 * v[j]! + (1 - ADAM_BETA2) * g * g;
  params[j]! -= (lr * m[j]!) / (Math.sqrt(v[j]!) + ADAM_EPS);
}

function buildLayout(data: LabeledTable, config: AdditiveLogisticConfig): Layout {
  let offset = 1; // index 0 is the bias
  const blocks = data.features.columns.map((col) => {
    if (col.kind === 'categorical') {
      const counts = new Float64Array(col.dictionary.length);
      for (let i = 0; i < col.codes.length; i++) if (col.codes[i]! >= 0) counts[col.codes[i]!]!++;
      const categories = col.dictionary.filter((_, code) => counts[code]! >= config.minCategoryCount).sort();
      const block = { feature: col.name, kind: 'categorical' as const, offset, categories };
      offset += categories.length + 1; // + "other"
      return block;
    }
    const edges = quantileEdges(col.values, config.numericBins, config.seed);
    const block = { feature: col.name, kind: 'numeric' as const, offset, edges };
    offset += edges.length + 2; // bins + "missing"
    return block;
  });
  return { blocks, size: offset };
}

/** Distinct float32 quantiles of a seeded sample of the non-missing values. */
export function quantileEdges(values: Float32Array, bins: number, seed: number): number[] {
  const random = mulberry32(seed ^ 0x9e3779b9);
  const sample: number[] = [];
  const take = Math.min(1, EDGE_SAMPLE / Math.max(1, values.length));
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (!Number.isNaN(x) && (take === 1 || random() < take)) sample.push(x);
  }
  sample.sort((a, b) => a - b);
  const edges: number[] = [];
  for (let q = 1; q < bins; q++) {
    const x = sample[Math.floor((q / bins) * (sample.length - 1))];
    if (x !== undefined && (edges.length === 0 || x > edges[edges.length - 1]!)) edges.push(Math.fround(x));
  }
  // The largest value would make an empty last bin: drop it.
  if (edges.length && edges[edges.length - 1] === sample[sample.length - 1]) edges.pop();
  return edges;
}

/** For each row and term, the index of the parameter the row uses. */
function encodeRows(table: ColumnTable, layout: Layout): Int32Array {
  const width = layout.blocks.length;
  const index = new Int32Array(table.rows * width);
  layout.blocks.forEach((block, t) => {
    const col = table.columns.find((c) => c.name === block.feature);
    if (!col) throw new Error(`training data has no column '${block.feature}'`);
    if (block.kind === 'categorical') {
      if (col.kind !== 'categorical') throw new Error(`column '${block.feature}' must be categorical`);
      const position = new Map(block.categories.map((c, i) => [c, i]));
      const other = block.categories.length;
      const byCode = Int32Array.from(col.dictionary, (s) => block.offset + (position.get(s) ?? other));
      for (let r = 0; r < table.rows; r++) {
        const code = col.codes[r]!;
        index[r * width + t] = code >= 0 ? byCode[code]! : block.offset + other;
      }
    } else {
      if (col.kind !== 'numeric') throw new Error(`column '${block.feature}' must be numeric`);
      for (let r = 0; r < table.rows; r++) {
        index[r * width + t] = block.offset + numericSlot(col.values[r]!, block.edges);
      }
    }
  });
  return index;
}

/** Bin of x (number of edges below it), or edges.length + 1 for missing. */
function numericSlot(x: number, edges: readonly number[]): number {
  if (Number.isNaN(x)) return edges.length + 1;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x > edges[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function initialParams(layout: Layout, labels: Float32Array): number[] {
  let pos = 0;
  let n = 0;
  for (const y of labels) {
    if (Number.isNaN(y)) continue;
    pos += y;
    n++;
  }
  const rate = Math.min(1 - 1e-6, Math.max(1e-6, pos / Math.max(1, n)));
  const params = new Array<number>(layout.size).fill(0);
  params[0] = Math.log(rate / (1 - rate));
  return params;
}

function toModel(layout: Layout, params: Float64Array): AdditiveLogisticModel {
  const f = (i: number) => Math.fround(params[i]!);
  const terms = layout.blocks.map((b): Term => {
    if (b.kind === 'categorical') {
      return {
        feature: b.feature,
        kind: 'categorical',
        categories: b.categories,
        weights: b.categories.map((_, i) => f(b.offset + i)),
        otherWeight: f(b.offset + b.categories.length),
      };
    }
    return {
      feature: b.feature,
      kind: 'numeric',
      edges: b.edges,
      weights: Array.from({ length: b.edges.length + 1 }, (_, i) => f(b.offset + i)),
      missingWeight: f(b.offset + b.edges.length + 1),
    };
  });
  return { kind: 'additive-logistic', bias: f(0), terms };
}

/** Probabilities for every row, with exactly the float32 weights that are exported. */
export function predictAdditiveLogistic(model: AdditiveLogisticModel, table: ColumnTable): Float64Array {
  const logits = new Float64Array(table.rows).fill(model.bias);
  for (const term of model.terms) {
    const col = table.columns.find((c) => c.name === term.feature);
    if (!col) throw new Error(`input has no column '${term.feature}'`);
    if (term.kind === 'categorical') {
      if (col.kind !== 'categorical') throw new Error(`column '${term.feature}' must be categorical`);
      const position = new Map(term.categories.map((c, i) => [c, term.weights[i]!]));
      const byCode = Float64Array.from(col.dictionary, (s) => position.get(s) ?? term.otherWeight);
      for (let r = 0; r < table.rows; r++) {
        const code = col.codes[r]!;
        logits[r]! += code >= 0 ? byCode[code]! : term.otherWeight;
      }
    } else {
      if (col.kind !== 'numeric') throw new Error(`column '${term.feature}' must be numeric`);
      for (let r = 0; r < table.rows; r++) {
        const x = col.values[r]!;
        logits[r]! += Number.isNaN(x) ? term.missingWeight : term.weights[numericSlot(x, term.edges)]!;
      }
    }
  }
  return logits.map((z) => 1 / (1 + Math.exp(-z)));
}
