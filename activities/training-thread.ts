// Runs in a worker thread: reads the training sets, trains the GBDT, exports ONNX. All
// CPU-heavy work is here (and in the trainer's own helper threads) so the worker's event
// loop stays free for heartbeats, polling and cancellation. A checkpoint is written every
// `checkpointEvery` rounds; a retried activity resumes from it and ends with the same model.
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { replaceDurably } from '../storage/durable.js';
import { openDuckDB, quoteLiteral, readColumns } from '../core/duckdb.js';
import { LABEL_COLUMN } from '../core/features.js';
import type { TrainedModel } from '../core/types.js';
import { decodeCheckpoint, encodeCheckpoint } from '../ml/gbdt/checkpoint.js';
import { encodeModel, predict } from '../ml/gbdt/model.js';
import type { GbdtParams } from '../ml/gbdt/params.js';
import { trainGbdt, type GbdtCheckpoint, type IterationInfo } from '../ml/gbdt/train.js';
import { exportGbdt } from '../ml/onnx/tree-ensemble.js';
import { spreadRows, type LabeledTable } from '../ml/table.js';
import { explain, meanAbsoluteContribution } from '../ml/gbdt/shap.js';
import { metricValue } from '../ml/metrics.js';
import { modelTask, type ModelShape } from '../tasks/index.js';

/**
 * Holdout rows the card's global importance (mean |TreeSHAP contribution|) is taken over: about
 * 2 ms a row for 100 trees of 63 leaves, so a 300-round model spends a few seconds here.
 */
const IMPORTANCE_ROWS = 1000;

export interface TrainingJob {
  readonly trainFile: string;
  readonly validationFile: string | null;
  readonly holdoutFile: string;
  readonly features: readonly { readonly name: string; readonly kind: 'numeric' | 'categorical' }[];
  /** The model's task, classes and decision threshold. */
  readonly shape: ModelShape;
  readonly params: GbdtParams;
  readonly checkpointEvery: number;
  readonly checkpointFile: string;
  readonly modelFile: string;
  readonly onnxFile: string;
  readonly onnxMetadata: Readonly<Record<string, string>>;
  readonly producerVersion: string;
}

export type TrainingMessage =
  | { readonly type: 'status'; readonly stage: string; readonly rows?: number }
  | { readonly type: 'resumed'; readonly iteration: number }
  | ({ readonly type: 'iteration' } & IterationInfo)
  | { readonly type: 'checkpoint'; readonly iteration: number }
  | ({ readonly type: 'done' } & Pick<TrainedModel, 'holdout' | 'baseline' | 'validation' | 'iterations' | 'bestIteration' | 'resumedFromIteration' | 'importance' | 'curve'>);

export async function readLabeled(
  file: string | readonly string[],
  features: TrainingJob['features'],
  onRows?: (rows: number) => void,
): Promise<LabeledTable> {
  const db = await openDuckDB({ threads: 1 });
  try {
    const table = await readColumns(
      await db.connection.stream(`SELECT * FROM read_parquet([${(typeof file === 'string' ? [file] : file).map(quoteLiteral).join(', ')}])`),
      [...features, { name: LABEL_COLUMN, kind: 'numeric' }],
      onRows,
    );
    const label = table.columns.at(-1);
    if (!label || label.kind !== 'numeric') throw new Error(`${String(file)} has no numeric ${LABEL_COLUMN} column`);
    return { features: { rows: table.rows, columns: table.columns.slice(0, -1) }, labels: label.values };
  } finally {
    db.close();
  }
}

async function readCheckpoint(file: string): Promise<GbdtCheckpoint | undefined> {
  try {
    return decodeCheckpoint(await readFile(file));
  } catch {
    return undefined; // none yet, or a torn write from a crash: start over
  }
}

async function run(job: TrainingJob, post: (m: TrainingMessage) => void): Promise<void> {
  post({ type: 'status', stage: 'reading training set' });
  const train = await readLabeled(job.trainFile, job.features, (rows) => post({ type: 'status', stage: 'reading training set', rows }));
  post({ type: 'status', stage: 'reading validation and holdout sets', rows: train.features.rows });
  const validation = job.validationFile ? await readLabeled(job.validationFile, job.features) : undefined;
  const holdout = await readLabeled(job.holdoutFile, job.features);
  const task = modelTask(job.shape);
  const baseline = task.kind.baseline(train.labels, job.params.numClass);

  let resumeFrom = await readCheckpoint(job.checkpointFile);
  if (resumeFrom && JSON.stringify(resumeFrom.params) !== JSON.stringify(job.params)) resumeFrom = undefined;
  if (resumeFrom) post({ type: 'resumed', iteration: resumeFrom.iteration });
  post({ type: 'status', stage: 'binning features', rows: train.features.rows });
  const curve = { metric: '', iteration: [] as number[], train: [] as (number | null)[], valid: [] as (number | null)[] };
  const model = await trainGbdt(train, job.params, {
    validation,
    resumeFrom,
    checkpointEvery: job.checkpointEvery,
    onCheckpoint: async (checkpoint) => {
      await replaceDurably(job.checkpointFile, encodeCheckpoint(checkpoint));
      post({ type: 'checkpoint', iteration: checkpoint.iteration });
    },
    onIteration: (i) => {
      curve.metric = i.metric;
      curve.iteration.push(i.iteration);
      curve.train.push(i.trainMetric);
      curve.valid.push(i.validMetric);
      post({ type: 'iteration', ...i });
    },
  });
  post({ type: 'status', stage: 'scoring holdout and exporting ONNX', rows: holdout.features.rows });
  const holdoutMetrics = task.evaluate(holdout.labels, predict(model, holdout.features), baseline);
  let validationMetric: { metric: string; value: number } | null = null;
  if (validation) {
    const metrics = task.evaluate(validation.labels, predict(model, validation.features), baseline);
    validationMetric = { metric: task.kind.loss, value: metricValue(metrics, task.kind.loss) };
  }
  post({ type: 'status', stage: 'explaining holdout rows', rows: Math.min(holdout.features.rows, IMPORTANCE_ROWS) });
  const sample = spreadRows(holdout.features, IMPORTANCE_ROWS);
  const meanAbsContribution = Array.from(meanAbsoluteContribution(explain(model, sample)));
  const onnx = exportGbdt(model, { producerName: 'tabular-mlops', producerVersion: job.producerVersion, metadata: job.onnxMetadata });
  await replaceDurably(job.modelFile, encodeModel(model));
  await replaceDurably(job.onnxFile, onnx);
  post({
    type: 'done',
    holdout: holdoutMetrics,
    baseline,
    validation: validationMetric,
    iterations: model.iterations,
    bestIteration: model.bestIteration,
    resumedFromIteration: resumeFrom?.iteration ?? 0,
    importance: { ...model.importance, meanAbsContribution, contributionRows: sample.rows },
    curve,
  });
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
