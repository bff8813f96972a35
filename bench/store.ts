// `npm run bench:store`: what the object store costs where the product reads and writes data,
// against the folder backend, side by side in one run on the same machine.
//
// Both backends get the same 26 weeks of flights and the same registered flight_delay model;
// then, for each: the training set build (snapshotDataset + buildTrainingSet), batch scoring of
// all 26 weeks one after another (planBatch + scorePartition), and drift over 21 reference and 5
// window weeks (planMonitor's plan + computeDrift's analysis). The activities run as they do in a
// worker (through Temporal's MockActivityEnvironment, no server), so this measures the storage
// paths and nothing else. The bucket is moto on 127.0.0.1 (test/s3-server.ts): no network
// latency, so the figures are the store layer's own cost (copies into the per-host cache, uploads,
// manifests); a remote bucket adds its round trips. "cold" starts with an empty cache, "warm"
// runs again with the cache the cold run filled.
//
//   npm run bench:store [-- --repeat 1]
import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createActivities } from '../activities/index.js';
import { analyzeDrift, type MonitorPlan } from '../activities/monitoring.js';
import { resolvePaths, type Paths } from '../core/config.js';
import type { BatchInferenceInput } from '../core/types.js';
import { ensureFlightsLake } from '../data/flights.js';
import { openLake } from '../storage/lake.js';
import { openPredictions } from '../storage/predictions.js';
import { CHAMPION, openRegistry } from '../storage/registry.js';
import { runFilesAt } from '../storage/work.js';
import { createBucket, s3Env, startS3Server } from '../test/s3-server.js';

const MODEL = 'flight_delay';
const WEEKS = 26;
const mock = new MockActivityEnvironment();
/** Run an activity as a worker would (its Context exists; heartbeats go nowhere). */
const call = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => mock.run(fn, ...args) as Promise<R>;
const seconds = (from: number) => (performance.now() - from) / 1000;

async function timed<T>(label: string, work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await work();
  const s = seconds(started);
  console.log(`  ${label}: ${s.toFixed(2)} s`);
  return { value, seconds: s };
}

/** Train and register the champion once, on the folder backend; the bucket gets the same version. */
async function champion(local: Paths, bucket: Paths): Promise<number> {
  const a = createActivities({ paths: local, codeVersion: 'bench' });
  const ids = { workflowId: 'bench-train', runId: 'bench' };
  const snapshot = await call(a.snapshotDataset, { model: MODEL });
  const trainingSet = await call(a.buildTrainingSet, { model: MODEL, snapshot, ...ids });
  const trained = await call(a.trainModel, { model: MODEL, trainingSet });
  const parity = await call(a.verifyOnnx, { model: MODEL, trained, trainingSet });
  const registered = await call(a.registerVersion, { model: MODEL, snapshot, trainingSet, trained, parity, ...ids });
  const promote = { action: 'promote', actor: 'bench', reason: 'bench' } as const;
  await openRegistry(local).moveAlias(MODEL, CHAMPION, registered.version, promote);
  const { version: _v, createdAt: _c, evaluations: _e, onnx: o, ...draft } = await openRegistry(local).readCard(MODEL, registered.version);
  const onnx = await runFilesAt(local, trainingSet.workPrefix).bytes(trained.onnxKey);
  const copy = await openRegistry(bucket).register(MODEL, onnx, { ...draft, onnx: { parity: o.parity } });
  await openRegistry(bucket).moveAlias(MODEL, CHAMPION, copy.version, promote);
  return registered.version;
}

interface Figures {
  trainingSet: number;
  batch: number;
  drift: number;
}

async function measure(paths: Paths, label: string): Promise<Figures> {
  console.log(label);
  const a = createActivities({ paths, codeVersion: 'bench' });
  const trainingSet = await timed('training set (snapshot + build)', async () => {
    const snapshot = await call(a.snapshotDataset, { model: MODEL });
    return call(a.buildTrainingSet, { model: MODEL, snapshot, workflowId: 'bench-set', runId: label.replace(/\W+/g, '-') });
  });
  const version = (await openRegistry(paths).getAlias(MODEL, CHAMPION))!.version;
  const batch = await timed(`batch scoring of ${WEEKS} weeks`, async () => {
    const input: BatchInferenceInput = { model: MODEL, partitions: 'new', concurrency: 1, threads: 2, reason: 'bench' };
    const plan = await call(a.planBatch, input);
    for (const partition of plan.partitions) await call(a.scorePartition, { model: MODEL, version, partitionKey: plan.partitionKey, partition, threads: 2 });
    return plan.partitions.length;
  });
  const weeks = (await openLake(paths).partitions('flights', 'week')).map((p) => p.value);
  const plan: MonitorPlan = { model: MODEL, version, partitionKey: 'week', reference: weeks.slice(0, 21), window: weeks.slice(21), unscored: [] };
  const drift = await timed('drift (21 reference, 5 window weeks)', () => analyzeDrift(paths, { plan, reportId: `bench-${label.replace(/\W+/g, '-')}`, workflowId: 'bench', runId: 'bench' }));
  if (batch.value !== WEEKS) throw new Error(`${label}: scored ${batch.value} weeks, expected ${WEEKS}`);
  return { trainingSet: trainingSet.seconds, batch: batch.seconds, drift: drift.seconds };
}

async function run(): Promise<void> {
  const server = await startS3Server((line) => console.log(line));
  Object.assign(process.env, s3Env(server.endpoint));
  const dirs: string[] = [];
  const fresh = async (name: string) => {
    const dir = await mkdtemp(path.join(tmpdir(), `mlops-bench-${name}-`));
    dirs.push(dir);
    return dir;
  };
  try {
    const bucketName = await createBucket(server.endpoint);
    const local = resolvePaths({ MLOPS_STATE_DIR: await fresh('folder') });
    const bucket = resolvePaths({ MLOPS_STATE_DIR: await fresh('bucket'), MLOPS_STORE: `s3://${bucketName}/bench` });
    const lakes = await Promise.all([
      timed('flights lake, folder', () => ensureFlightsLake(local, WEEKS)),
      timed('flights lake, bucket', () => ensureFlightsLake(bucket, WEEKS)),
    ]);
    console.log(`lakes: ${lakes.map((l) => l.value.released.length).join(' and ')} weeks`);
    await champion(local, bucket);

    const folder = await measure(local, 'folder');
    const cold = await measure(bucket, 'bucket, cold cache');
    // Warm: the same host again, its cache full; the outputs are written again.
    await openPredictions(bucket).store.deletePrefix(`${MODEL}/`);
    const warm = await measure(bucket, 'bucket, warm cache');

    const row = (name: string, key: keyof Figures) =>
      `| ${name} | ${folder[key].toFixed(2)} s | ${cold[key].toFixed(2)} s (${(cold[key] / folder[key]).toFixed(2)}x) | ${warm[key].toFixed(2)} s (${(warm[key] / folder[key]).toFixed(2)}x) |`;
    console.log('\n| step | folder | bucket, cold cache | bucket, warm cache |\n|---|---|---|---|');
    console.log(row('training set build (snapshot + build)', 'trainingSet'));
    console.log(row(`batch scoring, ${WEEKS} weeks one at a time`, 'batch'));
    console.log(row('drift, 21 + 5 weeks', 'drift'));
  } finally {
    await server.stop();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
