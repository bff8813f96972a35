// Evaluation activity: score the candidate, the current champion and the naive baseline on the
// same holdout rows (the candidate's holdout weeks through the model's feature SQL), with the
// registered ONNX files and onnxruntime, then apply the spec's gate.
import { Context } from '@temporalio/activity';
import { performance } from 'node:perf_hooks';
import type { Paths } from '../core/config.js';
import { DataContractViolation, HoldoutMismatchError, InvalidSpecError } from '../core/errors.js';
import { sameSides } from '../core/split.js';
import { calibrationBins, evaluateGate } from '../core/gate.js';
import { gatherRows, pairedBootstrap, type PairedInterval } from '../ml/bootstrap.js';
import { runModel, scoreInBatches, type InferenceSession } from '../core/inference.js';
import { openVersionSession, readHoldout } from '../storage/holdout.js';
import type { EvaluationResult, LatencyReport } from '../core/promotion.js';
import { CHAMPION, type ModelCard, openRegistry } from '../storage/registry.js';
import { loadSpec, type ModelSpec } from '../core/spec.js';
import { metricValue, type Baseline, type Metrics } from '../ml/metrics.js';
import { sliceTable, type ColumnTable, type LabeledTable } from '../ml/table.js';
import { modelTask, taskKind } from '../tasks/index.js';

export interface EvaluationDeps {
  readonly paths: Paths;
}

const LATENCY_WARMUP_RUNS = 50;
const LATENCY_RUNS = 1_000;

export function createEvaluationActivities({ paths }: EvaluationDeps) {
  const registry = openRegistry(paths);

  async function evaluateVersion(input: { model: string; version: number }): Promise<EvaluationResult> {
    const ctx = Context.current();
    const card = await registry.readCard(input.model, input.version);
    const { gate: gateSpec, approval } = await currentPolicy(paths, card);
    // The file is checked before anything else, so a corrupt candidate fails fast and clearly.
    const candidateSession = await openVersionSession(paths, card);
    try {
      const championVersion = (await registry.getAlias(input.model, CHAMPION))?.version ?? null;
      const championCard = championVersion === null ? null : await registry.readCard(input.model, championVersion);
      // The data and feature SQL the version was trained under, as its run pinned them; the gate
      // and approval policy as the spec says now (re-judging a version under a changed gate is
      // what an evaluation is for).
      const { loaded, partitions, table: holdout } = await readHoldout(paths, card, (details) => ctx.heartbeat(details));
      const { spec } = loaded;
      ctx.heartbeat({ stage: 'read holdout', rows: holdout.features.rows });
      if (holdout.features.rows === 0) {
        throw new DataContractViolation('empty', `holdout partitions ${partitions.join(', ')} have no labelled rows`, spec.features.sql);
      }
      const baseline = card.metrics.baseline;
      const bins = calibrationBins(gateSpec.calibration?.bins ?? 10, holdout.features.rows);

      const candidate = await score(candidateSession, card, holdout, baseline, bins, 'candidate');
      const disagreement = holdoutDisagreement(card, candidate.metrics);
      if (disagreement) throw new HoldoutMismatchError(input.model, input.version, disagreement);
      const latency = await measureLatency(candidateSession, holdout.features, card.output);
      let champion = null;
      if (championCard) {
        const session = championCard.version === card.version ? candidateSession : await openVersionSession(paths, championCard);
        try {
          const scored = await score(session, championCard, holdout, baseline, bins, 'champion');
          const gain = gateSpec.champion && holdout.features.rows <= BOOTSTRAP_MAX_ROWS ? gainInterval(card, gateSpec.metric, holdout, baseline, candidate.predictions, scored.predictions) : undefined;
          const seen = new Set([...championCard.lineage.dataset.trainPartitions, ...(championCard.lineage.dataset.validationPartitions ?? [])]);
          // Under the same random split the champion never trained on these rows, though it read the same partitions.
          const sawHoldout = sameSides(card.lineage.dataset.split, championCard.lineage.dataset.split) ? [] : partitions.filter((p) => seen.has(p));
          champion = { version: championCard.version, metrics: scored.metrics, calibrationError: scored.calibrationError, sawHoldout, ...(gain ? { gain } : {}) };
        } finally {
          if (session !== candidateSession) await session.release();
        }
      }
      const task = modelTask(card);
      const baselineMetrics = task.evaluate(holdout.labels, task.kind.constantPredictions(baseline, holdout.features.rows), baseline);
      const gate = evaluateGate(gateSpec, {
        candidate: candidate.metrics,
        champion,
        calibrationError: candidate.calibrationError,
        calibrationBins: bins,
        latency,
      });
      return {
        report: {
          model: input.model,
          version: input.version,
          evaluatedAt: new Date().toISOString(),
          holdout: { partitions, rows: holdout.features.rows },
          candidate: { metrics: candidate.metrics, calibrationError: candidate.calibrationError, latency },
          champion,
          baseline: baselineMetrics,
          gate,
        },
        approval,
      };
    } finally {
      await candidateSession.release();
    }
  }

  return { evaluateVersion };
}

