// A trained GBDT and its predictions, computed exactly as onnxruntime computes the exported
// graph: each output's leaf values summed in float32 in tree order, then the initial score
// added in float32, then the link (sigmoid or softmax) applied.
import { categoryBins, type BinMapper } from './binning.js';
import { softmaxInto } from './objectives.js';
import type { GbdtParams, Objective } from './params.js';
import type { Tree } from './tree.js';
import type { ColumnTable } from '../table.js';

export interface GbdtModel {
  readonly kind: 'gbdt';
  readonly objective: Objective;
  /** Scores per row: classes for multiclass, else 1. */
  readonly outputs: number;
  /** One per input feature, in input order: how its values were binned. */
  readonly features: readonly BinMapper[];
  /** float32, one per output. */
  readonly initScores: readonly number[];
  /** Round i's tree for output k is trees[i * outputs + k]. */
  readonly trees: readonly Tree[];
  readonly iterations: number;
  /** Round with the best validation metric (1-based), when early stopping watched one. */
  readonly bestIteration: number | null;
  readonly importance: FeatureImportance;
  readonly params: GbdtParams;
}

export interface FeatureImportance {
  readonly feature: readonly string[];
  /** Total loss reduction of the splits on each feature. */
  readonly gain: readonly number[];
  /** Number of splits on each feature. */
  readonly split: readonly number[];
}

export function featureImportance(features: readonly BinMapper[], trees: readonly Tree[]): FeatureImportance {
  const gain = new Array<number>(features.length).fill(0);
  const split = new Array<number>(features.length).fill(0);
  for (const tree of trees) {
    tree.splitFeature.forEach((f, n) => {
      gain[f]! += tree.gain[n]!;
      split[f]!++;
    });
  }
  return { feature: features.map((f) => f.feature), gain, split };
}

/**
 * Raw scores, row-major [rows x outputs] as the ONNX graph's `raw` output, as float32. Input
 * columns are matched by name; numeric values must be float32 (as ColumnTable holds them).
 */
export function predictRaw(model: GbdtModel, table: ColumnTable): Float32Array {
  const K = model.outputs;
  const F = model.features.length;
  const x = encodeRows(model, table);
  const forest = forestOf(model.trees);
  // Float32 sums, each row's in tree order, as onnxruntime adds them. Tree by tree over all
  // rows rather than row by row over all trees: one tree's nodes stay in the cache while every
  // row walks it (116,000 rows through 300 trees of 63 leaves: 1.25 s against 3.46).
  const out = new Float32Array(table.rows * K);
  const { root, feature, threshold, missingLeft, memberOffset, memberLength, member, left, right, leafValue } = forest;
  for (let t = 0; t < root.length; t++) {
    const k = t % K;
    const first = root[t]!;
    for (let r = 0; r < table.rows; r++) {
      const base = r * F;
      let n = first;
      while (n >= 0) {
        const v = x[base + feature[n]!]!;
        const m = memberOffset[n]!;
        // A category bin past the table's end is not in the set (sets are sorted, so the table ends at the largest).
        const goLeft = m >= 0 ? v < memberLength[n]! && member[m + v] === 1 : v !== v ? missingLeft[n] === 1 : v <= threshold[n]!;
        n = goLeft ? left[n]! : right[n]!;
      }
      out[r * K + k]! += leafValue[~n]!;
    }
  }
  for (let r = 0; r < table.rows; r++) for (let k = 0; k < K; k++) out[r * K + k]! += model.initScores[k]!;
  return out;
}

/**
 * The rows as the forest reads them, row-major [rows x features]: numeric values as they are,
 * categories as their bin (the last bin for missing, rare and unseen ones), so every node reads
 * a number. Input columns are matched by name.
 */
export function encodeRows(model: GbdtModel, table: ColumnTable): Float32Array {
  const F = model.features.length;
  const x = new Float32Array(table.rows * F);
  model.features.forEach((mapper, f) => {
    const col = table.columns.find((c) => c.name === mapper.feature);
    if (!col) throw new Error(`input has no column '${mapper.feature}'`);
    if (col.kind !== mapper.kind) throw new Error(`column '${mapper.feature}' must be ${mapper.kind}`);
    if (col.kind === 'numeric') {
      for (let r = 0; r < table.rows; r++) x[r * F + f] = col.values[r]!;
    } else {
      const bins = binsOf(mapper as Extract<BinMapper, { kind: 'categorical' }>, col.dictionary);
      const other = mapper.numBins - 1;
      for (let r = 0; r < table.rows; r++) {
        const code = col.codes[r]!;
        x[r * F + f] = code >= 0 ? bins[code]! : other;
      }
    }
  });
  return x;
}

/** Does encoded value `v` go left at the forest's node `n`? (predictRaw inlines the same test.) */
export function goesLeft(forest: Forest, n: number, v: number): boolean {
  const m = forest.memberOffset[n]!;
  // A category bin past the table's end is not in the set (sets are sorted, so the table ends at the largest).
  return m >= 0 ? v < forest.memberLength[n]! && forest.member[m + v] === 1 : v !== v ? forest.missingLeft[n] === 1 : v <= forest.threshold[n]!;
}

/** Probabilities (binary: of class 1; multiclass: per class, row-major) or values (regression). */
export function predict(model: GbdtModel, table: ColumnTable): Float64Array {
  const raw = predictRaw(model, table);
  return applyLink(model.objective, model.outputs, raw);
}

