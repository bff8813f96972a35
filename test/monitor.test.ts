// MonitorModelWorkflow and the schedules on the real dev server, lake, DuckDB and onnxruntime:
// a week released with injected drift starts a retraining by itself (reason on the run), a
// second look while it trains does not start another, a tiny window gets no verdict, and the
// schedules are made from the specs once, then updated, never duplicated.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Paths } from '../core/config.js';
import { openDuckDB, quoteLiteral, type OpenDuckDB } from '../core/duckdb.js';
import type { DriftReport, MonitorModelInput, MonitorModelResult } from '../core/monitoring.js';
import { openRegistry } from '../storage/registry.js';
import { openReports } from '../storage/reports.js';
import { ensureSchedules, listSchedules } from '../runs/schedules.js';
import { loadSpec } from '../core/spec.js';
import { TRAIN_REASON, type TrainModelResult } from '../core/types.js';
import { retrainWorkflowId } from '../workflows/starts.js';
import { declareVariant, registerChampion, startWorkerHarness, testPaths, type WorkerHarness, listPartitions, ownDatasetCopy, publishToLake } from './helpers.js';

const MODEL = 'flight_delay';
const DRIFTED_WEEK = '2001-02-12';
const TINY_WEEK = '2001-02-19';
let paths: Paths;
let harness: WorkerHarness;

/**
 * A lake of its own: the run's real weeks copied, plus a week made from a real one that flies
 * 80% farther, a quarter of its flights leaving from an airport the reference never saw ('XXX').
 */
async function lakeWithArrivals(p: Paths): Promise<void> {
  await ownDatasetCopy(p, 'flights');
  const source = (await listPartitions(p, 'flights', 'week')).at(-2)!.files[0]!;
  const db = await openDuckDB();
  try {
    await writeWeek(db, source, DRIFTED_WEEK, `date + INTERVAL 14 DAY AS date, delay, round(distance * 1.8)::BIGINT AS distance, CASE WHEN hash(date, destination) % 4 = 0 THEN 'XXX' ELSE origin END AS origin, destination`);
  } finally {
    db.close();
  }
}

/** A week made from a real one's rows, released into the lake. */
async function writeWeek(db: OpenDuckDB, source: string, week: string, select: string, limit = ''): Promise<void> {
  const local = path.join(await mkdtemp(path.join(tmpdir(), 'mlops-week-')), 'data_0.parquet');
  await db.connection.run(`COPY (SELECT ${select} FROM read_parquet(${quoteLiteral(source)})${limit}) TO ${quoteLiteral(local)} (FORMAT parquet)`);
  await publishToLake(paths, 'flights', `week=${week}`, [{ name: 'data_0.parquet', local }]);
}

beforeAll(async () => {
  paths = await testPaths();
  await lakeWithArrivals(paths);
  // A retraining that finishes in seconds: the test watches it start, run and register.
  await declareVariant(paths, MODEL, MODEL, (spec) => {
    spec.trainer.params.numIterations = 20;
    spec.trainer.params.earlyStoppingRounds = 0;
  });
  await registerChampion(paths, MODEL, { numIterations: 30 });
  harness = await startWorkerHarness('monitor', paths);
});

afterAll(async () => {
  await harness?.close();
});

function monitor(input: MonitorModelInput, id: string): Promise<MonitorModelResult> {
  return harness.client.workflow.execute<(i: MonitorModelInput) => Promise<MonitorModelResult>>('MonitorModelWorkflow', {
    taskQueue: harness.taskQueue,
    workflowId: `${id}-${process.pid}`,
    args: [input],
  });
}

async function readReport(result: MonitorModelResult): Promise<{ json: DriftReport; html: string }> {
  return {
    json: JSON.parse((await openReports(paths).read(result.model, result.reportId, 'report.json'))!) as DriftReport,
    html: (await openReports(paths).read(result.model, result.reportId, 'report.html'))!,
  };
}

