// Zero-downtime swaps under load: the API runs as its own process on loopback; this process
// sends at least 20,000 GET /predict requests (32 at a time, bounded) while champion is moved
// at least 10 times through the real promotion and rollback workflows. No request may fail,
// every answer must name a version that was champion while that request was in flight, and
// once the last move has been picked up every answer must name the last champion.
import type { Client } from '@temporalio/client';
import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Paths } from '../core/config.js';
import { openDuckDB, parquetSource, queryRows } from '../core/duckdb.js';
import type { EvaluateAndPromoteResult } from '../core/promotion.js';
import type { TrainModelInput, TrainModelResult } from '../core/types.js';
import { declareVariant, startApiProcess, startWorkerHarness, stopProcess, TEST_TOKENS, type WorkerHarness, listPartitions } from './helpers.js';

const MODEL = 'flight_delay_swap';
const MIN_REQUESTS = 20_000;
const MIN_MOVES = 10;
const CONCURRENCY = 32;
/** Bounds: the test stops sending after this many requests or seconds whatever happens. */
const MAX_REQUESTS = 400_000;
const MAX_SECONDS = 400;
/** The API re-reads the alias every 200 ms and loads in the background: a move is served well within this. */
const PICKUP_MS = 1_500;

let harness: WorkerHarness;
let paths: Paths;
let client: Client;
let api: ChildProcess | undefined;
let apiUrl: string;

beforeAll(async () => {
  harness = await startWorkerHarness('swap');
  ({ paths, client } = harness);
  ({ proc: api, url: apiUrl } = await startApiProcess(paths, { TEMPORAL_ADDRESS: harness.address, MLOPS_TASK_QUEUE: harness.taskQueue }));
});

afterAll(async () => {
  if (api) await stopProcess(api);
  await harness?.close();
});

