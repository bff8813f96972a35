// What MonitorModelWorkflow takes, measures and decides: shared by the workflow, its
// activities, the report renderer and the API. Pure (workflows import it): no Node built-ins.

export interface MonitorModelInput {
  readonly model: string;
  /** The partitions to look at: named, or the newest `last` (the spec's monitoring.windowPartitions when left out). */
  readonly window?: { readonly partitions?: readonly string[]; readonly last?: number };
  /** Why this run started (schedule, api, demo ...), shown in the UI. */
  readonly reason?: string;
}

/** A check's outcome: drift (or decay) found, none found, or too few rows to say. */
export type Verdict = 'drift' | 'ok' | 'insufficient-data';

/** Counts per bin of the reference and of the window, for a chart; the bins are the same for both. */
export interface Histogram {
  /** Bin edges, ascending: bin i holds values in (edges[i], edges[i+1]] (the first bin includes its left edge). */
  readonly edges: readonly number[];
  readonly reference: readonly number[];
  readonly current: readonly number[];
}

export interface NumericDrift {
  readonly kind: 'numeric';
  readonly name: string;
  /** Rows with a value, in the reference and in the window. */
  readonly referenceRows: number;
  readonly currentRows: number;
  readonly referenceNulls: number;
  readonly currentNulls: number;
  readonly referenceMean: number | null;
  readonly currentMean: number | null;
  readonly referenceStd: number | null;
  readonly currentStd: number | null;
  /** Population stability index over the reference's quantile bins. */
  readonly psi: number | null;
  /** Wasserstein-1 distance, in the feature's own unit. */
  readonly wasserstein: number | null;
  /** Wasserstein-1 divided by the reference's standard deviation: the effect size judged. */
  readonly wassersteinNormalized: number | null;
  /** (current mean - reference mean) / reference standard deviation. */
  readonly standardizedMeanDifference: number | null;
  readonly verdict: Verdict;
  /** Why the verdict is what it is, one line per threshold crossed (or the sample-size rule). */
  readonly reasons: readonly string[];
  readonly histogram: Histogram;
}

export interface CategoryShare {
  readonly value: string;
  readonly referenceCount: number;
  readonly currentCount: number;
  readonly referenceShare: number;
  readonly currentShare: number;
}

export interface CategoricalDrift {
  readonly kind: 'categorical';
  readonly name: string;
  readonly referenceRows: number;
  readonly currentRows: number;
  readonly referenceCategories: number;
  readonly currentCategories: number;
  /** Computed over the reference's most frequent categories, the rest pooled as "(other)". */
  readonly psi: number | null;
  /** Jensen-Shannon distance (base 2: 0 same, 1 disjoint), over the same categories. */
  readonly jensenShannon: number | null;
  /** Values in the window that the reference never had, most frequent first. */
  readonly newCategories: readonly { readonly value: string; readonly count: number; readonly share: number }[];
  /** How many distinct new values there are (newCategories lists at most 20). */
  readonly newCategoryCount: number;
  /** The category whose share moved most. */
  readonly largestShift: CategoryShare | null;
  readonly verdict: Verdict;
  readonly reasons: readonly string[];
  /** The most frequent categories of either side, then "(other)": what the chart draws. */
  readonly bars: readonly CategoryShare[];
}

export type FeatureDrift = NumericDrift | CategoricalDrift;

/** The model's metrics on one partition's labelled rows. */
export interface PerformancePoint {
  readonly partition: string;
  readonly rows: number;
  /** Task metrics (auc, logLoss, accuracy; rmse, mae, r2), plus calibrationError for classification. */
  readonly metrics: Readonly<Record<string, number | null>>;
  /** Whether the champion trained (or early-stopped) on it, or it is in the window. */
  readonly role: 'reference' | 'window' | 'other';
}

export interface PerformanceCheck {
  readonly metric: string;
  readonly higherIsBetter: boolean;
  /** The metric on the champion's holdout when it was promoted (its evaluation), else on its card. */
  readonly atPromotion: number | null;
  /** The metric over the window's labelled rows. */
  readonly current: number | null;
  /** How much worse the window is than at promotion, in the metric's unit (negative: better). */
  readonly degradation: number | null;
  readonly maxDegradation: number;
  readonly calibrationError: number | null;
  readonly maxCalibrationError: number | null;
  readonly labelledRows: number;
  readonly verdict: Verdict;
  readonly reasons: readonly string[];
  /** Every scored partition with labels, oldest first: the metric over time. */
  readonly overTime: readonly PerformancePoint[];
}

export interface RetrainDecision {
  /** Whether the thresholds the spec retrains on were crossed. */
  readonly wanted: boolean;
  readonly reasons: readonly string[];
  /** What happened: a TrainModelWorkflow started, or why not. */
  readonly started?: { readonly workflowId: string; readonly runId: string };
  readonly skipped?: string;
}

export interface DriftReport {
  readonly model: string;
  readonly version: number;
  readonly reportId: string;
  readonly createdAt: string;
  readonly workflowId: string;
  readonly runId: string;
  readonly reference: { readonly partitions: readonly string[]; readonly rows: number };
  readonly window: { readonly partitions: readonly string[]; readonly rows: number };
  readonly features: readonly FeatureDrift[];
  /** The model's output: probability (binary), predicted class (multiclass) or prediction (regression). */
  readonly prediction: FeatureDrift;
  /**
   * The model's other outputs, judged alike (multiclass: each class's probability, which moves
   * while the predicted class, mostly the majority one, may not). Absent in older reports.
   */
  readonly predictionDetails?: readonly FeatureDrift[];
  /** The label's distribution, where labels have arrived: reported, not a retrain trigger. */
  readonly labels: FeatureDrift | null;
  readonly performance: PerformanceCheck;
  readonly summary: {
    readonly verdict: 'ok' | 'drift' | 'decay' | 'drift-and-decay' | 'insufficient-data';
    readonly driftedFeatures: readonly string[];
    readonly predictionDrift: boolean;
    readonly decay: boolean;
  };
  readonly retrain: RetrainDecision;
  /** Seconds spent computing the statistics in DuckDB. */
  readonly timings: { readonly driftSeconds: number; readonly performanceSeconds: number };
}

/** What MonitorModelWorkflow returns (the full report is on disk and at GET /reports/:model/:run). */
export interface MonitorModelResult {
  readonly model: string;
  readonly version: number;
  readonly reportId: string;
  readonly report: string;
  readonly summary: DriftReport['summary'];
  readonly retrain: RetrainDecision;
  /** The BatchInferenceWorkflow that scored partitions the champion had not scored yet, if any. */
  readonly batchWorkflowId: string | null;
}
