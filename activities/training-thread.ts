// Runs in a worker thread: reads the training set, trains, exports ONNX. All CPU-heavy work
// is here so the worker's event loop stays free for heartbeats, polling and cancellation.
// It writes a checkpoint after every epoch; a retried activity resumes from it.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { openDuckDB, quoteLiteral, readColumns } from '../core/duckdb.js';
import { LABEL_COLUMN } from '../core/features.js';
import {
  predictAdditiveLogistic,
  trainAdditiveLogistic,
  type AdditiveLogisticConfig,
  type Checkpoint,
} from '../ml/additive-logistic.js';
import { binaryMetrics, type BinaryMetrics } from '../ml/metrics.js';
import { exportAdditiveLogistic } from '../ml/onnx/additive-logistic.js';
import type { LabeledTable } from '../ml/table.js';

export interface TrainingJob {
  readonly trainFile: string;
  readonly holdoutFile: string;
  readonly features: readonly { readonly name: string; readonly kind: 'numeric' | 'categorical' }[];
  readonly config: AdditiveLogisticConfig;
  readonly decisionThreshold: number;
  readonly checkpointFile: string;
  readonly modelFile: string;
  readonly onnxFile: string;
  readonly onnxMetadata: Readonly<Record<string, string>>;
  readonly producerVersion: string;
}

export type TrainingMessage =
  | { readonly type: 'status'; readonly stage: string; readonly rows?: number }
  | { readonly type: 'resumed'; readonly epochsDone: number }
  | {
      readonly type: 'progress';
      readonly epoch: number;
      readonly epochs: number;
      readonly batch: number;
      readonly batchesPerEpoch: number;
      readonly trainLoss: number;
    }
  | { readonly type: 'epoch'; readonly epoch: number; readonly epochs: number; readonly validLogLoss: number; readonly validAuc: number }
  | { readonly type: 'done'; readonly holdout: BinaryMetrics; readonly epochs: number; readonly resumedFromEpoch: number };

export async function readLabeled(
  file: string,
  features: TrainingJob['features'],
  onRows?: (rows: number) => void,
): Promise<LabeledTable> {
  const db = await openDuckDB({ threads: 1 });
  try {
    const table = await readColumns(
      await db.connection.stream(`SELECT * FROM read_parquet(${quoteLiteral(file)})`),
      [...features, { name: LABEL_COLUMN, kind: 'numeric' }],
      onRows,
    );
    const label = table.columns.at(-1);
    if (!label || label.kind !== 'numeric') throw new Error(`${file} has no numeric ${LABEL_COLUMN} column`);
    return { features: { rows: table.rows, columns: table.columns.slice(0, -1) }, labels: label.values };
  } finally {
    db.close();
  }
}

async function readCheckpoint(file: string): Promise<Checkpoint | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Checkpoint;
  } catch {
    return undefined; // none yet, or a torn write from a crash: start over
  }
}

async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await writeFile(`${file}.tmp`, data);
  await rename(`${file}.tmp`, file);
}

async function run(job: TrainingJob, post: (m: TrainingMessage) => void): Promise<void> {
  post({ type: 'status', stage: 'reading training set' });
  const train = await readLabeled(job.trainFile, job.features, (rows) => post({ type: 'status', stage: 'reading training set', rows }));
  post({ type: 'status', stage: 'reading holdout set', rows: train.features.rows });
  const holdout = await readLabeled(job.holdoutFile, job.features);
  let baselineRate = 0;
  let labelled = 0;
  for (const y of train.labels) {
    if (Number.isNaN(y)) continue;
    baselineRate += y;
    labelled++;
  }
  baselineRate /= Math.max(1, labelled);

  const resumeFrom = await readCheckpoint(job.checkpointFile);
  if (resumeFrom) post({ type: 'resumed', epochsDone: resumeFrom.epochsDone });
  const model = await trainAdditiveLogistic(train, job.config, {
    resumeFrom,
    onProgress: (p) => post({ type: 'progress', ...p }),
    onEpoch: async (epoch, checkpoint, current) => {
      await writeAtomic(job.checkpointFile, JSON.stringify(checkpoint));
      const m = binaryMetrics(holdout.labels, predictAdditiveLogistic(current, holdout.features), job.decisionThreshold, baselineRate);
      post({ type: 'epoch', epoch, epochs: job.config.epochs, validLogLoss: m.logLoss, validAuc: m.auc });
    },
  });
  const metrics = binaryMetrics(holdout.labels, predictAdditiveLogistic(model, holdout.features), job.decisionThreshold, baselineRate);
  const onnx = exportAdditiveLogistic(model, {
    producerName: 'tabular-mlops',
    producerVersion: job.producerVersion,
    metadata: job.onnxMetadata,
  });
  await writeAtomic(job.modelFile, JSON.stringify(model));
  await writeAtomic(job.onnxFile, onnx);
  post({ type: 'done', holdout: metrics, epochs: job.config.epochs, resumedFromEpoch: resumeFrom?.epochsDone ?? 0 });
}

if (parentPort) {
  const port = parentPort;
  run((workerData as { input: TrainingJob }).input, (m) => port.postMessage(m)).catch((err: unknown) => {
    // Rethrown in the thread so the parent's 'error' event carries the original message.
    setImmediate(() => {
      throw err;
    });
  });
}
