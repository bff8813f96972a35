// Feature views end to end on the real dev server, lake, DuckDB and onnxruntime:
// - parity: a past week replayed. With the online store materialized as of the start of the
//   week (MaterializeFeaturesWorkflow), /predict's features and probabilities for every flight
//   of that week equal the batch scoring of the same rows (BatchInferenceWorkflow), value for
//   value, and every answer names the snapshot it joined;
// - a snapshot is published whole or not at all: a worker killed mid-materialization leaves
//   the previous current snapshot (or none), and its retry publishes one complete snapshot;
// - a newer snapshot is picked up by the API without a restart, and /readyz and /metrics show
//   each view's snapshot and its staleness.
import { Client, Connection } from '@temporalio/client';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Paths } from '../core/config.js';
import { openDuckDB, queryRows, quoteLiteral } from '../core/duckdb.js';
import { loadSpec } from '../core/spec.js';
import type { BatchInferenceInput, BatchInferenceResult, MaterializedView, MaterializeInput } from '../core/types.js';
import { openFeatureStore, viewDefinition } from '../storage/feature-store.js';
import { openPredictions } from '../storage/predictions.js';
import { declareVariant, listPartitions, pathsEnv, registerChampion, spawnEntry, stopProcess, testApi, testPaths, TEST_TOKENS, type TestApi } from './helpers.js';

const MODEL = 'delay_views';
let paths: Paths;
let connection: Connection;
let client: Client;
let worker: ChildProcess | undefined;
let api: TestApi;
const taskQueue = `test-views-${process.pid}`;
let weeks: { value: string; files: string[] }[];

const startWorker = (): ChildProcess =>
  spawnEntry('worker/main.ts', { ...pathsEnv(paths), TEMPORAL_ADDRESS: inject('temporalAddress'), MLOPS_TASK_QUEUE: taskQueue, MLOPS_SCHEDULES: 'off', LOG_LEVEL: 'WARN' });

/** flight_delay with its two views at a week's grain (whatever flight_delay declares): a store materialized at a week's start serves every flight of that week. */
function weeklyViews(spec: Record<string, unknown>): void {
  const features = spec.features as Record<string, unknown>;
  const view = (name: string, entity: string, sql: string) => ({
    name,
    sql,
    knownAt: 'views/flights_known_at.sql',
    entity: [entity],
    window: '1 week',
    grain: 'week',
    maxAge: '8 days',
    values: { [`${entity}_delay_rate`]: null },
  });
  features.time = 'departure';
  // The base spec's own views are replaced: the columns they fed go with them.
  const replaced = ((features.views ?? []) as { values: Record<string, unknown> }[]).flatMap((v) => Object.keys(v.values));
  features.columns = (features.columns as { name: string }[]).filter((c) => !replaced.includes(c.name));
  features.views = [view('origin_week', 'origin', 'views/delay_rate_by_origin.sql'), view('destination_week', 'destination', 'views/delay_rate_by_destination.sql')];
  const fed = ['origin_delay_rate', 'destination_delay_rate'];
  features.columns = [...(features.columns as { name: string }[]).filter((c) => !fed.includes(c.name)), ...fed.map((name) => ({ name, kind: 'numeric' }))];
}

async function run<I, O>(workflow: string, input: I, workflowId: string): Promise<O> {
  const handle = await client.workflow.start<(i: I) => Promise<O>>(workflow, { taskQueue, workflowId, args: [input] });
  return handle.result();
}

beforeAll(async () => {
  paths = await testPaths();
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
  await declareVariant(paths, 'flight_delay', MODEL, weeklyViews);
  weeks = await listPartitions(paths, 'flights', 'week');
  await registerChampion(paths, MODEL, { numIterations: 40, numLeaves: 31, earlyStoppingRounds: 0 });
  worker = startWorker();
  api = await testApi(paths, async () => client, { address: inject('temporalAddress'), namespace: 'default', taskQueue, uiUrl: 'http://127.0.0.1:8233' });
});

afterAll(async () => {
  api?.close();
  if (worker) await stopProcess(worker);
  await connection?.close();
});

