// The API through app.request(), as api/main.ts builds it (real predictor, DuckDB, onnxruntime,
// models): input errors name their fields, unknown models are 404, no champion is 503, a
// champion whose file is corrupt is never switched to; micro-batches answer every request as
// one at a time would; POST /predict; the request id; metrics; the documentation.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Paths } from '../core/config.js';
import { TemporalUnavailableError } from '../core/errors.js';
import { openRegistry } from '../storage/registry.js';
import { parseDataset } from '../core/dataset.js';
import flights from '../datasets/flights.json' with { type: 'json' };
import flightDelay from '../models/flight_delay.json' with { type: 'json' };
import { parseFlightsSpec } from './specs.js';
import { cardDraft, declareVariant, registerChampion, testApi, testPaths, trainOnFirstWeek, TEST_TOKENS, type TestApi } from './helpers.js';

let paths: Paths;
let api: TestApi;
let onnx: Uint8Array;
const flight = { date: '2001-02-05 17:45', distance: '1846', origin: 'ORD', destination: 'LAX' };
const temporal = { address: '127.0.0.1:1', namespace: 'default', taskQueue: 'unused', uiUrl: 'http://localhost:8233' };

beforeAll(async () => {
  paths = await testPaths();
  ({ onnx } = await trainOnFirstWeek(paths, 'flight_delay', { numIterations: 5 }));
  // As api/main.ts reports a Temporal server it cannot connect to.
  api = await testApi(paths, async () => {
    throw new TemporalUnavailableError('127.0.0.1:1', 'connection refused');
  }, temporal);
});

afterAll(() => api?.close());

type Body = { error?: { type: string; message: string; fields?: { field: string; problem: string }[]; requestId?: string } } & Record<string, unknown>;

async function get(url: string, token: string | null = TEST_TOKENS.predict) {
  const res = await api.call(url, {}, token);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Body };
}

async function post(url: string, body: string, token: string | null = TEST_TOKENS.admin) {
  const res = await api.call(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } }, token);
  return { status: res.status, body: (await res.json()) as Body };
}

