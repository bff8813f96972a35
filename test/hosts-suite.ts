// Two worker processes and one API process sharing nothing but Temporal and the store: on the
// S3 backend each has its own empty state folder and all product state is in a bucket of the
// run's moto server (hosts-s3.test.ts); on the folder backend they share one state folder, the
// single-host shape (hosts-folder.test.ts). The whole loop runs for flight_delay (train, promote,
// /predict, batch, monitor) while workers are killed: the one training (the other resumes from
// the stored checkpoint and registers exactly one version) and the one scoring (no partial
// output is ever visible and each partition is written once). On the bucket, the store is also
// cut off (500s, then no answer) during a batch.
import type { ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT, resolvePaths, type Paths } from '../core/config.js';
import { openDuckDB, queryRows, quoteLiteral } from '../core/duckdb.js';
import type { BatchInferenceResult, TrainModelResult } from '../core/types.js';
import { ensureFlightsLake } from '../data/flights.js';
import { openLake } from '../storage/lake.js';
import { openPredictions } from '../storage/predictions.js';
import { openRegistry } from '../storage/registry.js';
import { declareVariant, pathsEnv, spawnEntry, startApiProcess, stopProcess, TEST_TOKENS } from './helpers.js';
import { createBucket, s3Env, startFaultProxy, type FaultProxy } from './s3-server.js';

const MODEL = 'flight_delay';
const WEEKS = 6;

