// Parameters of the gradient-boosted trees trainer, in LightGBM's vocabulary and with its
// defaults, so a LightGBM user can read a spec without a dictionary.

export type Objective = 'binary' | 'multiclass' | 'regression' | 'huber';

export interface GbdtParams {
  readonly objective: Objective;
  /** Classes for multiclass (label values are indexes into this list); ignored otherwise. */
  readonly numClass: number;
  readonly numIterations: number;
  readonly learningRate: number;
  readonly numLeaves: number;
  /** -1: no limit. */
  readonly maxDepth: number;
  readonly minDataInLeaf: number;
  readonly minSumHessianInLeaf: number;
  readonly lambdaL2: number;
  readonly minGainToSplit: number;
  /** Values per numeric feature are cut into at most this many bins (one byte per value). */
  readonly maxBin: number;
  /** Rows sampled to find the bin boundaries (bin_construct_sample_cnt). */
  readonly binSampleCount: number;
  readonly minDataInBin: number;
  /** Share of rows drawn (without replacement) every `baggingFreq` rounds; 1 = no bagging. */
  readonly baggingFraction: number;
  readonly baggingFreq: number;
  /** Share of features each tree may split on. */
  readonly featureFraction: number;
  /** Categorical features with at most this many categories are split one-vs-rest. */
  readonly maxCatToOnehot: number;
  /** The largest set of categories on the left of a many-vs-many split. */
  readonly maxCatThreshold: number;
  readonly catSmooth: number;
  readonly catL2: number;
  readonly minDataPerGroup: number;
  /** Huber loss: residuals beyond alpha count linearly. */
  readonly huberAlpha: number;
  /** Stop when the validation metric has not improved for this many rounds (0: never). */
  readonly earlyStoppingRounds: number;
  /** Threads used to build histograms (the calling thread counts as one). */
  readonly numThreads: number;
  readonly seed: number;
}

export const DEFAULT_GBDT_PARAMS: GbdtParams = {
  objective: 'binary',
  numClass: 1,
  numIterations: 100,
  learningRate: 0.1,
  numLeaves: 31,
  maxDepth: -1,
  minDataInLeaf: 20,
  minSumHessianInLeaf: 1e-3,
  lambdaL2: 0,
  minGainToSplit: 0,
  maxBin: 255,
  binSampleCount: 200_000,
  minDataInBin: 3,
  baggingFraction: 1,
  baggingFreq: 0,
  featureFraction: 1,
  maxCatToOnehot: 4,
  maxCatThreshold: 32,
  catSmooth: 10,
  catL2: 10,
  minDataPerGroup: 100,
  huberAlpha: 0.9,
  earlyStoppingRounds: 0,
  numThreads: 2,
  seed: 0,
};

/** Bounds of every numeric parameter: the spec loader and the trainer check against these. */
export const GBDT_PARAM_BOUNDS: Readonly<Record<Exclude<keyof GbdtParams, 'objective'>, readonly [number, number, 'int' | 'real']>> = {
  numClass: [1, 1000, 'int'],
  numIterations: [1, 100_000, 'int'],
  learningRate: [1e-6, 10, 'real'],
  numLeaves: [2, 131_072, 'int'],
  maxDepth: [-1, 64, 'int'],
  minDataInLeaf: [1, Number.MAX_SAFE_INTEGER, 'int'],
  minSumHessianInLeaf: [0, 1e9, 'real'],
  lambdaL2: [0, 1e9, 'real'],
  minGainToSplit: [0, 1e9, 'real'],
  maxBin: [2, 255, 'int'],
  binSampleCount: [100, 100_000_000, 'int'],
  minDataInBin: [1, 1_000_000, 'int'],
  baggingFraction: [0.01, 1, 'real'],
  baggingFreq: [0, 100_000, 'int'],
  featureFraction: [0.01, 1, 'real'],
  maxCatToOnehot: [1, 255, 'int'],
  maxCatThreshold: [1, 255, 'int'],
  catSmooth: [0, 1e9, 'real'],
  catL2: [0, 1e9, 'real'],
  minDataPerGroup: [1, Number.MAX_SAFE_INTEGER, 'int'],
  huberAlpha: [1e-9, 1e9, 'real'],
  earlyStoppingRounds: [0, 100_000, 'int'],
  numThreads: [1, 64, 'int'],
  seed: [0, 2 ** 31 - 1, 'int'],
};

export const OBJECTIVES: readonly Objective[] = ['binary', 'multiclass', 'regression', 'huber'];

/** Defaults filled in and every value checked; the message names the parameter. */
export function resolveParams(partial: Partial<GbdtParams>): GbdtParams {
  const params = { ...DEFAULT_GBDT_PARAMS, ...partial };
  if (!OBJECTIVES.includes(params.objective)) {
    throw new RangeError(`objective must be one of ${OBJECTIVES.join(', ')}, got '${String(params.objective)}'`);
  }
  for (const [name, [min, max, kind]] of Object.entries(GBDT_PARAM_BOUNDS)) {
    const v = params[name as keyof typeof GBDT_PARAM_BOUNDS];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (kind === 'int' && !Number.isInteger(v))) {
      throw new RangeError(`${name} must be ${kind === 'int' ? 'an integer' : 'a number'} in [${min}, ${max}], got ${String(v)}`);
    }
  }
  if (params.objective === 'multiclass' && params.numClass < 2) throw new RangeError('numClass must be at least 2 for multiclass');
  return params;
}

/** Scores per row the model outputs: one per class for multiclass, else one. */
export function outputsOf(params: Pick<GbdtParams, 'objective' | 'numClass'>): number {
  return params.objective === 'multiclass' ? params.numClass : 1;
}