export function applyLink(objective: Objective, outputs: number, raw: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(raw as ArrayLike<number>);
  if (objective === 'binary') for (let i = 0; i < out.length; i++) out[i] = 1 / (1 + Math.exp(-out[i]!));
  if (objective === 'multiclass') {
    const rows = out.length / outputs;
    const p = new Float64Array(outputs);
    for (let r = 0; r < rows; r++) {
      // raw is row-major here: one row's scores are contiguous (stride 1, block size 1).
      softmaxInto(out.subarray(r * outputs, (r + 1) * outputs), 0, 1, p);
      out.set(p, r * outputs);
    }
  }
  return out;
}

// What predictRaw derives from a model, kept per model rather than remade per call: callers
// score big tables in slices (the ONNX parity check: 100,000 rows, 48 at a time), and each
// slice flattening the whole forest again made that check take most of a minute. Keyed by
// the objects, with their lengths, so a forest or dictionary that grows is derived again.
const forests = new WeakMap<readonly Tree[], { readonly trees: number; readonly forest: Forest }>();
const categoryBinsByMapper = new WeakMap<BinMapper, WeakMap<readonly string[], { readonly size: number; readonly bins: Int32Array }>>();

export function forestOf(trees: readonly Tree[]): Forest {
  const known = forests.get(trees);
  if (known?.trees === trees.length) return known.forest;
  const forest = flatten(trees);
  forests.set(trees, { trees: trees.length, forest });
  return forest;
}

function binsOf(mapper: Extract<BinMapper, { kind: 'categorical' }>, dictionary: readonly string[]): Int32Array {
  let byDictionary = categoryBinsByMapper.get(mapper);
  if (!byDictionary) categoryBinsByMapper.set(mapper, (byDictionary = new WeakMap()));
  const known = byDictionary.get(dictionary);
  if (known?.size === dictionary.length) return known.bins;
  const bins = categoryBins(mapper, dictionary);
  byDictionary.set(dictionary, { size: dictionary.length, bins });
  return bins;
}

export type Forest = ReturnType<typeof flatten>;

/** All trees in flat arrays; child references >= 0 are nodes, < 0 leaves (~index), both global. */
function flatten(trees: readonly Tree[]) {
  const nodes = trees.reduce((s, t) => s + t.splitFeature.length, 0);
  const leaves = trees.reduce((s, t) => s + t.leafValue.length, 0);
  // Each categorical node gets a membership table as long as its largest category bin.
  const memberSize = trees.reduce((s, t) => s + t.categories.reduce((a, c) => a + (c.length > 0 ? c[c.length - 1]! + 1 : 0), 0), 0);
  const f = {
    root: new Int32Array(trees.length),
    feature: new Int32Array(nodes),
    threshold: new Float32Array(nodes),
    missingLeft: new Uint8Array(nodes),
    memberOffset: new Int32Array(nodes).fill(-1),
    memberLength: new Int32Array(nodes),
    member: new Uint8Array(memberSize),
    left: new Int32Array(nodes),
    right: new Int32Array(nodes),
    leafValue: new Float32Array(leaves),
    /** Training rows that reached each node and leaf (a node's is the sum of its leaves'): TreeSHAP's weights. */
    nodeCover: new Float64Array(nodes),
    leafCover: new Float64Array(leaves),
  };
  let nodeBase = 0;
  let leafBase = 0;
  let memberBase = 0;
  const child = (c: number) => (c >= 0 ? nodeBase + c : ~(leafBase + ~c));
  trees.forEach((tree, t) => {
    f.root[t] = tree.splitFeature.length === 0 ? ~leafBase : nodeBase;
    tree.splitFeature.forEach((feature, n) => {
      const i = nodeBase + n;
      f.feature[i] = feature;
      f.threshold[i] = tree.threshold[n]!;
      f.missingLeft[i] = tree.missingLeft[n] ? 1 : 0;
      const cats = tree.categories[n]!;
      if (cats.length > 0) {
        f.memberOffset[i] = memberBase;
        for (const c of cats) f.member[memberBase + c] = 1;
        memberBase += cats[cats.length - 1]! + 1;
        f.memberLength[i] = cats[cats.length - 1]! + 1;
      }
      f.left[i] = child(tree.left[n]!);
      f.right[i] = child(tree.right[n]!);
    });
    f.leafValue.set(tree.leafValue, leafBase);
    f.leafCover.set(tree.leafCount, leafBase);
    const cover = (c: number): number => (c < 0 ? tree.leafCount[~c]! : (f.nodeCover[nodeBase + c] = cover(tree.left[c]!) + cover(tree.right[c]!)));
    if (tree.splitFeature.length > 0) cover(0);
    nodeBase += tree.splitFeature.length;
    leafBase += tree.leafValue.length;
  });
  return f;
}

/**
 * A model as JSON text. JSON has no Infinity or NaN (JSON.stringify writes null), yet a split
 * that sends every value one way and the missing ones the other has an infinite threshold, and
 * a null read back as `x <= null` compares with 0: such numbers are written as
 * `{"nonFinite": "Infinity"}` and read back by decodeModel.
 */
export function encodeModel(model: GbdtModel): string {
  return JSON.stringify(model, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? { nonFinite: String(value) } : value));
}

export function decodeModel(text: string): GbdtModel {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const keys = Object.keys(value);
      const tag = (value as { nonFinite?: unknown }).nonFinite;
      if (keys.length === 1 && (tag === 'Infinity' || tag === '-Infinity' || tag === 'NaN')) return Number(tag);
    }
    return value;
  }) as GbdtModel;
}
