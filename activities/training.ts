// Training activities: train in a worker thread while heartbeating progress, then check that
// the exported ONNX model reproduces the trainer's own predictions.
import { Context } from '@temporalio/activity';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Paths } from '../core/config.js';
import { OnnxParityError } from '../core/errors.js';
import { loadSession, predictProbabilities } from '../core/inference.js';
import { loadSpec } from '../core/spec.js';
import { startThread } from '../ml/threads.js';
import type { ParityReport, TrainedModel, TrainingSet } from '../core/types.js';
import { predictAdditiveLogistic, type AdditiveLogisticModel } from '../ml/additive-logistic.js';
import type { ColumnTable } from '../ml/table.js';
import { readLabeled, type TrainingJob, type TrainingMessage } from './training-thread.js';

export interface TrainingDeps {
  readonly paths: Paths;
  /** Recorded in every card's lineage (git commit or package version). */
  readonly codeVersion: string;
}

/** Parity tolerance between the trainer's float64 sum and onnxruntime's float32 sum. */
export const PARITY_TOLERANCE = 1e-5;
const PARITY_SAMPLE_ROWS = 20_000;
const PARITY_BATCH_ROWS = 5_000;
const HEARTBEAT_EVERY_MS = 2_000;

const threadFile = new URL('./training-thread.ts', import.meta.url);

export function createTrainingActivities({ paths, codeVersion }: TrainingDeps) {
  async function trainModel(input: { model: string; trainingSet: TrainingSet }): Promise<TrainedModel> {
    const ctx = Context.current();
    const { spec, featureSqlHash } = await loadSpec(paths.modelsDir, paths.sqlDir, input.model);
    const dir = input.trainingSet.workDir;
    const job: TrainingJob = {
      trainFile: input.trainingSet.trainFile,
      holdoutFile: input.trainingSet.holdoutFile,
      features: spec.features.columns,
      config: spec.trainer.params,
      decisionThreshold: spec.decisionThreshold,
      checkpointFile: path.join(dir, 'checkpoint.json'),
      modelFile: path.join(dir, 'model.json'),
      onnxFile: path.join(dir, 'model.onnx'),
      onnxMetadata: { model: spec.name, featureSqlSha256: featureSqlHash, codeVersion },
      producerVersion: codeVersion,
    };
    const previous = ctx.info.heartbeatDetails as { epoch?: number } | undefined;
    if (ctx.info.attempt > 1) {
      ctx.log.info('training retried: resuming from the last checkpoint', { attempt: ctx.info.attempt, lastHeartbeat: previous });
    }
    const started = Date.now();
    let details: Record<string, unknown> = { stage: 'starting', attempt: ctx.info.attempt };
    const worker = startThread(threadFile, job);
    const beat = setInterval(() => ctx.heartbeat(details), HEARTBEAT_EVERY_MS);
    const onCancel = () => void worker.terminate();
    ctx.cancellationSignal.addEventListener('abort', onCancel);
    try {
      const done = await new Promise<Extract<TrainingMessage, { type: 'done' }>>((resolve, reject) => {
        worker.on('message', (m: TrainingMessage) => {
          switch (m.type) {
            case 'status':
              details = { stage: m.stage, rows: m.rows, attempt: ctx.info.attempt };
              break;
            case 'resumed':
              details = { stage: 'resumed from checkpoint', epoch: m.epochsDone, attempt: ctx.info.attempt };
              break;
            case 'progress':
              details = {
                stage: 'training',
                epoch: m.epoch,
                epochs: m.epochs,
                batch: m.batch,
                batchesPerEpoch: m.batchesPerEpoch,
                trainLoss: round(m.trainLoss),
                attempt: ctx.info.attempt,
              };
              break;
            case 'epoch':
              details = {
                stage: 'epoch done',
                epoch: m.epoch,
                epochs: m.epochs,
                validLogLoss: round(m.validLogLoss),
                validAuc: round(m.validAuc),
                checkpoint: job.checkpointFile,
                attempt: ctx.info.attempt,
              };
              ctx.log.info('epoch done', details);
              break;
            case 'done':
              resolve(m);
              return;
          }
          ctx.heartbeat(details);
        });
        worker.on('error', reject);
        worker.on('exit', (code) => {
          if (ctx.cancellationSignal.aborted) reject(ctx.cancellationSignal.reason);
          else reject(new Error(`training thread exited with code ${code} before finishing`));
        });
      });
      return {
        modelFile: job.modelFile,
        onnxFile: job.onnxFile,
        holdout: done.holdout,
        epochs: done.epochs,
        resumedFromEpoch: done.resumedFromEpoch,
        seconds: (Date.now() - started) / 1000,
      };
    } finally {
      clearInterval(beat);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
      await worker.terminate();
    }
  }

  /** Score a sample of the holdout with the trainer and with onnxruntime; any difference fails the run. */
  async function verifyOnnx(input: { model: string; trained: TrainedModel; trainingSet: TrainingSet }): Promise<ParityReport> {
    const { spec } = await loadSpec(paths.modelsDir, paths.sqlDir, input.model);
    const model = JSON.parse(await readFile(input.trained.modelFile, 'utf8')) as AdditiveLogisticModel;
    const holdout = await readLabeled(input.trainingSet.holdoutFile, spec.features.columns);
    const session = await loadSession(input.trained.onnxFile);
    try {
      const sample = sliceTable(holdout.features, 0, Math.min(PARITY_SAMPLE_ROWS, holdout.features.rows));
      const expected = predictAdditiveLogistic(model, sample);
      let maxAbsDiff = 0;
      let labelMismatches = 0;
      for (let start = 0; start < sample.rows; start += PARITY_BATCH_ROWS) {
        const batch = sliceTable(sample, start, Math.min(sample.rows, start + PARITY_BATCH_ROWS));
        const actual = await predictProbabilities(session, batch);
        for (let i = 0; i < batch.rows; i++) {
          const want = expected[start + i]!;
          const got = actual[i]!;
          maxAbsDiff = Math.max(maxAbsDiff, Number.isNaN(got) ? Number.POSITIVE_INFINITY : Math.abs(got - want));
          if (got >= spec.decisionThreshold !== want >= spec.decisionThreshold) labelMismatches++;
        }
        Context.current().heartbeat({ stage: 'verifying ONNX', rows: start + batch.rows });
        await new Promise((r) => setImmediate(r)); // let heartbeats and polls through between batches
      }
      const report = { rows: sample.rows, maxAbsDiff, labelMismatches };
      if (maxAbsDiff > PARITY_TOLERANCE || labelMismatches > 0) {
        throw new OnnxParityError(maxAbsDiff, sample.rows, labelMismatches);
      }
      return report;
    } finally {
      await session.release();
    }
  }

  return { trainModel, verifyOnnx };
}

function round(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}

/** Rows [start, end) of a table, sharing the underlying buffers. */
export function sliceTable(table: ColumnTable, start: number, end: number): ColumnTable {
  return {
    rows: end - start,
    columns: table.columns.map((c) =>
      c.kind === 'numeric' ? { ...c, values: c.values.subarray(start, end) } : { ...c, codes: c.codes.subarray(start, end) },
    ),
  };
}
