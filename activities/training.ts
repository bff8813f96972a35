// Training activities: train in a worker thread while heartbeating progress, then check that
// the exported ONNX model reproduces the trainer's own predictions.
import { Context } from '@temporalio/activity';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Paths } from '../core/config.js';
import { errorMessage, OnnxParityError } from '../core/errors.js';
import { inBatches, loadSession, scoreInBatches } from '../core/inference.js';
import { gbdtParams, specShape } from '../core/spec.js';
import { runSpec } from '../storage/spec-pins.js';
import { runFilesAt, withScratch } from '../storage/work.js';
import { planTrials } from '../core/tuning.js';
import type { CrossValidation, ParityReport, TrainedModel, TrainingSet, TuningTrial } from '../core/types.js';
import { assignFolds, spread, takeRows } from '../ml/folds.js';
import { decodeModel, predict } from '../ml/gbdt/model.js';
import { trainGbdt } from '../ml/gbdt/train.js';
import { metricValue } from '../ml/metrics.js';
import { outputName } from '../ml/onnx/tree-ensemble.js';
import { sliceTable } from '../ml/table.js';
import { siblingModule } from '../ml/threads.js';
import { modelTask } from '../tasks/index.js';
import { runInThread } from './thread-activity.js';
import { readLabeled, type TrainingJob, type TrainingMessage } from './training-thread.js';

export interface TrainingDeps {
  readonly paths: Paths;
  /** Recorded in every card's lineage (git commit or package version). */
  readonly codeVersion: string;
}

/** Parity tolerance between the trainer's scores and onnxruntime's. */
export const PARITY_TOLERANCE = 1e-5;
const PARITY_SAMPLE_ROWS = 100_000;
/** Rows per call of the trainer's predict in the parity check: 48 a call took about 3 s for the sample, 8,192 a call 1.1 s. */
const TRAINER_PREDICT_ROWS = 8_192;

const threadFile = siblingModule(import.meta.url, 'training-thread');

