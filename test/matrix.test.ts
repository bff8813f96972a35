// Every workflow for every task, on the real dev server with small real models trained in
// seconds: train -> evaluate and promote (gate passed, then a gate failed) -> GET and POST
// /predict -> batch "new" -> monitor a week released with injected drift and later arrivals
// (feature drift, prediction drift, performance decay), which starts a retraining by itself ->
// the report opened in headless Chromium. Each task is one case; a new task in tasks/ with a
// shipped spec joins the matrix by itself. Each case has its own worker, lake copy and
// registry. The cases run one after another: run side by side in one process, 2 of 8 runs
// had a version judged or trained on data read wrong (see the closing note of issue 20), and
// until that is found a test that expects a promotion should not add to the odds.
import { chromium, type Browser } from 'playwright-core';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Paths } from '../core/config.js';
import { openDuckDB, parquetSource, queryRows, quoteLiteral } from '../core/duckdb.js';
import type { DriftReport, MonitorModelResult } from '../core/monitoring.js';
import { openRegistry } from '../storage/registry.js';
import { loadAllSpecs, requestColumns, type ModelSpec } from '../core/spec.js';
import { TRAIN_REASON, type BatchInferenceResult, type TrainModelResult } from '../core/types.js';
import { modelTask, TASK_NAMES, taskKind, type Task } from '../tasks/index.js';
import { retrainWorkflowId } from '../workflows/starts.js';
import { declareVariant, startWorkerHarness, testApi, testPaths, type TestApi, type WorkerHarness, listPartitions, ownDatasetCopy, publishToLake } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Two models trained, a batch of the lake, a monitor with its batch child and a retraining, three tasks at once on two cores. */
const CASE_TIMEOUT_MS = 900_000;

let browser: Browser;
let shots: string;
/** The shipped spec of each task: the matrix's starting point. */
const shipped = new Map<Task, ModelSpec>();

beforeAll(async () => {
  const paths = await testPaths();
  for (const { spec } of await loadAllSpecs(paths)) if (spec && !shipped.has(spec.task)) shipped.set(spec.task, spec);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  shots = process.env.SCREENSHOT_DIR ?? (await mkdtemp(path.join(tmpdir(), 'mlops-matrix-')));
});

afterAll(async () => {
  await browser?.close();
});

/** One task's stack: its own lake copy, registry, worker (own task queue) and in-process API. */
interface Stack {
  readonly paths: Paths;
  readonly harness: WorkerHarness;
  readonly api: TestApi;
  readonly model: string;
  readonly dataset: string;
  readonly partitionKey: string;
}

async function stackFor(task: Task): Promise<Stack> {
  const base = shipped.get(task);
  if (!base) throw new Error(`no shipped spec declares a ${task} model: the matrix needs one to start from`);
  const paths = await testPaths();
  const { name: dataset, partitionKey } = base.dataset;
  // A lake of its own: this case releases a week into it.
  await ownDatasetCopy(paths, dataset);
  const model = `matrix_${task}`;
  const loss = taskKind(task).loss;
  await declareVariant(paths, base.name, model, (spec) => {
    spec.split = { trainPartitions: 2, validationPartitions: 1, holdoutPartitions: 1 };
    spec.trainer.params = { ...spec.trainer.params, numIterations: 15, numLeaves: 15, earlyStoppingRounds: 0 };
    delete spec.trainer.tuning;
    // A gate these small models pass for certain: better than the naive model on the task's loss.
    spec.gate = { metric: loss, mustBeatBaseline: true };
    spec.monitoring = { windowPartitions: 1, performance: { metric: loss, maxDegradation: 0.02 } };
  });
  const harness = await startWorkerHarness(`matrix-${task}`, paths);
  const settings = { address: harness.address, namespace: 'default', taskQueue: harness.taskQueue, uiUrl: 'http://localhost:8233' };
  const api = await testApi(paths, async () => harness.client, settings);
  return { paths, harness, api, model, dataset, partitionKey };
}

