// Deterministic failures fail at once; transient ones retry. Unit level: how each kind of error
// is classified (core/errors.ts) and what the worker hands Temporal (worker/failures.ts). On the
// real dev server: a model whose feature SQL is broken fails TrainModelWorkflow,
// BatchInferenceWorkflow and MonitorModelWorkflow within one activity attempt, with DuckDB's
// parser message and the SQL file in GET /workflows/:id and in the run's history (what the
// Temporal UI shows).
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDB } from '../core/duckdb.js';
import {
  classifyFailure,
  CorruptModelError,
  DataContractViolation,
  HoldoutMismatchError,
  InvalidSpecError,
  sqlErrorOf,
  TemporalUnavailableError,
  UnknownPartitionError,
} from '../core/errors.js';
import { holdoutDisagreement } from '../activities/evaluation.js';
import type { MulticlassMetrics } from '../ml/metrics.js';
import { toApplicationFailure } from '../worker/failures.js';
import { declareVariant, registerChampion, startWorkerHarness, testApi, testPaths, type TestApi, type WorkerHarness } from './helpers.js';

/** DuckDB's own error for `sql`. */
async function duckdbError(sql: string): Promise<Error> {
  const db = await openDuckDB();
  try {
    await db.connection.run(sql);
  } catch (err) {
    return err as Error;
  } finally {
    db.close();
  }
  throw new Error(`${sql} did not fail`);
}

describe('failure classification', () => {
  it('fails at once on errors about the query or the data, retries I/O', async () => {
    const cases: [string, string, boolean][] = [
      ['SELEC 1', 'Parser', true],
      ['SELECT nope FROM (SELECT 1 AS a)', 'Binder', true],
      ['SELECT * FROM no_such_table', 'Catalog', true],
      ["SELECT CAST('x' AS INTEGER)", 'Conversion', true],
      ["SELECT * FROM read_parquet('/no/such/file.parquet')", 'IO', false],
    ];
    for (const [sql, kind, deterministic] of cases) {
      const err = await duckdbError(sql);
      const failure = classifyFailure(err);
      expect(failure, sql).toMatchObject({ known: true, type: 'SqlError', nonRetryable: deterministic, context: { kind } });
      expect(failure.message).toContain(`${kind} Error: `);
      // The same message after crossing a thread (a plain Error), or named with its SQL file.
      expect(classifyFailure(new Error(err.message)).nonRetryable).toBe(deterministic);
      expect(sqlErrorOf(err, 'features/x.sql')!.message).toMatch(new RegExp(`^in a query over features/x.sql: ${kind} Error: `));
    }
  });

  it('takes retryability from the error class, and leaves unknown errors to retry', () => {
    expect(classifyFailure(new DataContractViolation('schema', 'column missing', '/lake/x.parquet', 'origin'))).toMatchObject({
      type: 'DataContractViolation',
      nonRetryable: true,
      context: { check: 'schema', file: '/lake/x.parquet', column: 'origin' },
    });
    expect(classifyFailure(new InvalidSpecError('models/x.json', 'task', 'unknown')).nonRetryable).toBe(true);
    expect(classifyFailure(new CorruptModelError('/registry/x/1/model.onnx', 'hash differs')).nonRetryable).toBe(true);
    expect(classifyFailure(new UnknownPartitionError('flights', 'week=1999-01-01', [])).nonRetryable).toBe(true);
    expect(classifyFailure(new TemporalUnavailableError('127.0.0.1:1', 'refused')).nonRetryable).toBe(false);
    const busy = Object.assign(new Error('resource busy'), { code: 'EBUSY' });
    expect(classifyFailure(busy)).toMatchObject({ known: false, nonRetryable: false, context: { code: 'EBUSY' } });
    expect(classifyFailure(new TypeError("Cannot read properties of undefined (reading 'x')")).known).toBe(false);
  });

  it('hands Temporal a non-retryable ApplicationFailure with the context, and leaves its own failures alone', () => {
    const converted = toApplicationFailure(new DataContractViolation('nulls', 'too many', '/lake/x.parquet', 'distance'));
    expect(converted).toBeInstanceOf(ApplicationFailure);
    expect(converted).toMatchObject({ type: 'DataContractViolation', nonRetryable: true, details: [{ column: 'distance', file: '/lake/x.parquet' }] });
    const cancelled = new CancelledFailure('cancelled');
    expect(toApplicationFailure(cancelled)).toBe(cancelled);
    const unknown = new Error('socket hang up');
    expect(toApplicationFailure(unknown)).toBe(unknown);
  });
});