/** Three real versions, each a different model (leaf count), the first promoted by its training run. */
async function trainVersions(): Promise<void> {
  for (const [i, numLeaves] of [15, 31, 7].entries()) {
    await declareVariant(paths, 'flight_delay', MODEL, (spec) => {
      spec.trainer.params.numIterations = 20;
      spec.trainer.params.numLeaves = numLeaves;
      // Every version may replace every other: this test is about the swap, not the gate. The
      // latency budget is loose because the load shares the two cores with the measurement.
      spec.gate.champion = { tolerance: 1 };
      spec.gate.latency = { p99Ms: 200 };
    });
    const result = (await client.workflow.execute('TrainModelWorkflow', {
      taskQueue: harness.taskQueue,
      workflowId: `swap-train-${i}-${process.pid}`,
      args: [{ model: MODEL, reason: 'test' } satisfies TrainModelInput],
    })) as TrainModelResult;
    expect(result.version).toBe(i + 1);
    expect(result.promotion.outcome, JSON.stringify(result.promotion.gate)).toBe('promoted');
  }
}

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- response JSON read freely
  const res = await fetch(`${apiUrl}${url}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKENS.admin}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('champion swaps under load', () => {
  it(`serves ${MIN_REQUESTS}+ requests without a failure while champion moves ${MIN_MOVES}+ times`, async () => {
    await trainVersions(); // v1, v2, v3; the third training promoted v3
    const week = (await listPartitions(paths, 'flights', 'week')).at(-1)!;
    const db = await openDuckDB();
    let flights: Record<string, string>[];
    try {
      flights = (await queryRows(
        db.connection,
        `SELECT date::VARCHAR AS date, distance::VARCHAR AS distance, origin, destination FROM (${parquetSource(week.files)}) LIMIT 500`,
      )) as Record<string, string>[];
    } finally {
      db.close();
    }
    const urls = flights.map((f) => `${apiUrl}/predict?${new URLSearchParams({ model: MODEL, ...f })}`);

    const moves: { to: number; startedAt: number; doneAt: number; via: string }[] = [];
    const responses: { start: number; end: number; version: number | null; status: number }[] = [];
    let moving = true;
    const started = performance.now();
    const load = async (lane: number) => {
      for (let i = lane; moving || responses.length < MIN_REQUESTS; i += CONCURRENCY) {
        if (responses.length >= MAX_REQUESTS || performance.now() - started > MAX_SECONDS * 1000) break;
        const start = performance.now();
        let status = 0;
        let version: number | null = null;
        try {
          const res = await fetch(urls[i % urls.length]!, { headers: { authorization: `Bearer ${TEST_TOKENS.predict}` } });
          status = res.status;
          version = ((await res.json()) as { version?: number }).version ?? null;
        } catch {
          status = -1; // connection-level failure
        }
        responses.push({ start, end: performance.now(), version, status });
      }
    };
    const lanes = Array.from({ length: CONCURRENCY }, (_, lane) => load(lane));

    // Promotions of the other versions and rollbacks, alternating, each through its workflow.
    const plan: ({ evaluate: number } | 'rollback')[] = [
      { evaluate: 1 }, { evaluate: 2 }, 'rollback', 'rollback', { evaluate: 2 }, { evaluate: 1 },
      'rollback', { evaluate: 3 }, { evaluate: 1 }, 'rollback', { evaluate: 2 },
    ];
    for (const step of plan) {
      const startedAt = performance.now();
      if (step === 'rollback') {
        const res = await post(`/models/${MODEL}/rollback`, { actor: 'load-test', reason: 'swap under load' });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        moves.push({ to: res.body.moved.version, startedAt, doneAt: performance.now(), via: 'rollback' });
      } else {
        const res = await post('/workflows/evaluate', { model: MODEL, version: step.evaluate, actor: 'load-test' });
        expect(res.status, JSON.stringify(res.body)).toBe(202);
        const result = (await client.workflow.getHandle(res.body.workflowId).result()) as EvaluateAndPromoteResult;
        expect(result.outcome, JSON.stringify(result.gate)).toBe('promoted');
        moves.push({ to: step.evaluate, startedAt, doneAt: performance.now(), via: 'evaluate' });
      }
    }
    const last = moves.at(-1)!;
    // Keep the load on past the pick-up window of the last move, then stop.
    while (performance.now() < last.doneAt + PICKUP_MS + 2_000 || responses.length < MIN_REQUESTS) {
      await new Promise((r) => setTimeout(r, 100));
      if (performance.now() - started > MAX_SECONDS * 1000) break;
    }
    moving = false;
    await Promise.all(lanes);
    const seconds = (performance.now() - started) / 1000;

    const failed = responses.filter((r) => r.status !== 200);
    const latencies = responses.map((r) => r.end - r.start).sort((a, b) => a - b);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
    const afterLast = responses.filter((r) => r.start > last.doneAt);
    const firstNew = afterLast.find((r) => r.version === last.to);
    const lastOld = afterLast.filter((r) => r.version !== last.to).at(-1);
    const summary = {
      requests: responses.length,
      failed: failed.length,
      seconds: Number(seconds.toFixed(1)),
      requestsPerSecond: Math.round(responses.length / seconds),
      latencyMs: { p50: Number(q(0.5).toFixed(2)), p99: Number(q(0.99).toFixed(2)), max: Number(q(1).toFixed(2)) },
      moves: moves.length,
      versionsServed: [...new Set(responses.map((r) => r.version))].sort(),
      lastChampion: last.to,
      lastMovePickedUpAfterMs: firstNew ? Math.round(firstNew.end - last.doneAt) : null,
      lastOldAnswerAfterMoveMs: lastOld ? Math.round(lastOld.end - last.doneAt) : 0,
    };
    console.log(`SWAP_LOAD ${JSON.stringify(summary)}`);

    expect(failed).toEqual([]);
    expect(responses.length).toBeGreaterThanOrEqual(MIN_REQUESTS);
    expect(moves.length).toBeGreaterThanOrEqual(MIN_MOVES);
    // Each version's reigns: from the start of the move that made it champion to the end of the
    // move that replaced it, plus the API's pick-up time. An answer must come from a version
    // that was champion at some moment while it was in flight.
    const reigns = [{ version: 3, from: 0, to: moves[0]!.doneAt }, ...moves.map((m, i) => ({ version: m.to, from: m.startedAt, to: moves[i + 1]?.doneAt ?? Infinity }))];
    const outOfReign = responses.filter(
      (r) => !reigns.some((g) => g.version === r.version && g.from <= r.end && r.start <= g.to + PICKUP_MS),
    );
    expect(outOfReign.slice(0, 5)).toEqual([]);
    const settled = responses.filter((r) => r.start > last.doneAt + PICKUP_MS);
    expect(settled.length).toBeGreaterThan(0);
    expect(settled.every((r) => r.version === last.to)).toBe(true);
  }, 900_000);
});
