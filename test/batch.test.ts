// BatchInferenceWorkflow on the real dev server, lake, DuckDB and onnxruntime: a worker killed
// half-way through a batch and restarted ends with exactly one output row per input row in
// every partition, keys complete and unique; a rerun rewrites nothing; predictions equal the
// API's for the same rows.
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Predictor } from '../api/predictor.js';
import type { Paths } from '../core/config.js';
import { openDuckDB, queryRows, quoteLiteral } from '../core/duckdb.js';
import { rootCause } from '../core/errors.js';
import { getJson } from '../storage/object-store.js';
import { openPredictions } from '../storage/predictions.js';
import type { BatchInferenceInput, BatchInferenceResult, MaterializedView, MaterializeInput } from '../core/types.js';
import { declareVariant, pathsEnv, registerChampion, spawnEntry, stopProcess, testPaths, listPartitions } from './helpers.js';

const MODEL = 'flight_delay';
let paths: Paths;
let connection: Connection;
let client: Client;
let worker: ChildProcess | undefined;
const taskQueue = `test-batch-${process.pid}`;

const startWorker = (): ChildProcess =>
  spawnEntry('worker/main.ts', { ...pathsEnv(paths), TEMPORAL_ADDRESS: inject('temporalAddress'), MLOPS_TASK_QUEUE: taskQueue, MLOPS_SCHEDULES: 'off', LOG_LEVEL: 'WARN' });

beforeAll(async () => {
  paths = await testPaths();
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
  // 150 rounds of 63 leaves: slow enough to score that the worker can be killed mid-batch.
  await registerChampion(paths, MODEL, { numIterations: 150, numLeaves: 63, earlyStoppingRounds: 0 });
  worker = startWorker();
});

afterAll(async () => {
  if (worker) await stopProcess(worker);
  await connection?.close();
});

function batch(input: BatchInferenceInput, workflowId: string) {
  return client.workflow.start<(i: BatchInferenceInput) => Promise<BatchInferenceResult>>('BatchInferenceWorkflow', { taskQueue, workflowId, args: [input] });
}

/** Per partition: input rows, output rows, distinct keys, and whether the keys are exactly 0..n-1 of the input files. */
async function audit(partitions: readonly { value: string; files: readonly string[] }[], version: number) {
  const db = await openDuckDB();
  try {
    const out = [];
    for (const p of partitions) {
      const file = await openPredictions(paths).localFile(MODEL, 'week', p.value, version);
      const [input] = await queryRows(db.connection, `SELECT count(*)::BIGINT AS n FROM read_parquet([${p.files.map(quoteLiteral).join(', ')}])`);
      const [output] = await queryRows(
        db.connection,
        `SELECT count(*)::BIGINT AS n, count(DISTINCT (source_file, source_row))::BIGINT AS keys,
                min(source_row)::BIGINT AS lo, max(source_row)::BIGINT AS hi, count(DISTINCT source_file)::BIGINT AS files
         FROM read_parquet(${quoteLiteral(file)})`,
      );
      // Every key points at its own source row: the raw columns stored with it are that row's.
      const [mismatch] = await queryRows(
        db.connection,
        `SELECT count(*)::BIGINT AS n FROM read_parquet(${quoteLiteral(file)}) o
         JOIN read_parquet([${p.files.map(quoteLiteral).join(', ')}], filename = true, file_row_number = true) i
           ON o.source_row = i.file_row_number AND i.filename LIKE '%' || o.source_file
         WHERE o.date IS DISTINCT FROM i.date OR o.origin IS DISTINCT FROM i.origin OR o.distance IS DISTINCT FROM i.distance`,
      );
      out.push({
        partition: p.value,
        rowsIn: Number(input!.n),
        rowsOut: Number(output!.n),
        keys: Number(output!.keys),
        lo: Number(output!.lo),
        hi: Number(output!.hi),
        mismatched: Number(mismatch!.n),
      });
    }
    return out;
  } finally {
    db.close();
  }
}

