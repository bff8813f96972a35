// TypeScript side of `npm run bench:gbdt`, run in a process of its own so its peak memory is
// its own: read the training Parquet, train, predict the test Parquet, write the raw
// predictions (float64, row-major) and print one JSON line.
import { writeFile } from 'node:fs/promises';
import { readLabeled } from '../activities/training-thread.js';
import { predict } from '../ml/gbdt/model.js';
import type { GbdtParams } from '../ml/gbdt/params.js';
import { trainGbdt } from '../ml/gbdt/train.js';

interface Job {
  readonly train: string;
  readonly test: string;
  readonly predictions: string;
  readonly features: readonly { readonly name: string; readonly kind: 'numeric' | 'categorical' }[];
  readonly params: GbdtParams;
}

const job = JSON.parse(process.argv[2]!) as Job;
const train = await readLabeled(job.train, job.features);
const test = await readLabeled(job.test, job.features);
const started = performance.now();
const model = await trainGbdt(train, job.params);
const seconds = (performance.now() - started) / 1000;
const predictions = predict(model, test.features);
await writeFile(job.predictions, new Uint8Array(predictions.buffer, predictions.byteOffset, predictions.byteLength));
console.log(JSON.stringify({ seconds, peakMB: process.resourceUsage().maxRSS / 1024, rounds: model.iterations }));