async function post<T>(s: Stack, route: string, body: unknown): Promise<{ status: number; body: T }> {
  const res = await s.api.call(route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

/** Start a run through the API, wait for it, and check GET /workflows/:id reports it completed with the same result. */
async function run<R>(s: Stack, route: string, body: Record<string, unknown>): Promise<{ workflowId: string; result: R }> {
  const started = await post<{ workflowId: string; runId: string }>(s, route, body);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  const result = (await s.harness.client.workflow.getHandle(started.body.workflowId, started.body.runId).result()) as R;
  const status = (await (await s.api.call(`/workflows/${started.body.workflowId}?runId=${started.body.runId}`)).json()) as { status: string; result: unknown };
  expect(status.status).toBe('COMPLETED');
  expect(status.result).toEqual(JSON.parse(JSON.stringify(result)));
  return { workflowId: started.body.workflowId, result };
}

/** Raw request fields of two real rows of the lake's newest partition. */
async function realRows(s: Stack, spec: ModelSpec): Promise<Record<string, string>[]> {
  const newest = (await listPartitions(s.paths, s.dataset, s.partitionKey)).at(-1)!;
  const db = await openDuckDB();
  try {
    const columns = requestColumns(spec).map((c) => `CAST("${c.name}" AS VARCHAR) AS "${c.name}"`);
    return (await queryRows(db.connection, `SELECT ${columns.join(', ')} FROM (${parquetSource(newest.files)}) LIMIT 2 OFFSET 500`)) as Record<string, string>[];
  } finally {
    db.close();
  }
}

/**
 * The week after the newest, made from its rows: every flight 80% farther, leaving at 19:00, a
 * quarter of them from an airport nobody saw ('XXX'), and 20 minutes later than it was.
 */
async function releaseDriftedWeek(s: Stack): Promise<string> {
  const newest = (await listPartitions(s.paths, s.dataset, s.partitionKey)).at(-1)!;
  const week = new Date(Date.parse(`${newest.value}T00:00:00Z`) + 7 * 86_400_000).toISOString().slice(0, 10);
  const local = path.join(await mkdtemp(path.join(tmpdir(), 'mlops-week-')), 'data_0.parquet');
  const db = await openDuckDB();
  try {
    await db.connection.run(
      `COPY (SELECT date_trunc('day', date) + INTERVAL 7 DAY + INTERVAL 19 HOUR AS date, delay + 20 AS delay, round(distance * 1.8)::BIGINT AS distance, ` +
        `CASE WHEN hash(date, destination) % 4 = 0 THEN 'XXX' ELSE origin END AS origin, destination ` +
        `FROM read_parquet([${newest.files.map(quoteLiteral).join(', ')}])) TO ${quoteLiteral(local)} (FORMAT parquet)`,
    );
  } finally {
    db.close();
  }
  await publishToLake(s.paths, s.dataset, `${s.partitionKey}=${week}`, [{ name: 'data_0.parquet', local }]);
  return week;
}

describe('every workflow for every task', () => {
  for (const task of TASK_NAMES) {
    it(
      `${task}: train, promote, refuse, predict, batch, monitor, retrain, report`,
      async () => {
        const s = await stackFor(task);
        try {
          const registry = openRegistry(s.paths);
          const spec = (await loadAllSpecs(s.paths)).find((x) => x.name === s.model)!.spec!;
          const shape = modelTask({ task, classes: spec.label.classes, decisionThreshold: spec.decisionThreshold });

          // 1. Train and promote: the gate passes.
          const first = await run<TrainModelResult>(s, '/workflows/train', { model: s.model, reason: 'matrix' });
          expect(first.result.version).toBe(1);
          expect(first.result.promoted, JSON.stringify(first.result.promotion.gate)).toBe(true);
          expect(first.result.holdout.task).toBe(task);
          expect(first.result.promotion.gate.checks.map((c) => c.name)).toContain('beats the naive baseline');

          // 2. A gate the next version cannot pass: it is registered, refused, and the champion stays.
          await declareVariant(s.paths, s.model, s.model, (x) => {
            x.gate.champion = { margin: 1 };
          });
          const second = await run<TrainModelResult>(s, '/workflows/train', { model: s.model, reason: 'matrix' });
          expect(second.result.version).toBe(2);
          expect(second.result.promotion.outcome).toBe('failed-gate');
          expect(second.result.promotion.gate.checks.find((c) => !c.passed)?.name).toContain("beats the champion's");
          expect((await registry.getAlias(s.model, 'champion'))?.version).toBe(1);

          // 3. GET and POST /predict from the champion, answered in the task's shape, the same both ways.
          const rows = await realRows(s, spec);
          const one = await s.api.call(`/predict?${new URLSearchParams({ model: s.model, ...rows[0]! })}`);
          expect(one.status).toBe(200);
          expect(one.headers.get('x-model-version')).toBe('1');
          const single = (await one.json()) as Record<string, unknown>;
          const shapeKeys = Object.keys(shape.answer(new Float32Array(shape.width).fill(0.5), 0)).sort();
          // A model with feature views also says which snapshot each view came from and how each row's value was served.
          const viewKeys = spec.features.views.length ? ['snapshots', 'views'] : [];
          expect(Object.keys(single).filter((k) => !['model', 'version', 'task', 'labelColumn', 'features', ...viewKeys].includes(k)).sort()).toEqual(shapeKeys);
          if (viewKeys.length) expect((single.snapshots as unknown[]).length).toBe(spec.features.views.length);
          expect(single).toMatchObject({ model: s.model, version: 1, task });
          const many = await post<{ predictions: Record<string, unknown>[] }>(s, '/predict', { model: s.model, rows });
          expect(many.status).toBe(200);
          expect(many.body.predictions).toHaveLength(2);
          const { model: _m, version: _v, task: _t, labelColumn: _l, snapshots: _s, ...answer } = single;
          expect(many.body.predictions[0]).toEqual(answer);

          // 4. Batch "new": every lake partition, every row once.
          const lake = await listPartitions(s.paths, s.dataset, s.partitionKey);
          const batch = await run<BatchInferenceResult>(s, '/workflows/batch', { model: s.model, partitions: 'new' });
          expect(batch.result.version).toBe(1);
          expect(batch.result.partitions.map((p) => p.partition).sort()).toEqual(lake.map((p) => p.value));
          expect(batch.result.rowsOut).toBe(batch.result.rowsIn);

          // 5. A drifted week arrives with its labels: the monitor sees feature drift, prediction
          //    drift and decay, writes the report, and starts a retraining by itself.
          const week = await releaseDriftedWeek(s);
          const monitored = await run<MonitorModelResult>(s, '/workflows/monitor', { model: s.model, window: { partitions: [week] } });
          const { summary, retrain } = monitored.result;
          expect(summary.driftedFeatures).toEqual(expect.arrayContaining(['distance', 'origin', 'hour']));
          expect(summary.predictionDrift).toBe(true);
          expect(summary.decay).toBe(true);
          expect(retrain.started?.workflowId).toBe(retrainWorkflowId(s.model));
          const report = JSON.parse(await readFile(path.join(monitored.result.report, 'report.json'), 'utf8')) as DriftReport;
          const windowPoint = report.performance.overTime.find((p) => p.partition === week)!;
          expect(windowPoint.role).toBe('window');
          const expected = [...Object.keys(taskKind(task).metrics), ...(taskKind(task).calibrated ? ['calibrationError'] : [])];
          for (const metric of expected) {
            expect(windowPoint.metrics[metric], `${metric} on ${week}`).toEqual(expect.any(Number));
            // Every labelled partition has it: the metric over time, reference weeks included.
            expect(report.performance.overTime.every((p) => typeof p.metrics[metric] === 'number')).toBe(true);
          }
          expect(report.performance.overTime.length).toBeGreaterThanOrEqual(4);
          expect(report.labels?.verdict).toBe('drift');
          expect([report.prediction, ...(report.predictionDetails ?? [])].map((o) => o.name)).toEqual(shape.monitoredOutputs.map((o) => o.name));

          // 6. The report, opened from its file in Chromium: charts drawn, every metric over time listed, nothing fetched.
          const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
          try {
            const file = path.join(monitored.result.report, 'report.html');
            const requests: string[] = [];
            const errors: string[] = [];
            page.on('request', (r) => requests.push(r.url()));
            page.on('pageerror', (e) => errors.push(e.message));
            await page.goto(`file://${file}`);
            expect(await page.locator('svg').count()).toBeGreaterThanOrEqual(report.features.length + shape.monitoredOutputs.length + 1);
            const header = await page.locator('table.narrow thead').last().innerText();
            for (const metric of expected) expect(header).toContain(metric.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`));
            await page.screenshot({ path: path.join(shots, `report-${task}.png`), fullPage: true });
            expect(requests).toEqual([`file://${file}`]);
            expect(errors).toEqual([]);
          } finally {
            await page.close();
          }

          // 7. The retraining the monitor started runs to its end, its reason on the run.
          const retraining = s.harness.client.workflow.getHandle(retrain.started!.workflowId, retrain.started!.runId);
          expect((await retraining.describe()).typedSearchAttributes.get(TRAIN_REASON)).toMatch(/^(drift|decay)$/);
          const retrained = (await retraining.result()) as TrainModelResult;
          expect(retrained.version).toBe(3);
          expect((await registry.readCard(s.model, 3)).lineage.dataset.holdoutPartitions).toEqual([week]);
        } finally {
          s.api.close();
          await s.harness.close();
        }
      },
      CASE_TIMEOUT_MS,
    );
  }
});
