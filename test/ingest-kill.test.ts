// Killing the worker in the middle of an ingest and starting it again: the workflow finishes,
// every partition is published exactly once (one file, every source row once), and no staging
// is left behind. The batch is the 3,000,000 flights of vega-datasets, weekly partitions, so
// staging takes long enough to be killed in.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FLIGHTS_SOURCE, type Paths } from '../core/config.js';
import { openDuckDB, queryRows, quoteLiteral } from '../core/duckdb.js';
import type { IngestResult } from '../core/types.js';
import { ingestRun, startOptions } from '../workflows/starts.js';
import { openLake } from '../storage/lake.js';
import { declareDatasetVariant, pathsEnv, spawnEntry, stopProcess, testPaths, listPartitions } from './helpers.js';

let paths: Paths;
let connection: Connection;
let client: Client;
let worker: ChildProcess | undefined;
const taskQueue = `test-ingest-kill-${process.pid}`;
const startWorker = (): ChildProcess =>
  spawnEntry('worker/main.ts', { ...pathsEnv(paths), TEMPORAL_ADDRESS: inject('temporalAddress'), MLOPS_TASK_QUEUE: taskQueue, MLOPS_SCHEDULES: 'off', LOG_LEVEL: 'WARN' });

beforeAll(async () => {
  paths = await testPaths();
  await declareDatasetVariant(paths, 'flights', 'flights_raw', () => {});
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
  worker = startWorker();
});

afterAll(async () => {
  if (worker) await stopProcess(worker);
  await connection?.close();
});

describe('IngestDatasetWorkflow', () => {
  it('publishes each partition exactly once when the worker is killed mid-ingest', async () => {
    const request = ingestRun({ dataset: 'flights_raw', sources: [FLIGHTS_SOURCE] }, new Date(), `kill-${process.pid}`);
    const handle = await client.workflow.start(request.workflow, { ...startOptions(request), taskQueue });
    // Kill the worker outright a little after staging started.
    let startedAt: number | undefined;
    for (;;) {
      const d = await handle.describe();
      expect(d.status.name).toBe('RUNNING');
      const pending = d.raw.pendingActivities?.find((a) => a.activityType?.name === 'stageIngest');
      if (pending?.lastStartedTime != null) startedAt ??= Date.now();
      if (startedAt !== undefined && Date.now() - startedAt > 3_000) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    worker!.kill('SIGKILL');
    await new Promise((r) => worker!.once('exit', r));
    worker = startWorker();
    const result: IngestResult = await handle.result();

    const partitions = await listPartitions(paths, 'flights_raw', 'week');
    expect(partitions.map((p) => p.value)).toEqual(result.partitions.map((p) => p.value));
    expect(partitions.length).toBe(26);
    for (const p of partitions) expect(p.files.map((f) => path.basename(f)), p.value).toEqual([`part-${result.contentHash.slice(0, 16)}.parquet`]);
    const db = await openDuckDB();
    try {
      const [row] = await queryRows(db.connection, `SELECT count(*)::BIGINT AS n FROM read_parquet([${partitions.flatMap((p) => p.files).map(quoteLiteral).join(', ')}])`);
      expect(Number(row?.n)).toBe(3_000_000);
      expect(result.rows).toBe(3_000_000);
    } finally {
      db.close();
    }
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? []).flatMap((e) => e.activityTaskStartedEventAttributes?.attempt ?? []);
    expect(Math.max(...attempts)).toBeGreaterThan(1);
    // Every stored data object is in a manifest: the killed attempt's were stored again under the same keys.
    const stored = (await openLake(paths).store.list('flights_raw/week=')).map((o) => o.key);
    expect(stored).toHaveLength(26);

    // The same file again: nothing changes.
    const again = ingestRun({ dataset: 'flights_raw', sources: [FLIGHTS_SOURCE] }, new Date(), `again-${process.pid}`);
    const second: IngestResult = await (await client.workflow.start(again.workflow, { ...startOptions(again), taskQueue })).result();
    expect(second.alreadyIngested).toBe(true);
    expect((await listPartitions(paths, 'flights_raw', 'week')).map((p) => p.files)).toEqual(partitions.map((p) => p.files));
  }, 300_000);
});