describe('an evaluation that reads other data than training measured', () => {
  const metrics = (logLoss: number, rows = 113_229): MulticlassMetrics => ({
    task: 'multiclass', rows, logLoss, accuracy: 0.53, baselineLogLoss: 1.1178, baselineAccuracy: 0.5253,
  });
  const card = { task: 'multiclass' as const, version: 1, metrics: { holdout: metrics(1.0799), trainRows: 0, baseline: { task: 'multiclass' as const, priors: [0.5, 0.5] } } };

  it('is told apart from onnxruntime scoring as the trainer did, and is retried', () => {
    // The matrix once saw this: 1.0799 in the training thread, 3.3860 on the evaluation's own read.
    expect(holdoutDisagreement(card, metrics(3.386))).toBe('logLoss 3.3860 on the 113229 holdout rows read now, 1.0799 when v1 was trained');
    expect(holdoutDisagreement(card, metrics(1.0799 + 2e-5))).toBeNull(); // float32 scores of two runtimes
    expect(holdoutDisagreement(card, metrics(3.386, 100_000))).toBeNull(); // other rows: the lake changed, nothing to compare
    expect(classifyFailure(new HoldoutMismatchError('m', 1, 'differs')).nonRetryable).toBe(false);
  });
});

const MODEL = 'broken_sql';
const SQL_FILE = 'features/broken_sql.sql';
let harness: WorkerHarness;
let api: TestApi;

beforeAll(async () => {
  const paths = await testPaths();
  const good = await readFile(path.join(paths.sqlDir, 'features', 'flights.sql'), 'utf8');
  await writeFile(path.join(paths.sqlDir, SQL_FILE), good);
  await declareVariant(paths, 'flight_delay', MODEL, (spec) => {
    spec.features.sql = SQL_FILE;
    spec.trainer.params = { ...spec.trainer.params, numIterations: 5 };
  });
  await registerChampion(paths, MODEL, { numIterations: 5 });
  // Broken after the champion was made: every query built on it now fails to parse.
  await writeFile(path.join(paths.sqlDir, SQL_FILE), good.replace(/\bSELECT\b/, 'SELEC'));
  harness = await startWorkerHarness('failures', paths);
  api = await testApi(paths, async () => harness.client, { address: harness.address, namespace: 'default', taskQueue: harness.taskQueue, uiUrl: 'http://localhost:8233' });
});

afterAll(async () => {
  api?.close();
  await harness?.close();
});

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** Every workflow run under `workflowId` and its children: their histories' events. */
async function histories(workflowId: string): Promise<HistoryEvent[]> {
  const events = (await harness.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const children = events.flatMap((e) => (e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId ? [e.childWorkflowExecutionStartedEventAttributes.workflowExecution.workflowId] : []));
  return [...events, ...(await Promise.all(children.map(histories))).flat()];
}

describe('a broken feature SQL', () => {
  for (const [route, body] of [
    ['/workflows/train', { model: MODEL }],
    ['/workflows/batch', { model: MODEL, partitions: 'new' }],
    ['/workflows/monitor', { model: MODEL, window: { last: 1 } }],
  ] as const) {
    it(`fails ${route} within one attempt, naming the parser error and the file`, async () => {
      const res = await api.call(route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(202);
      const { workflowId, runId } = (await res.json()) as { workflowId: string; runId: string };
      await expect(harness.client.workflow.getHandle(workflowId, runId).result()).rejects.toThrow();

      // GET /workflows/:id: the innermost cause, DuckDB's own words, with the file.
      const status = (await (await api.call(`/workflows/${workflowId}?runId=${runId}`)).json()) as { status: string; failure: { message: string; type: string } };
      expect(status.status).toBe('FAILED');
      expect(status.failure.type).toBe('SqlError');
      expect(status.failure.message).toContain(`in a query over ${SQL_FILE}: Parser Error: syntax error at or near "SELEC"`);

      // The history (what the Temporal UI shows): the failed activities (a batch's lanes may fail
      // side by side) each on their first attempt, marked non-retryable, with the parser's message.
      const events = await histories(workflowId);
      const failed = events.filter((e) => e.activityTaskFailedEventAttributes);
      expect(failed.length).toBeGreaterThanOrEqual(1);
      for (const e of failed) {
        const failure = e.activityTaskFailedEventAttributes!.failure!;
        expect(failure.message).toContain('Parser Error');
        expect(failure.applicationFailureInfo).toMatchObject({ type: 'SqlError', nonRetryable: true });
      }
      const started = events.filter((e) => e.activityTaskStartedEventAttributes);
      expect(started.every((e) => e.activityTaskStartedEventAttributes!.attempt === 1)).toBe(true);
    });
  }
});
