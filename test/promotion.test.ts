// EvaluateAndPromoteWorkflow and rollback on the real Temporal dev server, through the API:
// approve, reject, expire, roll back, fail the gate, refuse a corrupt model. The alias log is
// checked after every step: it must tell exactly what happened, and agree with the aliases.
import type { Client } from '@temporalio/client';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Paths } from '../core/config.js';
import { openDuckDB, parquetSource, queryRows } from '../core/duckdb.js';
import type { EvaluateAndPromoteResult, PromotionStatus } from '../core/promotion.js';
import { Registry, type AliasLogEntry, type ModelCard, openRegistry } from '../storage/registry.js';
import type { TrainModelResult } from '../core/types.js';
import { declareVariant, startWorkerHarness, testApi, type TestApi, type WorkerHarness, listPartitions } from './helpers.js';

const MODEL = 'flight_delay_promo';
let harness: WorkerHarness;
let paths: Paths;
let client: Client;
let api: TestApi;
let registry: Registry;
let flight: Record<string, string>;

/** The shipped spec with few rounds, approval required with `timeoutSeconds`, and `gate` changes. */
async function declare(timeoutSeconds: number, gate: Record<string, unknown> = {}): Promise<void> {
  await declareVariant(paths, 'flight_delay', MODEL, (spec) => {
    spec.trainer.params.numIterations = 20;
    spec.approval = { required: true, timeoutSeconds };
    Object.assign(spec.gate, gate);
  });
}

beforeAll(async () => {
  harness = await startWorkerHarness('promote');
  ({ paths, client } = harness);
  registry = openRegistry(paths);
  api = await testApi(paths, async () => client, { address: harness.address, namespace: 'default', taskQueue: harness.taskQueue, uiUrl: 'http://localhost:8233' });
  const week = (await listPartitions(paths, 'flights', 'week')).at(-1)!;
  const db = await openDuckDB();
  try {
    const [row] = await queryRows(db.connection, `SELECT date::VARCHAR AS date, distance::VARCHAR AS distance, origin, destination FROM (${parquetSource(week.files)}) LIMIT 1`);
    flight = row as Record<string, string>;
  } finally {
    db.close();
  }
});

