// Verdicts from drift statistics: which thresholds of the spec a statistic crossed, with a
// sentence for each, and no verdict at all on too small a sample. Pure, so the rules are
// tested on their own; the statistics themselves are computed in DuckDB (sql/monitoring/).
import type { CategoricalDriftThresholds, MonitoringPolicy, NumericDriftThresholds } from './spec-operations.js';
import type { CategoricalDrift, DriftReport, FeatureDrift, NumericDrift, PerformanceCheck, RetrainDecision } from './monitoring.js';

const fmt = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(3) : x.toPrecision(3));

function sampleTooSmall(referenceRows: number, currentRows: number, minRows: number): string | null {
  if (referenceRows >= minRows && currentRows >= minRows) return null;
  return `too few rows to judge: ${referenceRows} in the reference and ${currentRows} in the window, at least ${minRows} each needed`;
}

type NumericStats = Omit<NumericDrift, 'verdict' | 'reasons'>;
type CategoricalStats = Omit<CategoricalDrift, 'verdict' | 'reasons'>;

export function judgeNumeric(stats: NumericStats, thresholds: NumericDriftThresholds, minRows: number): NumericDrift {
  const small = sampleTooSmall(stats.referenceRows, stats.currentRows, minRows);
  if (small) return { ...stats, verdict: 'insufficient-data', reasons: [small] };
  const reasons: string[] = [];
  if (stats.psi !== null && stats.psi >= thresholds.psi) reasons.push(`PSI ${fmt(stats.psi)} >= ${thresholds.psi}`);
  if (stats.wassersteinNormalized !== null && stats.wassersteinNormalized >= thresholds.wasserstein) {
    reasons.push(`Wasserstein ${fmt(stats.wassersteinNormalized)} reference standard deviations >= ${thresholds.wasserstein}`);
  }
  return { ...stats, verdict: reasons.length ? 'drift' : 'ok', reasons };
}

export function judgeCategorical(stats: CategoricalStats, thresholds: CategoricalDriftThresholds, minRows: number): CategoricalDrift {
  const small = sampleTooSmall(stats.referenceRows, stats.currentRows, minRows);
  if (small) return { ...stats, verdict: 'insufficient-data', reasons: [small] };
  const reasons: string[] = [];
  if (stats.psi !== null && stats.psi >= thresholds.psi) reasons.push(`PSI ${fmt(stats.psi)} >= ${thresholds.psi}`);
  if (stats.jensenShannon !== null && stats.jensenShannon >= thresholds.jensenShannon) {
    reasons.push(`Jensen-Shannon distance ${fmt(stats.jensenShannon)} >= ${thresholds.jensenShannon}`);
  }
  if (reasons.length && stats.newCategoryCount > 0) {
    reasons.push(`${stats.newCategoryCount} value(s) the reference never had, e.g. ${stats.newCategories.slice(0, 3).map((c) => `'${c.value}'`).join(', ')}`);
  }
  return { ...stats, verdict: reasons.length ? 'drift' : 'ok', reasons };
}

export function judgePerformance(
  check: Omit<PerformanceCheck, 'verdict' | 'reasons' | 'degradation'>,
  minLabelledRows: number,
): PerformanceCheck {
  const degradation =
    check.atPromotion === null || check.current === null ? null : check.higherIsBetter ? check.atPromotion - check.current : check.current - check.atPromotion;
  if (check.labelledRows < minLabelledRows) {
    return {
      ...check,
      degradation,
      verdict: 'insufficient-data',
      reasons: [`too few labelled rows in the window to judge: ${check.labelledRows}, at least ${minLabelledRows} needed`],
    };
  }
  const reasons: string[] = [];
  if (degradation !== null && degradation >= check.maxDegradation) {
    reasons.push(`${check.metric} ${fmt(check.current!)} is ${fmt(degradation)} worse than at promotion (${fmt(check.atPromotion!)}), at most ${check.maxDegradation} allowed`);
  }
  if (check.calibrationError !== null && check.maxCalibrationError !== null && check.calibrationError >= check.maxCalibrationError) {
    reasons.push(`calibration error ${fmt(check.calibrationError)} >= ${check.maxCalibrationError}`);
  }
  return { ...check, degradation, verdict: reasons.length ? 'drift' : 'ok', reasons };
}

/** The run's overall verdict and whether the spec wants a retraining for it. */
export function summarize(
  features: readonly FeatureDrift[],
  outputs: readonly FeatureDrift[],
  performance: PerformanceCheck,
  retrain: MonitoringPolicy['retrain'],
): { summary: DriftReport['summary']; retrain: RetrainDecision } {
  const driftedFeatures = features.filter((f) => f.verdict === 'drift').map((f) => f.name);
  const driftedOutputs = outputs.filter((o) => o.verdict === 'drift');
  const predictionDrift = driftedOutputs.length > 0;
  const decay = performance.verdict === 'drift';
  const judged = [...features, ...outputs, performance].some((c) => c.verdict !== 'insufficient-data');
  const drift = driftedFeatures.length > 0 || predictionDrift;
  const verdict = !judged ? 'insufficient-data' : drift && decay ? 'drift-and-decay' : drift ? 'drift' : decay ? 'decay' : 'ok';
  const reasons: string[] = [];
  if (retrain.onFeatureDrift && driftedFeatures.length >= retrain.minDriftedFeatures) {
    reasons.push(`feature drift in ${driftedFeatures.join(', ')}`);
  }
  if (retrain.onPredictionDrift && predictionDrift) {
    reasons.push(`prediction drift (${driftedOutputs.map((o) => `${o.name}: ${o.reasons.join('; ')}`).join('; ')})`);
  }
  if (retrain.onDecay && decay) reasons.push(`performance decay (${performance.reasons.join('; ')})`);
  return { summary: { verdict, driftedFeatures, predictionDrift, decay }, retrain: { wanted: reasons.length > 0, reasons } };
}
