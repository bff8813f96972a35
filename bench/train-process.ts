// The benches' way to train: bench/gbdt-train.ts in a process of its own (its peak memory is
// its own), then its predictions of the test set scored by the task's metric code.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { PROJECT_ROOT } from '../core/config.js';
import { readLabeled } from '../activities/training-thread.js';
import type { GbdtParams } from '../ml/gbdt/params.js';
import type { Metrics } from '../ml/metrics.js';
import type { ModelTask } from '../tasks/index.js';

export interface TrainJob {
  readonly train: string;
  readonly test: string;
  /** Where the raw test predictions go (float64, row-major). */
  readonly predictions: string;
  readonly features: readonly { readonly name: string; readonly kind: 'numeric' | 'categorical' }[];
  readonly params: GbdtParams;
}

export interface TrainRun {
  readonly seconds: number;
  readonly peakMB: number;
  readonly rounds: number;
}

/** Train and predict in a process of its own: what it printed last. */
export function trainInOwnProcess(job: TrainJob): TrainRun {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/gbdt-train.ts', JSON.stringify(job)], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as TrainRun;
}

/** The test set's metrics for a predictions file, against the training set's baseline. */
export async function scorePredictions(job: TrainJob, task: ModelTask, predictions = job.predictions): Promise<{ metrics: Metrics; trainRows: number; testRows: number }> {
  const train = await readLabeled(job.train, job.features);
  const test = await readLabeled(job.test, job.features);
  const metrics = task.evaluate(test.labels, new Float64Array((await readFile(predictions)).buffer.slice(0)), task.kind.baseline(train.labels, job.params.numClass));
  return { metrics, trainRows: train.features.rows, testRows: test.features.rows };
}