/** The model's gate and approval as its spec says now; a spec that now declares another task cannot judge the version. */
async function currentPolicy(paths: Paths, card: ModelCard): Promise<Pick<ModelSpec, 'gate' | 'approval'>> {
  const { spec, shownFile } = await loadSpec(paths, card.model);
  if (spec.task !== card.task) {
    throw new InvalidSpecError(shownFile, 'task', `is now '${spec.task}', but v${card.version} was trained as '${card.task}': its gate cannot judge that version`);
  }
  return { gate: spec.gate, approval: spec.approval };
}

/** Largest holdout the champion comparison bootstraps: beyond it the noise is well inside any tolerance. */
const BOOTSTRAP_MAX_ROWS = 20_000;

/** The candidate's gain over the champion in the gate metric's better direction, with its paired-bootstrap interval. */
function gainInterval(card: ModelCard, metric: string, holdout: LabeledTable, baseline: Baseline, candidate: Float64Array, champion: Float64Array): PairedInterval {
  const task = modelTask(card);
  const sign = taskKind(card.task).metrics[metric] === 'higher' ? 1 : -1;
  const interval = pairedBootstrap(
    holdout.features.rows,
    (model, index) =>
      metricValue(task.evaluate(gatherRows(holdout.labels, 1, index), gatherRows(model === 0 ? candidate : champion, task.width, index), baseline), metric),
    { seed: card.version },
  );
  return sign === 1
    ? interval
    : { ...interval, difference: -interval.difference, lo: -interval.hi, hi: -interval.lo };
}

/** How far the task's loss may move between the trainer's holdout scores and onnxruntime's (parity is 1e-5 a score). */
const HOLDOUT_AGREEMENT = 1e-4;

/**
 * Why a version's holdout metrics now disagree with those its card recorded at training, or
 * null. The same partitions give the same labelled rows, and onnxruntime scores them as the
 * trainer did (checked before registering), so the task's loss must agree; when the rows
 * differ (the lake changed since), there is nothing to compare.
 */
export function holdoutDisagreement(card: Pick<ModelCard, 'task' | 'version' | 'metrics'>, measured: Metrics): string | null {
  const recorded = card.metrics.holdout;
  if (recorded.rows !== measured.rows) return null;
  const metric = taskKind(card.task).loss;
  const then = metricValue(recorded, metric);
  const now = metricValue(measured, metric);
  if (!Number.isFinite(then) || !Number.isFinite(now) || Math.abs(now - then) <= HOLDOUT_AGREEMENT * Math.max(1, Math.abs(then))) return null;
  return `${metric} ${now.toFixed(4)} on the ${measured.rows} holdout rows read now, ${then.toFixed(4)} when v${card.version} was trained`;
}

async function score(
  session: InferenceSession,
  card: ModelCard,
  holdout: LabeledTable,
  baseline: Baseline,
  bins: number,
  which: string,
): Promise<{ metrics: Metrics; calibrationError: number | null; predictions: Float64Array }> {
  const task = modelTask(card);
  const ctx = Context.current();
  const predictions = await scoreInBatches(session, holdout.features, card.output, task.width, (rows) =>
    ctx.heartbeat({ stage: `scoring the ${which} (v${card.version})`, rows, of: holdout.features.rows }),
  );
  return {
    metrics: task.evaluate(holdout.labels, predictions, baseline),
    calibrationError: task.calibrationError(holdout.labels, predictions, bins),
    predictions,
  };
}

/** Rounds the one-row latency is measured in: the gate reads the median round's p99. */
const LATENCY_ROUNDS = 5;

/**
 * One-row latency as the API sees it (feeds built, session run, output read), on real rows.
 * Measured in rounds with a pause between them, and judged on the median round: a burst of
 * load on the worker (a training beside it) spoils a round, not the verdict.
 */
async function measureLatency(session: InferenceSession, table: ColumnTable, output: string): Promise<LatencyReport> {
  const all: number[] = [];
  const rounds: { p50: number; p99: number }[] = [];
  const perRound = Math.ceil(LATENCY_RUNS / LATENCY_ROUNDS);
  let i = 0;
  for (let round = 0; round < LATENCY_ROUNDS; round++) {
    const times: number[] = [];
    for (let k = 0; k < (round === 0 ? LATENCY_WARMUP_RUNS : 0) + perRound; k++, i++) {
      const r = i % table.rows;
      const row = sliceTable(table, r, r + 1);
      const started = performance.now();
      await runModel(session, row, output);
      if (round > 0 || k >= LATENCY_WARMUP_RUNS) times.push(performance.now() - started);
    }
    Context.current().heartbeat({ stage: 'measuring one-row latency', round });
    await new Promise((res) => setTimeout(res, 20));
    times.sort((a, b) => a - b);
    rounds.push({ p50: quantile(times, 0.5), p99: quantile(times, 0.99) });
    all.push(...times);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { runs: all.length, p50Ms: median(rounds.map((r) => r.p50)), p99Ms: median(rounds.map((r) => r.p99)) };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