describe('BatchInferenceWorkflow', () => {
  it('ends with one output row per input row in every partition when the worker is killed mid-batch', async () => {
    const partitions = await listPartitions(paths, 'flights', 'week');
    const handle = await batch({ model: MODEL, partitions: 'new', concurrency: 1, threads: 1 }, `batch-kill-${process.pid}`);
    // Kill the worker outright once two partitions are written and the next has just started
    // being scored (a partition takes a second or two, heartbeats come every 2 s): one started
    // longer ago could finish before the kill lands, and then nothing would be retried.
    for (;;) {
      const d = await handle.describe();
      expect(d.status.name).toBe('RUNNING');
      const pending = d.raw.pendingActivities?.find((a) => a.activityType?.name === 'scorePartition');
      const startedAt = pending?.lastStartedTime;
      const startedMsAgo = startedAt?.seconds != null ? Date.now() - (Number(startedAt.seconds) * 1000 + (startedAt.nanos ?? 0) / 1e6) : undefined;
      const written = await openPredictions(paths).store.list(`${MODEL}/_scored/`);
      if (written.length >= 2 && startedMsAgo !== undefined && startedMsAgo < 500) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    worker!.kill('SIGKILL');
    await new Promise((r) => worker!.once('exit', r));
    worker = startWorker();
    const result = await handle.result();

    expect(result.partitions.map((p) => p.partition).sort()).toEqual(partitions.map((p) => p.value));
    expect(result.rowsOut).toBe(result.rowsIn);
    for (const p of await audit(partitions, result.version)) {
      expect(p, p.partition).toMatchObject({ rowsOut: p.rowsIn, keys: p.rowsIn, lo: 0, hi: p.rowsIn - 1, mismatched: 0 });
    }
    // The partition being scored when the worker died was scored again, from the start.
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? []).flatMap((e) => e.activityTaskStartedEventAttributes?.attempt ?? []);
    expect(Math.max(...attempts)).toBeGreaterThan(1);
    // No temporary file is left where a killed writer was.
    for (const p of partitions) {
      const names = await readdir(path.dirname(await openPredictions(paths).localFile(MODEL, 'week', p.value, result.version)));
      expect(names, p.value).toEqual([`v${result.version}.parquet`]);
    }
    const manifest = (await getJson<{ version: number; rowsIn: number; rowsOut: number; partitions: unknown[] }>(openPredictions(paths).store, result.manifest))!.value;
    expect(manifest).toMatchObject({ version: result.version, rowsIn: result.rowsIn, rowsOut: result.rowsOut });
    expect(manifest.partitions).toHaveLength(partitions.length);

    // A rerun of the same (version, partitions) rewrites nothing; "new" finds nothing left.
    const again = await (await batch({ model: MODEL, partitions: partitions.map((p) => p.value) }, `batch-again-${process.pid}`)).result();
    expect(again.partitions.every((p) => p.skipped)).toBe(true);
    expect(again.rowsOut).toBe(result.rowsOut);
    const none = await (await batch({ model: MODEL, partitions: 'new' }, `batch-none-${process.pid}`)).result();
    expect(none.partitions).toEqual([]);
  });

  it('stores the same predictions the API serves for the same rows', async () => {
    const [, week] = await listPartitions(paths, 'flights', 'week');
    const version = 1;
    // flight_delay's views are taken as of each flight's departure hour: with the store
    // materialized as of one hour, the API serves what batch scoring stored for that hour's flights.
    const stored = await openPredictions(paths).localFile(MODEL, 'week', week!.value, version);
    const db = await openDuckDB();
    const [{ hour }] = (await queryRows(
      db.connection,
      `SELECT strftime(date_trunc('hour', date), '%Y-%m-%d %H:%M:%S') AS hour FROM read_parquet(${quoteLiteral(stored)}) WHERE hour(date) BETWEEN 12 AND 20 GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`,
    )) as [{ hour: string }]; // the week's busiest afternoon hour: the hours before it saw many landings
    const materialized = await client.workflow.execute<(i: MaterializeInput) => Promise<MaterializedView[]>>('MaterializeFeaturesWorkflow', {
      taskQueue,
      workflowId: `batch-materialize-${process.pid}`,
      args: [{ model: MODEL, asOf: hour }],
    });
    expect(materialized.map((v) => v.asOf)).toEqual(materialized.map(() => hour));
    expect(materialized.length).toBeGreaterThan(0);
    const predictor = await Predictor.create(paths);
    try {
      const rows = await queryRows(
        db.connection,
        `SELECT strftime(date, '%Y-%m-%d %H:%M:%S') AS date, distance::VARCHAR AS distance, origin, destination, probability, label
         FROM (SELECT * FROM read_parquet(${quoteLiteral(stored)}) WHERE date_trunc('hour', date) = TIMESTAMP ${quoteLiteral(hour)}) USING SAMPLE 200 ROWS (reservoir, 7)`,
      );
      expect(rows).toHaveLength(200);
      let withViews = 0;
      for (const r of rows) {
        const served = await predictor.predict(MODEL, [[String(r.date), String(r.distance), String(r.origin), String(r.destination)]]);
        expect(served.version).toBe(version);
        expect(served.views?.map((v) => v.asOf)).toEqual(materialized.map(() => hour));
        expect(served.rows[0]).toMatchObject({ probability: r.probability, label: r.label });
        if (served.rows[0]?.views && Object.values(served.rows[0].views).every((v) => !v.missing)) withViews++;
      }
      expect(withViews).toBeGreaterThan(100); // most flights' airports had landings in the 3 hours before
    } finally {
      db.close();
      predictor.close();
    }
  });

  it('fails fast, naming the partition, for a partition that is not in the lake', async () => {
    const handle = await batch({ model: MODEL, partitions: ['2001-01-01', '1999-12-27'] }, `batch-unknown-${process.pid}`);
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(rootCause(err)).toMatchObject({ type: 'UnknownPartitionError' });
    expect(rootCause(err).message).toContain("no partition 'week=1999-12-27'");
  });

  it('refuses, naming the SQL file, a feature SQL that is not one row per input row', async () => {
    // A feature query that drops rows (short flights) cannot give every input row a prediction.
    const sql = await readFile(path.join(paths.sqlDir, 'features', 'flights.sql'), 'utf8');
    await writeFile(path.join(paths.sqlDir, 'features', 'flights_long_only.sql'), `${sql.trim()}\nWHERE distance > 300\n`);
    await declareVariant(paths, MODEL, 'flight_delay_long', (spec) => {
      spec.features.sql = 'features/flights_long_only.sql';
    });
    await registerChampion(paths, 'flight_delay_long', { numIterations: 5 });
    const handle = await batch({ model: 'flight_delay_long', partitions: ['2001-01-08'] }, `batch-filtered-${process.pid}`);
    const err = await handle.result().catch((e: unknown) => e);
    expect(rootCause(err)).toMatchObject({ type: 'FeatureRowCountError' });
    expect(rootCause(err).message).toMatch(/^features\/flights_long_only\.sql: returned \d+ feature rows for the \d+ rows of partition 2001-01-08/);
    // Nothing was stored for it, and nothing counts as scored.
    expect(await openPredictions(paths).store.list('flight_delay_long/')).toEqual([]);
  });
});