afterAll(async () => {
  api?.close();
  await harness?.close();
});

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- response JSON read freely
  const res = await api.call(url, body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** Poll the running promotion's `status` query until it waits for a person. */
async function awaitingApproval(version: number): Promise<PromotionStatus> {
  for (let i = 0; i < 600; i++) {
    const { body } = await call('GET', `/models/${MODEL}/promotion`);
    const status = body.status as PromotionStatus | null;
    if (status?.stage === 'awaiting-approval' && status.version === version) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`v${version} never waited for approval`);
}

/** The log as [alias, version, action, actor] rows, and the check that it agrees with the alias files. */
async function log(): Promise<[string, number | null, string, string][]> {
  const { body } = await call('GET', `/models/${MODEL}/aliases/history`);
  const entries = body.entries as AliasLogEntry[];
  for (const alias of ['champion', 'challenger']) {
    const last = entries.filter((e) => e.alias === alias).at(-1);
    expect((await registry.getAlias(MODEL, alias))?.version ?? null).toBe(last?.version ?? null);
  }
  return entries.map((e) => [e.alias, e.version, e.action, e.actor]);
}

async function evaluate(version: number): Promise<{ workflowId: string; runId: string; status: string; result: () => Promise<EvaluateAndPromoteResult> }> {
  const res = await call('POST', '/workflows/evaluate', { model: MODEL, version, actor: 'tester' });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return { workflowId: res.body.workflowId, runId: res.body.runId, status: res.body.status, result: () => client.workflow.getHandle(res.body.workflowId).result() };
}

describe('EvaluateAndPromoteWorkflow', () => {
  it('promotes on approval, rejects, expires, rolls back and fails the gate, logging every move', async () => {
    await declare(600);
    // 1. Train v1: the child evaluates it and waits for a person; nothing serves yet.
    const trainStart = await call('POST', '/workflows/train', { model: MODEL });
    expect(trainStart.status).toBe(202);
    const waiting = await awaitingApproval(1);
    expect(waiting.champion).toBeNull();
    expect(waiting.gate?.checks.map((c) => c.name)).toEqual([
      'auc >= 0.6',
      'beats the naive baseline',
      'auc within 0.005 of the champion',
      'calibration error <= 0.05',
      'one-row p99 latency <= 5 ms',
    ]);
    expect(waiting.approval?.approve).toBe(`POST /models/${MODEL}/versions/1/approve`);
    expect((await registry.getAlias(MODEL, 'challenger'))?.version).toBe(1);
    expect((await call('GET', `/predict?${new URLSearchParams({ model: MODEL, ...flight })}`)).status).toBe(503);

    const missing = await call('POST', `/models/${MODEL}/versions/1/approve`, { actor: 'alice' });
    expect(missing.status).toBe(400);
    expect(missing.body.error.fields).toEqual([{ field: 'reason', problem: 'is required: why, recorded in the alias log' }]);
    const approved = await call('POST', `/models/${MODEL}/versions/1/approve`, { actor: 'alice', reason: 'holdout looks right' });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.result.outcome).toBe('promoted');
    const trained = (await client.workflow.getHandle(trainStart.body.workflowId).result()) as TrainModelResult;
    expect(trained.promoted).toBe(true);
    expect(trained.promotion.outcome).toBe('promoted');
    expect(await log()).toEqual([
      ['challenger', 1, 'await-approval', 'test-admin'],
      ['challenger', null, 'clear', 'alice'],
      ['champion', 1, 'promote', 'alice'],
    ]);
    const served = await call('GET', `/predict?${new URLSearchParams({ model: MODEL, ...flight })}`);
    expect(served.status).toBe(200);
    expect(served.body.version).toBe(1);

    const card = (await call('GET', `/models/${MODEL}/versions/1`)).body as ModelCard;
    const evaluation = card.evaluations!.at(-1)!;
    expect(evaluation.outcome).toBe('promoted');
    expect(evaluation.decision).toMatchObject({ actor: 'alice', reason: 'holdout looks right', approve: true });
    expect(evaluation.report.baseline.task).toBe('binary');
    expect(evaluation.report.candidate.latency.runs).toBe(1000);
    expect(evaluation.report.candidate.calibrationError).toBeGreaterThan(0);

    // 2. Train v2 (same data and seed: the same scores as v1), and reject it.
    const second = await call('POST', '/workflows/train', { model: MODEL });
    const waiting2 = await awaitingApproval(2);
    expect(waiting2.champion).toBe(1);
    expect(waiting2.gate?.checks.find((c) => c.name.includes('champion'))?.detail).toMatch(/vs .* for champion v1 \(better by 0\.0000\)/);
    const wrongVersion = await call('POST', `/models/${MODEL}/versions/1/approve`, { actor: 'bob', reason: 'x' });
    expect(wrongVersion.status).toBe(409);
    expect(wrongVersion.body.error.message).toContain('waiting for v2, not v1');
    const concurrent = await call('POST', '/workflows/evaluate', { model: MODEL, version: 1 });
    expect(concurrent.status).toBe(409);
    expect(concurrent.body.error.message).toContain('v2 is waiting for approval until');
    const rejected = await call('POST', `/models/${MODEL}/versions/2/reject`, { actor: 'bob', reason: 'same as v1' });
    expect(rejected.body.result.outcome).toBe('rejected');
    expect(((await client.workflow.getHandle(second.body.workflowId).result()) as TrainModelResult).promoted).toBe(false);
    expect((await log()).slice(3)).toEqual([
      ['challenger', 2, 'await-approval', 'test-admin'],
      ['challenger', null, 'clear', 'bob'],
    ]);

    // 3. A deadline passes without a decision: expired, champion unchanged.
    await declare(2);
    const expiring = await evaluate(2);
    const expired = await expiring.result();
    expect(expired.outcome).toBe('expired');
    expect(expired.champion).toBe(1);
    expect((await log()).slice(5)).toEqual([
      ['challenger', 2, 'await-approval', 'tester'],
      ['challenger', null, 'clear', 'EvaluateAndPromoteWorkflow'],
    ]);
    const history = (await call('GET', `/models/${MODEL}/aliases/history`)).body.entries as AliasLogEntry[];
    expect(history.at(-1)?.reason).toMatch(/no decision by .*: expired/);
    expect(history.at(-1)?.workflowId).toBe(expiring.workflowId);

    // 4. Approved on a second look, then rolled back; a second rollback has nowhere to go.
    await declare(600);
    const again = await evaluate(2);
    await awaitingApproval(2);
    await call('POST', `/models/${MODEL}/versions/2/approve`, { actor: 'carol', reason: 'second look' });
    expect((await again.result()).outcome).toBe('promoted');
    const rollback = await call('POST', `/models/${MODEL}/rollback`, { actor: 'dave', reason: 'complaints from ops' });
    expect(rollback.status, JSON.stringify(rollback.body)).toBe(200);
    expect(rollback.body.moved).toMatchObject({ alias: 'champion', version: 1, previousVersion: 2, action: 'rollback', actor: 'dave' });
    expect((await log()).slice(7)).toEqual([
      ['challenger', 2, 'await-approval', 'tester'],
      ['challenger', null, 'clear', 'carol'],
      ['champion', 2, 'promote', 'carol'],
      ['champion', 1, 'rollback', 'dave'],
    ]);
    const nowhere = await call('POST', `/models/${MODEL}/rollback`, { actor: 'dave', reason: 'again' });
    expect(nowhere.status).toBe(409);
    expect(nowhere.body.error.type).toBe('NoPreviousChampionError');

    // 5. A gate the candidate cannot meet: it must beat the champion by 0.05 AUC.
    await declare(600, { champion: { margin: 0.05 } });
    const failed = await (await evaluate(2)).result();
    expect(failed.outcome).toBe('failed-gate');
    const check = failed.gate.checks.find((c) => !c.passed)!;
    expect(check.name).toBe("beats the champion's auc by 0.05");
    expect(check.detail).toContain('for champion v1');
    expect(await log()).toHaveLength(11); // no move

    // 6. Cancelled while waiting: the challenger is taken back and the card says so.
    await declare(600);
    const cancelled = await evaluate(2);
    await awaitingApproval(2);
    await client.workflow.getHandle(cancelled.workflowId).cancel();
    await expect(cancelled.result()).rejects.toThrow();
    // The id is the model's promotion id, reused by every run: a start answer's status link
    // names its own run, so the expired evaluation of step 3 can still be read.
    expect(expiring.workflowId).toBe(cancelled.workflowId);
    expect((await call('GET', `/workflows/${cancelled.workflowId}`)).body.runId).toBe(cancelled.runId);
    const earlier = (await call('GET', expiring.status)).body;
    expect(earlier).toMatchObject({ runId: expiring.runId, status: 'COMPLETED', result: { version: 2, outcome: 'expired' } });
    expect((await call('GET', `/workflows/${cancelled.workflowId}?runId=not-a-run`)).status).toBe(400);
    expect((await call('GET', `/workflows/${cancelled.workflowId}?run=${expiring.runId}`)).body.error.fields).toEqual([{ field: 'run', problem: 'is not a field of this request' }]);
    const noRun = await call('GET', `/workflows/${cancelled.workflowId}?runId=00000000-0000-4000-8000-000000000000`);
    expect(noRun.status).toBe(404);
    expect(noRun.body.error.message).toBe(`workflow '${cancelled.workflowId}' has no run '00000000-0000-4000-8000-000000000000'`);
    expect((await log()).slice(11)).toEqual([
      ['challenger', 2, 'await-approval', 'tester'],
      ['challenger', null, 'clear', 'EvaluateAndPromoteWorkflow'],
    ]);
    expect((await registry.readCard(MODEL, 2)).evaluations!.at(-1)!.outcome).toBe('cancelled');

    // The registry API shows it all.
    const model = (await call('GET', `/models/${MODEL}`)).body;
    expect(model.aliases.champion.version).toBe(1);
    expect(model.aliases.challenger).toBeNull();
    expect(model.versions.map((v: { lastEvaluation: { outcome: string } }) => v.lastEvaluation.outcome)).toEqual(['promoted', 'cancelled']);
    expect(model.versions[0].lineage.holdoutPartitions).toHaveLength(1);
    const list = (await call('GET', '/models')).body.models as { name: string; champion: number; versions: number }[];
    expect(list.find((m) => m.name === MODEL)).toMatchObject({ champion: 1, versions: 2 });
  }, 300_000);

  it('refuses a corrupt model file: the promotion fails naming it, and champion keeps serving', async () => {
    await declare(600);
    // v3: a copy of v2 whose model file is then damaged on disk.
    const v2 = await registry.readCard(MODEL, 2);
    const { version: _v, createdAt: _c, evaluations: _e, onnx, ...draft } = v2;
    const v3 = await registry.register(MODEL, await readFile(await registry.modelFile(MODEL, 2)), {
      ...draft,
      onnx: { parity: onnx.parity },
      lineage: { ...draft.lineage, runId: 'corrupt-copy' },
    });
    const file = await registry.modelFile(MODEL, v3.version);
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, bytes.length >> 1));

    const { workflowId, result } = await evaluate(v3.version);
    await expect(result()).rejects.toThrow();
    const status = (await call('GET', `/workflows/${workflowId}`)).body;
    expect(status.status).toBe('FAILED');
    expect(status.failure.type).toBe('CorruptModelError');
    expect(status.failure.message).toContain(file);
    expect(status.failure.message).toContain('the file changed after registration');
    expect((await registry.getAlias(MODEL, 'champion'))?.version).toBe(1);
    const served = await call('GET', `/predict?${new URLSearchParams({ model: MODEL, ...flight })}`);
    expect(served.body.version).toBe(1);

    // Even moved there by hand, the API never switches to it, and /readyz says why.
    await registry.moveAlias(MODEL, 'champion', v3.version, { action: 'promote', actor: 'by hand', reason: 'test' });
    type Readiness = { model: string; champion: number; serving: number; loadError?: string };
    let mine: Readiness | undefined;
    for (let i = 0; i < 100 && !mine?.loadError; i++) {
      expect((await call('GET', `/predict?${new URLSearchParams({ model: MODEL, ...flight })}`)).body.version).toBe(1);
      const ready = await call('GET', '/readyz');
      expect(ready.status).toBe(200);
      mine = (ready.body.models as Readiness[]).find((m) => m.model === MODEL);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(mine).toMatchObject({ champion: v3.version, serving: 1 });
    expect(mine?.loadError).toMatch(/^v3: /);
  }, 120_000);
});
