// The boosting loop, as LightGBM's: per round, compute gradients, grow one tree per output
// on histograms, shrink by the learning rate, update the scores; watch a validation metric
// for early stopping and keep the best round.
//
// Deterministic for a seed: bagging and feature sampling of round i depend only on the seed
// and i. A checkpoint holds the trees and the exact scores, so resuming from it gives the
// same model, bit for bit, as a run that never stopped.
import { mulberry32, sampleSorted } from '../random.js';
import type { LabeledTable } from '../table.js';
import { binTable, buildBinMappers, type BinMapper, type BinnedData } from './binning.js';
import { sharedArray, ThreadPool, type SharedData } from './pool.js';
import { TreeLearner } from './learner.js';
import { featureImportance, type GbdtModel } from './model.js';
import { createObjective } from './objectives.js';
import { resolveParams, type GbdtParams } from './params.js';
import { leafOfBinnedRow, type Tree } from './tree.js';

export interface IterationInfo {
  readonly iteration: number;
  readonly numIterations: number;
  readonly metric: string;
  /** Training metric, computed every `trainMetricEvery` rounds when onIteration listens (else null). */
  readonly trainMetric: number | null;
  readonly validMetric: number | null;
  readonly bestIteration: number | null;
  readonly bestValidMetric: number | null;
}

/** Everything needed to continue exactly where training stopped. */
export interface GbdtCheckpoint {
  readonly format: 'gbdt-checkpoint-1';
  readonly params: GbdtParams;
  readonly rows: number;
  readonly validRows: number;
  readonly mappers: readonly BinMapper[];
  readonly initScores: readonly number[];
  readonly trees: readonly Tree[];
  readonly iteration: number;
  readonly bestIteration: number | null;
  readonly bestValidMetric: number | null;
  readonly trainScores: Float64Array;
  readonly validScores: Float64Array;
}

export interface GbdtTrainOptions {
  /** Rows early stopping watches; never trained on. */
  readonly validation?: LabeledTable;
  readonly resumeFrom?: GbdtCheckpoint;
  readonly checkpointEvery?: number;
  readonly onCheckpoint?: (checkpoint: GbdtCheckpoint) => void | Promise<void>;
  /** Called after every round; training waits for it (and so yields to the event loop). */
  readonly onIteration?: (info: IterationInfo) => void | Promise<void>;
  readonly trainMetricEvery?: number;
}