export function createTrainingActivities({ paths, codeVersion }: TrainingDeps) {
  /** The tuning trials to run (none when the spec does not tune), drawn from the spec's space. */
  async function planTraining(input: { model: string; specHash?: string }): Promise<{ trials: TuningTrial[]; parallelism: number; folds?: number }> {
    const { spec } = await runSpec(paths, input.model, input.specHash);
    const tuning = spec.trainer.tuning;
    const folds = spec.split.by === 'random' ? spec.split.folds : undefined;
    return { ...(tuning ? { trials: planTrials(tuning), parallelism: tuning.parallelism } : { trials: [], parallelism: 1 }), ...(folds ? { folds } : {}) };
  }

  /**
   * K-fold cross-validation for small data: the training and validation rows in `folds` folds
   * (stratified by class), the spec's trainer with the chosen model's round count on each k-1,
   * judged on the fold left out. Reports the gate metric per fold, its mean and spread.
   */
  async function crossValidate(input: { model: string; trainingSet: TrainingSet; trained: TrainedModel; folds: number }): Promise<CrossValidation> {
    const ctx = Context.current();
    const { spec } = await runSpec(paths, input.model, input.trainingSet.specHash);
    const run = runFilesAt(paths, input.trainingSet.workPrefix);
    const { trainKey, validationKey } = input.trainingSet;
    const files = await Promise.all([trainKey, ...(validationKey ? [validationKey] : [])].map((k) => run.required(k)));
    const rows = await readLabeled(files, spec.features.columns);
    const split = spec.split;
    const seed = split.by === 'random' ? split.seed : 0;
    const stratify = split.by === 'random' && split.stratify;
    const folds = assignFolds(rows.labels, input.folds, seed, stratify);
    const iterations = Math.max(1, input.trained.bestIteration ?? input.trained.iterations);
    const params = { ...gbdtParams(spec, input.trained.trial?.params), numIterations: iterations, earlyStoppingRounds: 0, numThreads: 1 };
    const task = modelTask(specShape(spec));
    const values: number[] = [];
    for (let f = 0; f < input.folds; f++) {
      ctx.heartbeat({ stage: 'cross-validating', fold: f + 1, of: input.folds });
      const inFold = (want: boolean) => Uint32Array.from(folds.keys()).filter((i) => (folds[i] === f) === want);
      const [trainIdx, testIdx] = [inFold(false), inFold(true)];
      const train = { features: takeRows(rows.features, trainIdx), labels: Float32Array.from(trainIdx, (i) => rows.labels[i]!) };
      const test = { features: takeRows(rows.features, testIdx), labels: Float32Array.from(testIdx, (i) => rows.labels[i]!) };
      const model = await trainGbdt(train, params);
      const baseline = task.kind.baseline(train.labels, spec.label.classes?.length ?? 1);
      values.push(metricValue(task.evaluate(test.labels, predict(model, test.features), baseline), spec.gate.metric));
      await new Promise((r) => setImmediate(r));
    }
    return { folds: input.folds, metric: spec.gate.metric, values, ...spread(values), iterations };
  }

  /**
   * Train the spec's GBDT (or one tuning trial of it) in a worker thread, heartbeating the
   * round and the train and validation metrics. A retry resumes from the last checkpoint.
   */
  async function trainModel(input: { model: string; trainingSet: TrainingSet; trial?: TuningTrial }): Promise<TrainedModel> {
    return withScratch('train', (scratch) => trainIn(scratch, input));
  }

  async function trainIn(scratch: string, input: { model: string; trainingSet: TrainingSet; trial?: TuningTrial }): Promise<TrainedModel> {
    const ctx = Context.current();
    const { spec, featureSqlHash } = await runSpec(paths, input.model, input.trainingSet.specHash);
    const trial = input.trial ?? null;
    const run = runFilesAt(paths, input.trainingSet.workPrefix);
    // Each trial has its own objects, so parallel trials and their retries never mix.
    const stored = (name: string) => (trial ? `trial-${trial.index}/${name}` : name);
    const { trainKey, validationKey, holdoutKey } = input.trainingSet;
    const params = gbdtParams(spec, trial?.params);
    const job: TrainingJob = {
      trainFile: await run.required(trainKey),
      validationFile: validationKey ? await run.required(validationKey) : null,
      holdoutFile: await run.required(holdoutKey),
      features: spec.features.columns,
      shape: specShape(spec),
      params,
      checkpointEvery: spec.trainer.checkpointEvery,
      checkpointFile: path.join(scratch, 'checkpoint.bin'),
      modelFile: path.join(scratch, 'model.json'),
      onnxFile: path.join(scratch, 'model.onnx'),
      onnxMetadata: { model: spec.name, task: spec.task, featureSqlSha256: featureSqlHash, codeVersion },
      producerVersion: codeVersion,
    };
    // The last checkpoint any host stored for this run: the thread resumes from it.
    const checkpoint = await run.store.get(run.key(stored('checkpoint.bin')));
    if (checkpoint) await writeFile(job.checkpointFile, checkpoint.body);
    // Checkpoints go to the store one at a time, in order, as the thread writes them.
    let uploads: Promise<unknown> = Promise.resolve();
    if (ctx.info.attempt > 1) {
      ctx.log.info('training retried: resuming from the last checkpoint', { attempt: ctx.info.attempt, lastHeartbeat: ctx.info.heartbeatDetails });
    }
    const started = Date.now();
    const base = { attempt: ctx.info.attempt, ...(trial ? { trial: trial.index, trialParams: trial.params } : {}) };
    let details: Record<string, unknown> = { stage: 'starting', ...base };
    let lastCheckpoint: number | null = null;
    const done = await runInThread<TrainingMessage>(threadFile, job, {
      details: () => details,
      onMessage(m) {
        switch (m.type) {
          case 'status':
            details = { stage: m.stage, rows: m.rows, ...base };
            break;
          case 'resumed':
            details = { stage: 'resumed from checkpoint', iteration: m.iteration, ...base };
            ctx.log.info('resumed from checkpoint', details);
            break;
          case 'checkpoint':
            lastCheckpoint = m.iteration;
            // A checkpoint that cannot be stored now is only a later resume point lost; the next one tries again.
            uploads = uploads
              .then(() => run.putFile(stored('checkpoint.bin'), job.checkpointFile))
              .catch((err: unknown) => ctx.log.warn('could not store a checkpoint', { iteration: m.iteration, error: errorMessage(err) }));
            return;
          case 'iteration':
            details = {
              stage: 'training',
              iteration: m.iteration,
              numIterations: m.numIterations,
              metric: m.metric,
              ...(m.trainMetric !== null ? { trainMetric: round(m.trainMetric) } : {}),
              ...(m.validMetric !== null ? { validMetric: round(m.validMetric), bestIteration: m.bestIteration } : {}),
              checkpointIteration: lastCheckpoint,
              ...base,
            };
            // The heartbeat timer sends these; heartbeats are throttled by the SDK anyway.
            return;
        }
        ctx.heartbeat(details);
      },
    });
    await uploads;
    return {
      modelKey: await run.putFile(stored('model.json'), job.modelFile),
      onnxKey: await run.putFile(stored('model.onnx'), job.onnxFile),
      trial,
      holdout: done.holdout,
      baseline: done.baseline,
      validation: done.validation,
      iterations: done.iterations,
      bestIteration: done.bestIteration,
      resumedFromIteration: done.resumedFromIteration,
      attempt: ctx.info.attempt,
      importance: done.importance,
      ...(done.curve ? { curve: done.curve } : {}),
      seconds: (Date.now() - started) / 1000,
    };
  }

  /**
   * Score up to 100,000 holdout rows with the trainer and with onnxruntime: every score within
   * PARITY_TOLERANCE and every predicted label equal, or the run fails.
   */
  async function verifyOnnx(input: { model: string; trained: TrainedModel; trainingSet: TrainingSet }): Promise<ParityReport> {
    const { spec } = await runSpec(paths, input.model, input.trainingSet.specHash);
    const run = runFilesAt(paths, input.trainingSet.workPrefix);
    const model = decodeModel(new TextDecoder().decode(await run.bytes(input.trained.modelKey)));
    const holdout = await readLabeled(await run.required(input.trainingSet.holdoutKey), spec.features.columns);
    const session = await loadSession(await run.bytes(input.trained.onnxKey));
    const K = model.outputs;
    const output = outputName(model.objective);
    try {
      const sample = sliceTable(holdout.features, 0, Math.min(PARITY_SAMPLE_ROWS, holdout.features.rows));
      const ctx = Context.current();
      // The trainer's own predictions take a second for 100,000 rows: batched too, heartbeating,
      // in slices big enough that a call's own work (walking 300 trees once per slice) is small.
      const expected = await inBatches(
        sample.rows,
        K,
        (start, end) => predict(model, sliceTable(sample, start, end)),
        (rows) => ctx.heartbeat({ stage: 'verifying ONNX: trainer predictions', rows }),
        TRAINER_PREDICT_ROWS,
      );
      const actual = await scoreInBatches(session, sample, output, K, (rows) => ctx.heartbeat({ stage: 'verifying ONNX: onnxruntime', rows }));
      let maxAbsDiff = 0;
      let labelMismatches = 0;
      for (let i = 0; i < expected.length; i++) {
        const got = actual[i]!;
        maxAbsDiff = Math.max(maxAbsDiff, Number.isNaN(got) ? Number.POSITIVE_INFINITY : Math.abs(got - expected[i]!));
      }
      const task = modelTask(specShape(spec));
      for (let r = 0; r < sample.rows; r++) if (!task.sameDecision(actual, expected, r)) labelMismatches++;
      const report = { rows: sample.rows, maxAbsDiff, labelMismatches };
      if (maxAbsDiff > PARITY_TOLERANCE || labelMismatches > 0) {
        throw new OnnxParityError(maxAbsDiff, sample.rows, labelMismatches);
      }
      return report;
    } finally {
      await session.release();
    }
  }

  return { planTraining, crossValidate, trainModel, verifyOnnx };
}

function round(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}