describe('MonitorModelWorkflow', () => {
  it('sees the drift of a newly released week and starts the retraining by itself, once', async () => {
    const result = await monitor({ model: MODEL, window: { partitions: [DRIFTED_WEEK] }, reason: 'test' }, 'monitor-drift');
    // The champion had scored nothing yet: its reference and the window were batch-scored first.
    expect(result.batchWorkflowId).not.toBeNull();
    expect(result.summary.driftedFeatures).toEqual(expect.arrayContaining(['distance', 'origin']));
    expect(result.retrain.wanted).toBe(true);
    expect(result.retrain.started?.workflowId).toBe(retrainWorkflowId(MODEL));

    const { json, html } = await readReport(result);
    const distance = json.features.find((f) => f.name === 'distance')!;
    const origin = json.features.find((f) => f.name === 'origin')!;
    expect(distance).toMatchObject({ kind: 'numeric', verdict: 'drift' });
    expect(origin.kind === 'categorical' && origin.newCategories[0]?.value).toBe('XXX');
    expect(json.features.find((f) => f.name === 'day_of_week')?.verdict).toBe('ok');
    expect(json.reference.partitions).toEqual([(await listPartitions(paths, 'flights', 'week'))[0]!.value]);
    expect(html.match(/<svg/g)!.length).toBeGreaterThanOrEqual(json.features.length + 2);
    expect(html).not.toMatch(/<script|<link|src=/);
    expect(Buffer.byteLength(html)).toBeLessThan(300_000);

    // The retraining carries its reason: search attribute, memo pointing at the report.
    const training = harness.client.workflow.getHandle(result.retrain.started!.workflowId, result.retrain.started!.runId);
    const described = await training.describe();
    expect(described.typedSearchAttributes.get(TRAIN_REASON)).toBe('drift');
    expect(await described.memo).toMatchObject({ trigger: { report: `/reports/${MODEL}/${result.reportId}`, window: [DRIFTED_WEEK] } });

    // Looking again while it trains does not start a second one.
    expect(described.status.name).toBe('RUNNING');
    const again = await monitor({ model: MODEL, window: { partitions: [DRIFTED_WEEK] } }, 'monitor-again');
    expect(again.retrain.wanted).toBe(true);
    expect(again.retrain.started).toBeUndefined();
    expect(again.retrain.skipped).toContain('already running');
    const trained = (await training.result()) as TrainModelResult;
    expect(trained.version).toBe(2);
    expect((await openRegistry(paths).readCard(MODEL, 2)).lineage.workflowId).toBe(retrainWorkflowId(MODEL));
  });

  it('gives no verdict and starts nothing on a window too small to judge', async () => {
    // Released only now: a 200-row week also breaks the data contract any training checks.
    const db = await openDuckDB();
    try {
      const source = (await listPartitions(paths, 'flights', 'week')).at(-2)!.files[0]!;
      await writeWeek(db, source, TINY_WEEK, 'date + INTERVAL 14 DAY AS date, delay, distance, origin, destination', ' LIMIT 200');
    } finally {
      db.close();
    }
    const result = await monitor({ model: MODEL, window: { partitions: [TINY_WEEK] } }, 'monitor-tiny');
    expect(result.summary.verdict).toBe('insufficient-data');
    expect(result.retrain).toEqual({ wanted: false, reasons: [] });
    const { json } = await readReport(result);
    // Every feature computed from the row has its 200 values; a view's value is missing where the
    // airport had no landing in the hours before (the tiny week has little history), so fewer.
    const fromViews = new Set((await loadSpec(paths, MODEL)).spec.features.views.flatMap((v) => v.values.map((c) => c.name)));
    for (const f of json.features) {
      expect(f.verdict, f.name).toBe('insufficient-data');
      const inWindow = Number(/(\d+) in the window/.exec(f.reasons[0]!)?.[1]);
      if (fromViews.has(f.name)) expect(inWindow, f.name).toBeLessThanOrEqual(200);
      else expect(inWindow, f.name).toBe(200);
    }
  });
});

describe('schedules', () => {
  it('are created from the specs once, then updated in place, and removed when a spec drops one', async () => {
    const spec = (await loadSpec(paths, MODEL)).spec;
    const settings = { address: harness.address, namespace: 'default', taskQueue: harness.taskQueue, uiUrl: 'http://localhost:8233' };
    const ours = async () => (await listSchedules(harness.client, settings, [spec])).filter((s) => s.model === MODEL);
    const first = await ensureSchedules(harness.client, [spec], harness.taskQueue);
    expect(first.created).toEqual([`train-weekly-${MODEL}`, `batch-weekly-${MODEL}`, `monitor-weekly-${MODEL}`, `materialize-${MODEL}`]);
    const second = await ensureSchedules(harness.client, [spec], harness.taskQueue);
    expect(second).toEqual({ created: [], updated: first.created, deleted: [] });
    const listed = await ours();
    expect(listed.map((s) => [s.id, s.workflowType, s.cron, s.when[0]])).toEqual([
      [`batch-weekly-${MODEL}`, 'BatchInferenceWorkflow', '0 4 * * MON', 'MONDAY at 04:00'],
      [`materialize-${MODEL}`, 'MaterializeFeaturesWorkflow', '5 * * * *', 'every day, every hour at :05'],
      [`monitor-weekly-${MODEL}`, 'MonitorModelWorkflow', '0 5 * * MON', 'MONDAY at 05:00'],
      [`train-weekly-${MODEL}`, 'TrainModelWorkflow', '0 2 * * MON', 'MONDAY at 02:00'],
    ]);
    expect(new Date(listed[0]!.nextRuns[0]!).getUTCDay()).toBe(1);

    const withoutBatch = { ...spec, schedules: { ...spec.schedules, batch: null } };
    const third = await ensureSchedules(harness.client, [withoutBatch], harness.taskQueue);
    expect(third.deleted).toEqual([`batch-weekly-${MODEL}`]);
    expect((await ours()).map((s) => s.id)).toEqual([`materialize-${MODEL}`, `monitor-weekly-${MODEL}`, `train-weekly-${MODEL}`]);
    await ensureSchedules(harness.client, [], harness.taskQueue); // leave the shared server clean
  });
});