/** GET `url` until the answer comes from `version` (a new champion is swapped in the background). */
async function servedBy(version: number, url: string) {
  for (let i = 0; ; i++) {
    const res = await get(url);
    if (res.body.version === version || i === 100) return res;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const predictUrl = (fields: Record<string, string>, model = 'flight_delay') => `/predict?${new URLSearchParams({ model, ...fields })}`;

describe('API', () => {
  it('answers 503 while no version is promoted, naming how to train one', async () => {
    const { status, body } = await get(predictUrl(flight));
    expect(status).toBe(503);
    expect(body.error?.type).toBe('NoChampionError');
    expect(body.error?.message).toContain('POST /workflows/train');
  });

  it('answers 404 for an unknown model and 400 for names that try to leave the models folder', async () => {
    expect((await get(predictUrl(flight, 'no_such_model'))).status).toBe(404);
    for (const model of ['../models/flight_delay', 'flight_delay.json', '%2e%2e', 'FLIGHT', '']) {
      const { status, body } = await get(predictUrl(flight, model));
      expect(status, model).toBe(400);
      expect(body.error?.fields?.[0]?.field).toBe('model');
    }
    expect((await get('/models/..%2Fregistry')).status).toBe(400);
  });

  it('answers 400 naming every bad field, and a repeated one', async () => {
    const { status, body } = await get('/predict?model=flight_delay&date=2001-02-30&distance=far&origin=&colour=red');
    expect(status).toBe(400);
    expect(body.error?.fields?.map((f) => f.field).sort()).toEqual(['colour', 'date', 'destination', 'distance', 'origin']);
    const noModel = await get('/predict?date=2001-02-01');
    expect(noModel.status).toBe(400);
    expect(noModel.body.error?.fields?.[0]?.field).toBe('model');
    const twice = await get(`${predictUrl(flight)}&origin=SFO`);
    expect(twice.body.error?.fields).toEqual([{ field: 'origin', problem: 'must be given once' }]);
  });

  it("holds request values to the spec's columns: a time of day, min and max, pattern", async () => {
    const problem = async (fields: Record<string, string>) => (await get(predictUrl({ ...flight, ...fields }))).body.error?.fields;
    expect(await problem({ date: '2001-03-19' })).toEqual([{ field: 'date', problem: 'needs a time of day: a date-time like 2001-06-12T08:30' }]);
    expect(await problem({ distance: '-5' })).toEqual([{ field: 'distance', problem: 'must be at least 1' }]);
    expect(await problem({ distance: '20000' })).toEqual([{ field: 'distance', problem: 'must be at most 10000' }]);
    expect(await problem({ origin: 'ord', destination: 'LAXX' })).toEqual([
      { field: 'origin', problem: 'must match ^[A-Z]{3}$' },
      { field: 'destination', problem: 'must match ^[A-Z]{3}$' },
    ]);
    const rows = await post('/predict', JSON.stringify({ model: 'flight_delay', rows: [flight, { ...flight, distance: -5 }] }), TEST_TOKENS.predict);
    expect(rows.status).toBe(400);
    expect(JSON.stringify(rows.body.error?.fields)).toContain('must be at least 1');
    // Midnight said outright passes validation (no champion yet at this point: 503, not 400).
    expect((await get(predictUrl({ ...flight, date: '2001-03-19T00:00' }))).status).toBe(503);
  });

  it('reads column constraints from a spec, naming the field it rejects', () => {
    const withColumn = (i: number, extra: Record<string, unknown>) => () =>
      parseDataset({ ...flights, columns: flights.columns.map((c, k) => (k === i ? { ...c, ...extra } : c)) }, 'x.json');
    expect(withColumn(3, { min: 0 })).toThrow(/columns\[3\]\.min: applies to numeric columns only, not VARCHAR/);
    expect(withColumn(2, { pattern: '^[0-9]+$' })).toThrow(/columns\[2\]\.pattern: applies to VARCHAR columns only/);
    expect(withColumn(3, { pattern: '^[A-Z' })).toThrow(/columns\[3\]\.pattern: is not a regular expression/);
    expect(withColumn(2, { min: 10, max: 5 })).toThrow(/columns\[2\]\.min: must not be above max \(5\)/);
    expect(parseFlightsSpec(flightDelay, 'flight_delay.json').dataset.columns[2]).toMatchObject({ name: 'distance', min: 1, max: 10000 });
  });

  it('validates POST /workflows/train before reaching Temporal', async () => {
    expect((await post('/workflows/train', 'not json')).status).toBe(400);
    expect((await post('/workflows/train', '{}')).body.error?.fields).toEqual([{ field: 'model', problem: 'is required' }]);
    expect((await post('/workflows/train', '{"model":"flight_delay","colour":"red"}')).body.error?.fields?.[0]?.field).toBe('colour');
    expect((await post('/workflows/train', '{"model":"nope"}')).status).toBe(404);
    // Partitions the lake does not have: 404 naming the first, before any run (or Temporal) is reached.
    for (const [route, body] of [
      ['/workflows/batch', { model: 'flight_delay', partitions: ['2001-01-01', '2001-13-01'] }],
      ['/workflows/monitor', { model: 'flight_delay', window: { partitions: ['2001-13-01'] } }],
    ] as const) {
      const missing = await post(route, JSON.stringify(body));
      expect(missing.status, route).toBe(404);
      expect(missing.body.error?.type).toBe('UnknownPartitionError');
      expect(missing.body.error?.message).toContain("dataset 'flights' has no partition 'week=2001-13-01' (it has ");
    }
    const big = await post('/workflows/train', JSON.stringify({ model: 'x'.repeat(300_000) }));
    expect(big.status).toBe(413);
    expect(big.body.error?.type).toBe('PayloadTooLargeError');
  });

  it('answers 503 naming Temporal when it cannot be reached, while predictions stay up', async () => {
    const started = await post('/workflows/train', '{"model":"flight_delay"}');
    expect(started.status).toBe(503);
    const status = await get('/workflows/train-flight_delay-x');
    expect(status.status).toBe(503);
    expect(status.body.error?.message).toContain('Temporal is not reachable');
    const ready = await get('/readyz', null);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ ready: false, temporal: { reachable: false, address: '127.0.0.1:1' } });
  });

  it('serves the champion, and keeps serving it when a newer champion file is corrupt', async () => {
    const registry = openRegistry(paths);
    const v1 = await registry.register('flight_delay', onnx, cardDraft('flight_delay', 'good'));
    await registry.moveAlias('flight_delay', 'champion', v1.version, { action: 'promote', actor: 'test', reason: 'good model' });
    const first = await get(predictUrl(flight));
    expect(first.status).toBe(200);
    expect(first.body.version).toBe(1);
    expect(first.headers.get('x-model-version')).toBe('1');
    expect(first.body.features).toMatchObject({ hour: '17', day_of_week: '1', origin: 'ORD', destination: 'LAX' });

    const v2 = await registry.register('flight_delay', onnx, cardDraft('flight_delay', 'corrupt'));
    await writeFile(await registry.modelFile('flight_delay', v2.version), 'this is not an ONNX model');
    await registry.moveAlias('flight_delay', 'champion', v2.version, { action: 'promote', actor: 'test', reason: 'corrupt model' });
    await new Promise((r) => setTimeout(r, 250)); // past the alias re-read interval
    for (let i = 0; i < 5; i++) {
      const res = await get(predictUrl(flight));
      expect(res.status).toBe(200);
      expect(res.body.version).toBe(1);
    }
    await registry.moveAlias('flight_delay', 'champion', v1.version, { action: 'rollback', actor: 'test', reason: 'back to the good one' });
  });

  it('answers concurrent requests in shared micro-batches exactly as one at a time, and a bad one alone fails', async () => {
    const flights = Array.from({ length: 48 }, (_, i) => ({ ...flight, date: `2001-02-0${1 + (i % 7)} ${String(i % 24).padStart(2, '0')}:15`, distance: String(200 + 37 * i) }));
    const alone = [];
    for (const f of flights) alone.push((await get(predictUrl(f))).body);
    const before = await api.metrics.batchSize.get();
    const together = await Promise.all([...flights.map((f) => get(predictUrl(f))), get(predictUrl({ ...flight, distance: 'far' }))]);
    const after = await api.metrics.batchSize.get();
    expect(together.at(-1)!.status).toBe(400);
    expect(together.slice(0, -1).map((r) => r.body)).toEqual(alone);
    // Fewer batches than requests: they were gathered.
    const batches = (m: typeof before) => m.values.find((v) => v.metricName === 'mlops_predict_batch_rows_count')?.value ?? 0;
    expect(batches(after) - batches(before)).toBeLessThan(flights.length);

    // POST /predict: many rows in one request, the same answers, in order.
    const rows = await post('/predict', JSON.stringify({ model: 'flight_delay', rows: flights.map((f) => ({ ...f, distance: Number(f.distance) })) }), TEST_TOKENS.predict);
    expect(rows.status).toBe(200);
    expect(rows.body.predictions).toEqual(alone.map(({ model: _m, version: _v, task: _t, labelColumn: _l, snapshots: _s, ...row }) => row));
    expect(rows.body.snapshots).toEqual(alone[0]!.snapshots);
    const tooMany = await post('/predict', JSON.stringify({ model: 'flight_delay', rows: new Array(1001).fill(flight) }), TEST_TOKENS.predict);
    expect(tooMany.body.error?.fields).toEqual([{ field: 'rows', problem: 'must hold at most 1000 rows' }]);
    const stray = await post('/predict', JSON.stringify({ model: 'flight_delay', rows: [flight, { ...flight, colour: 'red' }] }), TEST_TOKENS.predict);
    expect(stray.body.error?.fields?.map((f) => f.field)).toEqual(['rows.1.colour']);
  });

  it('answers the same from its own thread and a new scoring thread after the scoring thread dies', async () => {
    const flights = Array.from({ length: 12 }, (_, i) => ({ ...flight, distance: 300 + 91 * i }));
    const many = () => post('/predict', JSON.stringify({ model: 'flight_delay', rows: flights }), TEST_TOKENS.predict);
    const before = { one: await get(predictUrl(flight)), many: await many() }; // 1 row here, 12 in the thread
    // Fault injection: the scoring thread ends as a crash would end it.
    const threads = (api.predictor as unknown as { threads: Worker[] }).threads;
    const dead = threads[0]!;
    await dead.terminate();
    for (let i = 0; i < 100 && threads[0] === dead; i++) await new Promise((r) => setTimeout(r, 20));
    expect(threads[0]).not.toBe(dead);
    const after = { one: await get(predictUrl(flight)), many: await many() };
    expect([after.one.status, after.many.status]).toEqual([200, 200]);
    expect(after.one.body).toEqual(before.one.body);
    expect(after.many.body.predictions).toEqual(before.many.body.predictions);
  });

  it('tags every answer with a request id, reused from the caller when it sends a sane one', async () => {
    const res = await api.call('/predict?model=flight_delay', { headers: { 'x-request-id': 'trace-42' } }, TEST_TOKENS.predict);
    expect(res.headers.get('x-request-id')).toBe('trace-42');
    expect(((await res.json()) as Body).error?.requestId).toBe('trace-42');
    const fresh = await api.call('/healthz', {}, null);
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('counts requests by route and status, and predictions by model and version, in /metrics', async () => {
    const text = await (await api.call('/metrics', {}, null)).text();
    expect(text).toMatch(/mlops_http_requests_total\{route="\/predict",method="GET",status="200"\} \d+/);
    expect(text).toMatch(/mlops_http_requests_total\{route="\/predict",method="GET",status="400"\} \d+/);
    expect(text).toMatch(/mlops_predictions_total\{model="flight_delay",version="1"\} \d+/);
    expect(text).toMatch(/mlops_http_request_duration_seconds_bucket\{le="0\.005",route="\/predict",method="GET"\} \d+/);
    expect(text).toContain('mlops_predict_batch_rows_bucket');
    expect(text).toContain('mlops_api_nodejs_eventloop_lag_seconds');
  });

  it('documents every route in /openapi.json, and a request built from its examples succeeds', async () => {
    const doc = (await (await api.call('/openapi.json', {}, null)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { parameters?: { name: string; in: string; example?: string; schema?: { example?: string } }[]; security?: unknown[] }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    for (const route of ['/predict', '/models/{name}', '/workflows/train', '/workflows/batch', '/workflows/monitor', '/reports/{name}/{id}', '/schedules', '/readyz', '/metrics']) {
      expect(doc.paths[route], route).toBeDefined();
    }
    const params = doc.paths['/predict']!.get!.parameters!;
    const query = new URLSearchParams(params.map((p): [string, string] => [p.name, String(p.example ?? p.schema?.example)]));
    expect([...query.keys()].sort()).toEqual(['date', 'destination', 'distance', 'explain', 'model', 'origin']);
    const res = await get(`/predict?${query}`);
    expect(res.status).toBe(200);
    expect(res.body.features).toMatchObject({ origin: 'ORD', destination: 'LAX', distance: 1846 });
    expect(doc.paths['/workflows/train']!.post!.security).toEqual([{ bearer: [] }]);

    const page = await (await api.call('/docs', {}, null)).text();
    expect(page).toContain('/docs/assets/swagger-ui-bundle.js');
    expect(page).not.toMatch(/https?:\/\//);
    const asset = await api.call('/docs/assets/swagger-ui-bundle.js', {}, null);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toContain('javascript');
    expect((await api.call('/docs/assets/package.json', {}, null)).status).toBe(404);
    const slash = await api.call('/docs/', {}, null);
    expect([slash.status, slash.headers.get('location')]).toEqual([301, '/docs']);
  });

  it('registers a real champion through the test helper that the API serves', async () => {
    const { version } = await registerChampion(paths, 'flight_delay_class', { numIterations: 3 });
    const res = await get(predictUrl(flight, 'flight_delay_class'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ version, task: 'multiclass' });
  });

  it('lists a spec that does not load in GET /models with its error, and names the spec when its SQL lacks a feature', async () => {
    await declareVariant(paths, 'flight_delay', 'typo_spec', (spec) => {
      spec.gate.latency.p99ms = 5;
    });
    await declareVariant(paths, 'flight_delay', 'lost_feature', (spec) => {
      spec.features.columns.push({ name: 'no_such_feature', kind: 'numeric' });
    });
    try {
      const { status, body } = await get('/models');
      expect(status).toBe(200);
      const models = body.models as { name: string; error?: string; task?: string }[];
      expect(models.find((m) => m.name === 'typo_spec')?.error).toMatch(/^models\/typo_spec\.json: gate\.latency\.p99ms: is not a field/);
      expect(models.find((m) => m.name === 'flight_delay')).toMatchObject({ task: 'binary' });
      expect(models.find((m) => m.name === 'flight_delay')?.error).toBeUndefined();

      const res = await get(predictUrl(flight, 'lost_feature'));
      expect(res.status).toBe(422);
      expect(res.body.error?.type).toBe('InvalidSpecError');
      expect(res.body.error?.message).toMatch(/^models\/lost_feature\.json: features: the feature SQL \(features\/flights\.sql\) does not prepare.*no_such_feature/s);
    } finally {
      await rm(path.join(paths.modelsDir, 'typo_spec.json'));
      await rm(path.join(paths.modelsDir, 'lost_feature.json'));
    }
  });

  it('explains a prediction when asked: expected + contributions = the raw score the answer came from, per class for multiclass', async () => {
    // flight_delay's champion (v1) was registered without its trees: explanations are refused with why, predictions go on.
    const old = await get(`${predictUrl(flight)}&explain=true`);
    expect(old.status).toBe(409);
    expect(old.body.error?.type).toBe('ExplanationUnavailableError');
    expect(old.body.error?.message).toMatch(/'flight_delay' v1 was registered without its trees/);
    const bad = await get(`${predictUrl(flight)}&explain=yes`);
    expect(bad.status).toBe(400);
    expect(bad.body.error?.fields).toEqual([{ field: 'explain', problem: 'must be true or false (got "yes")' }]);

    const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
    const { version } = await registerChampion(paths, 'flight_delay', { numIterations: 20 });
    const plain = await servedBy(version, predictUrl(flight));
    expect(plain.body.version).toBe(version);
    expect(plain.body.explanation).toBeUndefined();
    const explained = await get(`${predictUrl(flight)}&explain=true`);
    expect(explained.status).toBe(200);
    expect(explained.body.probability).toBe(plain.body.probability);
    type Explained = { link: string; expected: number; raw: number; contributions: { feature: string; value: unknown; contribution: number }[] };
    const e = explained.body.explanation as Explained;
    expect(e.link).toBe('logit');
    expect(e.contributions.map((c) => c.feature).sort()).toEqual(Object.keys(explained.body.features as object).filter((f) => f !== 'departure').sort());
    for (const c of e.contributions) expect(c.value).toEqual((explained.body.features as Record<string, unknown>)[c.feature]);
    expect(Math.abs(e.contributions.reduce((s, c) => s + c.contribution, e.expected) - e.raw)).toBeLessThan(1e-9);
    expect(Math.abs(sigmoid(e.raw) - (explained.body.probability as number))).toBeLessThan(1e-6);
    const sizes = e.contributions.map((c) => Math.abs(c.contribution));
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));

    // POST, multiclass: per class, and softmax(raw) is the answer's probabilities.
    const multiclass = await registerChampion(paths, 'flight_delay_class', { numIterations: 10 });
    await servedBy(multiclass.version, predictUrl(flight, 'flight_delay_class'));
    const rows = [flight, { ...flight, origin: 'ATL', date: '2001-02-07 08:10' }];
    const res = await post('/predict?explain=true', JSON.stringify({ model: 'flight_delay_class', rows }), TEST_TOKENS.predict);
    expect(res.status).toBe(200);
    const answers = res.body.predictions as { probabilities: Record<string, number>; explanation: { link: string; expected: Record<string, number>; raw: Record<string, number>; contributions: { contribution: Record<string, number> }[] } }[];
    expect(answers).toHaveLength(2);
    for (const a of answers) {
      expect(a.explanation.link).toBe('softmax');
      const classes = Object.keys(a.probabilities);
      expect(Object.keys(a.explanation.raw).sort()).toEqual([...classes].sort());
      const total = classes.reduce((s, k) => s + Math.exp(a.explanation.raw[k]!), 0);
      for (const k of classes) {
        expect(Math.abs(a.explanation.contributions.reduce((s, c) => s + c.contribution[k]!, a.explanation.expected[k]!) - a.explanation.raw[k]!)).toBeLessThan(1e-9);
        expect(Math.abs(Math.exp(a.explanation.raw[k]!) / total - a.probabilities[k]!)).toBeLessThan(1e-6);
      }
    }
  });
});