async function readyViews(): Promise<{ view: string; asOf: string | null; stale: boolean }[]> {
  const body = (await (await api.call('/readyz')).json()) as { models: { model: string; views?: { view: string; asOf: string | null; stale: boolean }[] }[] };
  return body.models.find((m) => m.model === MODEL)?.views ?? [];
}

/** Wait until the API serves snapshots as of `asOf` for every view. */
async function servedAsOf(asOf: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await readyViews()).every((v) => v.asOf === asOf)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the API did not pick up the snapshots as of ${asOf}: ${JSON.stringify(await readyViews())}`);
}

describe('feature views online and offline', () => {
  it('replays a week: /predict with the store as of its start equals batch scoring, value for value', async () => {
    const week = weeks[2]!.value; // two weeks of history before it
    const asOf = `${week} 00:00:00`;
    const batch = await run<BatchInferenceInput, BatchInferenceResult>('BatchInferenceWorkflow', { model: MODEL, partitions: [week] }, `views-batch-${week}-${Date.now()}`);
    expect(batch.rowsOut).toBe(batch.rowsIn);
    // Before any materialization every entity gets the default, and the answer says so.
    const before = (await (await api.call(`/predict?model=${MODEL}&date=${week}T08:00&distance=700&origin=ORD&destination=LGA`, {}, TEST_TOKENS.predict)).json()) as Record<string, unknown>;
    expect(before.snapshots).toEqual([
      { view: 'origin_week', asOf: null, snapshot: null, materializedAt: null },
      { view: 'destination_week', asOf: null, snapshot: null, materializedAt: null },
    ]);
    expect(before.views).toEqual({ origin_week: { missing: true, stale: false }, destination_week: { missing: true, stale: false } });

    const views = await run<MaterializeInput, MaterializedView[]>('MaterializeFeaturesWorkflow', { model: MODEL, asOf }, `views-materialize-${Date.now()}`);
    expect(views.map((v) => [v.view, v.asOf, v.moved])).toEqual([
      ['origin_week', asOf, true],
      ['destination_week', asOf, true],
    ]);
    expect(views.every((v) => v.entities > 50)).toBe(true);
    await servedAsOf(asOf);

    const db = await openDuckDB();
    let rows: Record<string, unknown>[];
    try {
      const file = await openPredictions(paths).localFile(MODEL, 'week', week, batch.version);
      rows = await queryRows(
        db.connection,
        `SELECT strftime(date, '%Y-%m-%dT%H:%M:%S') AS date, distance, origin, destination, features, probability FROM read_parquet(${quoteLiteral(file)}) ORDER BY source_file, source_row`,
      );
    } finally {
      db.close();
    }
    expect(rows.length).toBe(batch.rowsIn);
    let compared = 0;
    let missing = 0;
    for (let start = 0; start < rows.length; start += 1000) {
      const chunk = rows.slice(start, start + 1000);
      const res = await api.call(
        '/predict',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, rows: chunk.map(({ date, distance, origin, destination }) => ({ date, distance: Number(distance), origin, destination })) }) },
        TEST_TOKENS.predict,
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as { snapshots: { view: string; asOf: string }[]; predictions: { probability: number; features: Record<string, unknown>; views: Record<string, { missing: boolean; stale: boolean }> }[] };
      expect(body.snapshots.map((s) => [s.view, s.asOf])).toEqual([
        ['origin_week', asOf],
        ['destination_week', asOf],
      ]);
      body.predictions.forEach((p, i) => {
        const batchRow = chunk[i]!;
        const batchFeatures = batchRow.features as Record<string, number | string | null>;
        for (const [name, value] of Object.entries(batchFeatures)) {
          // Batch stores a missing number as NULL; the answer shows it as null too.
          expect([name, p.features[name]]).toEqual([name, typeof value === 'number' && Number.isNaN(value) ? null : value]);
        }
        expect(p.probability).toBe(Math.fround(batchRow.probability as number));
        expect(p.views.origin_week!.stale).toBe(false);
        if (p.views.origin_week!.missing) {
          missing++;
          expect(p.features.origin_delay_rate).toBeNull();
        }
        compared++;
      });
    }
    expect(compared).toBe(rows.length);
    expect(missing).toBeLessThan(rows.length * 0.01);
  });

  it('publishes a snapshot whole or not at all when the worker dies mid-materialization', async () => {
    const loaded = await loadSpec(paths, MODEL);
    const view = loaded.spec.features.views[0]!;
    const store = openFeatureStore(paths);
    const definition = viewDefinition(view, loaded.viewTexts.get(view.name)!);
    const previous = await store.current(view.name, definition);
    const asOf = `${weeks[3]!.value} 00:00:00`;
    const handle = await client.workflow.start('MaterializeFeaturesWorkflow', { taskQueue, workflowId: `views-kill-${Date.now()}`, args: [{ model: MODEL, asOf }] });
    // Kill the worker as soon as the activity has started.
    for (let i = 0; i < 500; i++) {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      if (pending.some((a) => a.activityType?.name === 'materializeFeatures' && a.lastStartedTime)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    worker!.kill('SIGKILL');
    await new Promise((r) => worker!.once('exit', r));
    const afterKill = await store.current(view.name, definition);
    // Either nothing moved, or what is current is complete.
    if (afterKill && afterKill.record.key !== previous?.record.key) await expectComplete(afterKill.record.key, afterKill.record.entities);
    worker = startWorker();
    const views = (await handle.result()) as MaterializedView[];
    expect(views.map((v) => v.asOf)).toEqual([asOf, asOf]);
    const now = (await store.current(view.name, definition))!;
    expect(now.record.asOf).toBe(asOf);
    await expectComplete(now.record.key, now.record.entities);
    await servedAsOf(asOf);
  });

  it('shows each view’s snapshot and staleness in /readyz and /metrics', async () => {
    const views = await readyViews();
    expect(views.map((v) => v.view)).toEqual(['origin_week', 'destination_week']);
    expect(views.every((v) => v.stale === false)).toBe(true);
    const metrics = await (await api.call('/metrics')).text();
    expect(metrics).toMatch(new RegExp(`mlops_feature_snapshot_stale\\{model="${MODEL}",view="origin_week"\\} 0`));
    expect(metrics).toMatch(new RegExp(`mlops_feature_snapshot_age_seconds\\{model="${MODEL}",view="origin_week"\\} \\d`));
    expect(metrics).toMatch(new RegExp(`mlops_feature_view_rows_total\\{model="${MODEL}",view="origin_week",outcome="missing"\\} \\d`));
  });

  it('materializes, by default, as of the newest instant the lake is complete up to, not a late landing after it', async () => {
    // The lake's last week ends on a Sunday night; a few of its flights land on Monday. The default
    // instant is the start of the grain holding the newest departure, where every view counts a
    // whole window: not Monday's, which would see only those late landings.
    const db = await openDuckDB();
    let newest: string;
    try {
      const [row] = await queryRows(db.connection, `SELECT strftime(date_trunc('week', max(date)), '%Y-%m-%d %H:%M:%S') AS t FROM read_parquet([${weeks.flatMap((w) => w.files).map(quoteLiteral).join(', ')}])`);
      newest = String(row!.t);
    } finally {
      db.close();
    }
    const views = await run<MaterializeInput, MaterializedView[]>('MaterializeFeaturesWorkflow', { model: MODEL }, `views-default-${Date.now()}`);
    expect(views.map((v) => v.asOf)).toEqual([newest, newest]);
    for (const v of views) expect(v.entities, v.view).toBeGreaterThan(100); // the week's airports, not a handful
    await servedAsOf(newest);
  });
});

/** A snapshot object exists and holds as many entities as its record says. */
async function expectComplete(key: string, entities: number): Promise<void> {
  const local = await openFeatureStore(paths).store.localFile(key);
  expect(local).toBeDefined();
  const db = await openDuckDB();
  try {
    const [row] = await queryRows(db.connection, `SELECT count(*)::BIGINT AS n FROM read_parquet(${quoteLiteral(local!)})`);
    expect(Number(row!.n)).toBe(entities);
  } finally {
    db.close();
  }
}