export function hostsSuite(backend: 'folder' | 's3'): void {
  const onBucket = backend === 's3';
  /** The test process reads the bucket directly; the hosts go through a proxy the test can make fail. */
  const S3 = onBucket ? s3Env(inject('s3Endpoint')) : {};
  let proxy: FaultProxy | undefined;
  let hostS3: Record<string, string> = {};
  /** The folder backend: the one state folder every process shares. */
  let sharedState = '';
  let bucket: string;
  let seed: Paths;
  let client: Client;
  const queue = `test-hosts-${process.pid}`;
  const workers: ChildProcess[] = [];
  let api: { proc: ChildProcess; url: string };
  const hostDirs: string[] = [];

  /** Paths of one host: its own copy of the specs, and its own empty state folder and the bucket (or the shared folder). */
  async function hostPaths(specs: string): Promise<Paths> {
    const dir = await mkdtemp(path.join(tmpdir(), 'mlops-host-'));
    hostDirs.push(dir);
    await cp(specs, path.join(dir, 'specs'), { recursive: true });
    return resolvePaths({
      MLOPS_STATE_DIR: onBucket ? path.join(dir, 'state') : sharedState,
      MLOPS_MODELS_DIR: path.join(dir, 'specs', 'models'),
      MLOPS_DATASETS_DIR: path.join(dir, 'specs', 'datasets'),
      MLOPS_SQL_DIR: path.join(dir, 'specs', 'sql'),
      ...(onBucket ? { MLOPS_STORE: `s3://${bucket}/hosts` } : {}),
    });
  }

  let specsDir: string;

  async function startWorker(): Promise<ChildProcess> {
    const paths = await hostPaths(specsDir);
    const proc = spawnEntry('worker/main.ts', { ...pathsEnv(paths), ...hostS3, TEMPORAL_ADDRESS: inject('temporalAddress'), MLOPS_TASK_QUEUE: queue, MLOPS_SCHEDULES: 'off', LOG_LEVEL: 'WARN' });
    workers.push(proc);
    return proc;
  }

  async function call(method: string, route: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${api.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** Kill the worker running `activity` once `ready` says its heartbeat shows enough progress; returns its pid. */
  async function killWorkerRunning(workflowId: string, activity: string, ready: (details: Record<string, unknown>) => boolean | Promise<boolean>): Promise<number> {
    const handle = client.workflow.getHandle(workflowId);
    for (;;) {
      const d = await handle.describe();
      expect(d.status.name, `${workflowId} ended before a worker running ${activity} could be killed`).toBe('RUNNING');
      const pending = d.raw.pendingActivities?.find((a) => a.activityType?.name === activity);
      const data = pending?.heartbeatDetails?.payloads?.[0]?.data;
      const details = data ? (JSON.parse(Buffer.from(data).toString()) as Record<string, unknown>) : undefined;
      const pid = Number(pending?.lastWorkerIdentity?.split('@')[0]);
      const victim = workers.find((w) => w.pid === pid && w.exitCode === null);
      if (victim && (await ready(details ?? {}))) {
        victim.kill('SIGKILL');
        await new Promise((r) => victim.once('exit', r));
        return pid;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function waitFor<T>(workflowId: string): Promise<T> {
    return (await client.workflow.getHandle(workflowId).result()) as T;
  }

  beforeAll(async () => {
    Object.assign(process.env, S3); // this test process reads the bucket too
    if (onBucket) bucket = await createBucket(inject('s3Endpoint'));
    else sharedState = await mkdtemp(path.join(tmpdir(), 'mlops-shared-state-'));
    // The specs every host ships with (the image's models/, datasets/, sql/), with a shorter,
    // checkpointing trainer so the test can kill it mid-run.
    specsDir = await mkdtemp(path.join(tmpdir(), 'mlops-specs-'));
    for (const d of ['models', 'datasets', 'sql']) await cp(path.join(PROJECT_ROOT, d), path.join(specsDir, d), { recursive: true });
    seed = await hostPaths(specsDir);
    await declareVariant(seed, MODEL, MODEL, (spec) => {
      spec.trainer.params.numIterations = 80;
      spec.trainer.params.earlyStoppingRounds = 0;
      spec.trainer.checkpointEvery = 5;
    });
    await cp(path.join(seed.modelsDir, `${MODEL}.json`), path.join(specsDir, 'models', `${MODEL}.json`));
    // The flights weeks, uploaded once by this process: the hosts have only the bucket.
    await ensureFlightsLake(seed, WEEKS);
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection });
    if (onBucket) {
      proxy = await startFaultProxy(inject('s3Endpoint'));
      hostS3 = { ...s3Env(proxy.endpoint), MLOPS_S3_TIMEOUT_MS: '2000' };
    }
    await Promise.all([startWorker(), startWorker()]);
    const apiPaths = await hostPaths(specsDir);
    api = await startApiProcess(apiPaths, { ...hostS3, TEMPORAL_ADDRESS: inject('temporalAddress'), MLOPS_TASK_QUEUE: queue });
  }, 600_000);

  afterAll(async () => {
    if (proxy) proxy.mode = 'pass';
    await Promise.all([...workers.map(stopProcess), ...(api ? [stopProcess(api.proc)] : [])]);
    await proxy?.stop();
  });

  async function predictStatus(): Promise<number> {
    const res = await fetch(`${api.url}/predict?model=${MODEL}&date=2001-02-05+08:30:00&distance=720&origin=ORD&destination=LGA`, {
      headers: { authorization: `Bearer ${TEST_TOKENS.predict}` },
    });
    await res.body?.cancel();
    return res.status;
  }

  describe(`hosts sharing only Temporal and the store (${backend})`, () => {
    it('train, promote, predict, batch and monitor, with workers killed mid-training and mid-batch', async () => {
      // 1. Train; kill whichever worker trains once it has stored a checkpoint; the other resumes.
      const started = await call('POST', '/workflows/train', { model: MODEL, reason: 'multi-host test' });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const trainId = String(started.body.workflowId);
      await killWorkerRunning(trainId, 'trainModel', (d) => Number(d.checkpointIteration ?? 0) >= 20);
      await startWorker(); // a replacement host, with an empty folder of its own
      const trained = await waitFor<TrainModelResult>(trainId);
      expect(trained.promoted, JSON.stringify(trained.promotion)).toBe(true);
      expect(trained.training.resumedFromIteration).toBeGreaterThanOrEqual(20);
      expect(trained.training.iterations).toBe(80);
      const registry = openRegistry(seed);
      expect(await registry.listVersions(MODEL)).toEqual([trained.version]);
      expect((await registry.getAlias(MODEL, 'champion'))?.version).toBe(trained.version);

      // 2. The API serves the champion it read from the bucket.
      let predicted: Response | undefined;
      for (let i = 0; i < 100; i++) {
        predicted = await fetch(`${api.url}/predict?model=${MODEL}&date=2001-02-05+08:30:00&distance=720&origin=ORD&destination=LGA`, {
          headers: { authorization: `Bearer ${TEST_TOKENS.predict}` },
        });
        if (predicted.status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(predicted!.status).toBe(200);
      expect(predicted!.headers.get('x-model-version')).toBe(String(trained.version));

      // 3. Batch every week, one at a time; kill the worker scoring once a week is stored and the next has begun.
      const batch = await call('POST', '/workflows/batch', { model: MODEL, partitions: 'new', concurrency: 1 });
      expect(batch.status, JSON.stringify(batch.body)).toBe(202);
      const batchId = String(batch.body.workflowId);
      const predictions = openPredictions(seed);
      await killWorkerRunning(batchId, 'scorePartition', async () => (await predictions.scoredPartitions(MODEL, 'week', trained.version)).size >= 1);
      await startWorker();
      const scored = await waitFor<BatchInferenceResult>(batchId);
      const weeks = (await openLake(seed).partitions('flights', 'week')).map((p) => p.value);
      expect(scored.partitions.map((p) => p.partition).sort()).toEqual(weeks);
      expect(scored.rowsOut).toBe(scored.rowsIn);
      // Each week's output holds one row per input row, keyed 0..n-1, and was stored once.
      const db = await openDuckDB();
      try {
        for (const p of scored.partitions) {
          const file = await predictions.localFile(MODEL, 'week', p.partition, trained.version);
          const [row] = await queryRows(db.connection, `SELECT count(*)::BIGINT AS n, count(DISTINCT (source_file, source_row))::BIGINT AS k FROM read_parquet(${quoteLiteral(file)})`);
          expect(Number(row?.n), p.partition).toBe(p.rowsIn);
          expect(Number(row?.k), p.partition).toBe(p.rowsIn);
        }
      } finally {
        db.close();
      }
      const outputs = await predictions.store.list(`${MODEL}/week=`);
      expect(outputs.length).toBe(weeks.length);
      // Scoring the same weeks again writes nothing: each week was written once.
      const again = await call('POST', '/workflows/batch', { model: MODEL, partitions: weeks });
      const rerun = await waitFor<BatchInferenceResult>(String(again.body.workflowId));
      expect(rerun.partitions.every((p) => p.skipped)).toBe(true);
      expect(await predictions.store.list(`${MODEL}/week=`)).toEqual(outputs);

      // 4. Monitor: the report is in the bucket and the API lists it.
      const monitor = await call('POST', '/workflows/monitor', { model: MODEL });
      expect(monitor.status, JSON.stringify(monitor.body)).toBe(202);
      await waitFor(String(monitor.body.workflowId));
      const reports = await call('GET', `/reports/${MODEL}`);
      expect((reports.body.reports as unknown[]).length).toBe(1);

      // 5. No host kept product state of its own: only copies in its cache.
      if (onBucket) for (const dir of hostDirs.slice(1)) {
        const state = await readdir(path.join(dir, 'state')).catch(() => [] as string[]);
        expect(state.filter((d) => d !== 'cache'), dir).toEqual([]);
      }
    }, 900_000);

    // Only a bucket can be cut off: the folder backend has no such case.
    if (onBucket) it('rides out a store that answers 500s and then nothing: the batch is delayed and retried, and loses nothing', async () => {
      if (!proxy) throw new Error('the bucket hosts go through the fault proxy');
      const version = (await openRegistry(seed).getAlias(MODEL, 'champion'))!.version;
      const predictions = openPredictions(seed);
      await predictions.store.deletePrefix(`${MODEL}/`); // the outputs are gone: the batch writes every week again
      const weeks = (await openLake(seed).partitions('flights', 'week')).map((p) => p.value);
      proxy.mode = 'error';
      const batch = await call('POST', '/workflows/batch', { model: MODEL, partitions: 'new', concurrency: 1 });
      expect(batch.status, JSON.stringify(batch.body)).toBe(202);
      // The API serves the champion it holds: /predict never waits for the store.
      expect(await predictStatus()).toBe(200);
      await new Promise((r) => setTimeout(r, 6_000));
      proxy.mode = 'hang';
      expect(await predictStatus()).toBe(200);
      await new Promise((r) => setTimeout(r, 5_000));
      proxy.mode = 'pass';
      const workflowId = String(batch.body.workflowId);
      const result = await waitFor<BatchInferenceResult>(workflowId);
      expect(proxy.faults).toBeGreaterThan(0);
      expect(result.version).toBe(version);
      expect(result.partitions.map((p) => p.partition).sort()).toEqual(weeks);
      expect(result.rowsOut).toBe(result.rowsIn);
      expect([...(await predictions.scoredPartitions(MODEL, 'week', version))].sort()).toEqual(weeks);
      // The retries are in the run's history, with the store's failure that caused them.
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const retried = (history.events ?? []).flatMap((e) => {
        const a = e.activityTaskStartedEventAttributes;
        return a && (a.attempt ?? 1) > 1 ? [a.lastFailure?.message ?? ''] : [];
      });
      expect(retried.length).toBeGreaterThan(0);
      expect(retried.join('\n')).toMatch(/HTTP 500|no answer/);
    }, 600_000);
  });
}