export async function trainGbdt(data: LabeledTable, paramsIn: Partial<GbdtParams>, options: GbdtTrainOptions = {}): Promise<GbdtModel> {
  const params = resolveParams(paramsIn);
  const objective = createObjective(params.objective, params.numClass, params.huberAlpha);
  const N = data.features.rows;
  if (N === 0) throw new RangeError('cannot train on an empty table');
  if (data.labels.length !== N) throw new RangeError(`${data.labels.length} labels for ${N} rows`);
  objective.checkLabels(data.labels);
  const valid = options.validation;
  if (valid) objective.checkLabels(valid.labels);
  const K = objective.outputs;
  const resume = options.resumeFrom;
  if (resume) checkResumable(resume, params, N, valid?.features.rows ?? 0);

  const mappers =
    resume?.mappers ??
    buildBinMappers(data.features, {
      maxBin: params.maxBin,
      sampleCount: params.binSampleCount,
      minDataInBin: params.minDataInBin,
      seed: params.seed,
    });
  const binned = binTable(data.features, mappers);
  const validBinned = valid ? binTable(valid.features, mappers) : null;
  const F = mappers.length;
  const missingBins = Int32Array.from(mappers, (m) => m.numBins - 1);
  const offsets = new Int32Array(F + 1);
  for (let f = 0; f < F; f++) offsets[f + 1] = offsets[f]! + mappers[f]!.numBins;

  const initScores = resume?.initScores ?? objective.initScores(data.labels).map((s) => Math.fround(s));
  const validN = valid?.features.rows ?? 0;
  const validScores = resume ? Float64Array.from(resume.validScores) : fillBlocks(validN, initScores);
  const trees: Tree[] = resume ? [...resume.trees] : [];

  const shared: SharedData = {
    rows: N,
    numFeatures: F,
    bins: binned,
    offsets,
    labels: sharedArray(Float32Array, N),
    scores: sharedArray(Float64Array, N * K),
    gradients: sharedArray(Float32Array, 2 * N * K),
    rowIndex: sharedArray(Int32Array, N),
    scratch: sharedArray(Int32Array, N),
    goesLeft: sharedArray(Uint8Array, Math.max(...mappers.map((m) => m.numBins))),
    leafRanges: sharedArray(Int32Array, 2 * params.numLeaves),
    leafValues: sharedArray(Float64Array, params.numLeaves),
    objective: { name: params.objective, numClass: params.numClass, huberAlpha: params.huberAlpha },
  };
  shared.labels.set(data.labels);
  if (resume) shared.scores.set(resume.trainScores);
  else shared.scores.set(fillBlocks(N, initScores));
  const scores = shared.scores;
  const pool = await ThreadPool.create(shared, params.numThreads);
  const learner = new TreeLearner({ params, mappers, pool });
  const bagCount = params.baggingFraction < 1 && params.baggingFreq > 0 ? Math.max(1, Math.floor(N * params.baggingFraction)) : N;
  const inBag = new Uint8Array(bagCount < N ? N : 0);
  let bag: Int32Array | null = null;
  let bagRound = -1;

  let bestIteration = resume?.bestIteration ?? null;
  let bestValidMetric = resume?.bestValidMetric ?? null;
  let iteration = resume?.iteration ?? 0;
  try {
    while (iteration < params.numIterations) {
      const random = mulberry32(hashSeeds(params.seed, iteration));
      const featureMask = sampleFeatures(F, params.featureFraction, random);
      if (bagCount < N) {
        const round = iteration - (iteration % params.baggingFreq);
        if (round !== bagRound) {
          bag = sampleSorted(N, bagCount, mulberry32(hashSeeds(params.seed ^ 0x2545f491, round)));
          bagRound = round;
          inBag.fill(0);
          for (const r of bag) inBag[r] = 1;
        }
      }
      pool.gradients();
      const roundTrees: Tree[] = [];
      let anySplit = false;
      for (let k = 0; k < K; k++) {
        if (bag) for (let i = 0; i < bagCount; i++) shared.rowIndex[i] = bag[i]!;
        const { tree, leafStart, leafCount } = learner.grow(k, bagCount, bag === null, featureMask);
        if (tree.splitFeature.length > 0) anySplit = true;
        tree.leafValue.forEach((v, l) => {
          shared.leafValues[l] = v;
          shared.leafRanges[2 * l] = leafStart[l]!;
          shared.leafRanges[2 * l + 1] = leafCount[l]!;
        });
        pool.updateScores(k, tree.leafValue.length, bagCount);
        if (bag) {
          for (let r = 0; r < N; r++) if (!inBag[r]) scores[k * N + r]! += tree.leafValue[leafOfBinnedRow(tree, binned.columns, r, missingBins)]!;
        }
        if (validBinned) addTreeScores(validScores, k * validN, tree, validBinned, missingBins);
        roundTrees.push(tree);
      }
      // Like LightGBM: a round where no tree could split ends training (and adds nothing).
      if (!anySplit) break;
      trees.push(...roundTrees);
      iteration++;

      const validMetric = valid ? objective.loss(valid.labels, validScores) : null;
      if (validMetric !== null && (bestValidMetric === null || validMetric < bestValidMetric)) {
        bestValidMetric = validMetric;
        bestIteration = iteration;
      }
      // The training metric is a pass over every row (exp and log): only for a listener.
      const every = options.trainMetricEvery ?? 10;
      const wanted = options.onIteration !== undefined && (iteration % every === 0 || iteration === params.numIterations);
      const trainMetric = wanted ? objective.loss(data.labels, scores) : null;
      await options.onIteration?.({
        iteration,
        numIterations: params.numIterations,
        metric: objective.metric,
        trainMetric,
        validMetric,
        bestIteration,
        bestValidMetric,
      });
      const stop =
        valid !== undefined && params.earlyStoppingRounds > 0 && bestIteration !== null && iteration - bestIteration >= params.earlyStoppingRounds;
      if (options.onCheckpoint && options.checkpointEvery && iteration % options.checkpointEvery === 0 && !stop) {
        await options.onCheckpoint({
          format: 'gbdt-checkpoint-1',
          params,
          rows: N,
          validRows: validN,
          mappers,
          initScores,
          trees: [...trees],
          iteration,
          bestIteration,
          bestValidMetric,
          trainScores: scores,
          validScores,
        });
      }
      if (stop) break;
    }
  } finally {
    await pool.close();
  }
  const keep = valid && params.earlyStoppingRounds > 0 && bestIteration !== null ? bestIteration : iteration;
  const kept = trees.slice(0, keep * K);
  return {
    kind: 'gbdt',
    objective: params.objective,
    outputs: K,
    features: mappers,
    initScores,
    trees: kept,
    iterations: keep,
    bestIteration: valid ? bestIteration : null,
    importance: featureImportance(mappers, kept),
    params,
  };
}

function checkResumable(cp: GbdtCheckpoint, params: GbdtParams, rows: number, validRows: number): void {
  if (cp.format !== 'gbdt-checkpoint-1') throw new Error(`unknown checkpoint format '${String(cp.format)}'`);
  if (cp.rows !== rows || cp.validRows !== validRows) {
    throw new Error(`checkpoint was made on ${cp.rows} training and ${cp.validRows} validation rows, not ${rows} and ${validRows}`);
  }
  if (JSON.stringify(cp.params) !== JSON.stringify(params)) throw new Error('checkpoint was made with other parameters');
}

function fillBlocks(rows: number, values: readonly number[]): Float64Array {
  const out = new Float64Array(rows * values.length);
  values.forEach((v, k) => out.fill(v, k * rows, (k + 1) * rows));
  return out;
}

function addTreeScores(scores: Float64Array, base: number, tree: Tree, data: BinnedData, missingBins: Int32Array): void {
  if (tree.splitFeature.length === 0 && tree.leafValue[0] === 0) return;
  for (let r = 0; r < data.rows; r++) scores[base + r]! += tree.leafValue[leafOfBinnedRow(tree, data.columns, r, missingBins)]!;
}

function hashSeeds(seed: number, i: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35)) >>> 0;
}

function sampleFeatures(F: number, fraction: number, random: () => number): Uint8Array {
  const mask = new Uint8Array(F);
  if (fraction >= 1) return mask.fill(1);
  const take = Math.max(1, Math.round(F * fraction));
  const order = Array.from({ length: F }, (_, i) => i);
  for (let i = F - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (let i = 0; i < take; i++) mask[order[i]!] = 1;
  return mask;
}
