// The API through app.request(): input errors name their fields, unknown models are 404,
// no champion is 503, and a champion whose file is corrupt is never switched to.
import type { Client } from '@temporalio/client';
import { writeFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app.js';
import { Predictor } from '../api/predictor.js';
import type { Paths } from '../core/config.js';
import { TemporalUnavailableError } from '../core/errors.js';
import { Registry } from '../core/registry.js';
import { cardDraft, testPaths, trainOnFirstWeek } from './helpers.js';

let paths: Paths;
let app: ReturnType<typeof createApp>;
let onnx: Uint8Array;
const flight = { date: '2001-02-05 17:45', distance: '1846', origin: 'ORD', destination: 'LAX' };

beforeAll(async () => {
  paths = await testPaths();
  ({ onnx } = await trainOnFirstWeek(paths, 'flight_delay', { numIterations: 5 }));
  // As api/main.ts reports a Temporal server it cannot connect to.
  const unusedTemporal = async (): Promise<Client> => {
    throw new TemporalUnavailableError('127.0.0.1:1', 'connection refused');
  };
  app = createApp({
    paths,
    temporal: { address: '127.0.0.1:1', namespace: 'default', taskQueue: 'unused', uiUrl: 'http://localhost:8233' },
    client: unusedTemporal,
    predictor: await Predictor.create(paths),
  });
});

async function get(url: string) {
  const res = await app.request(url);
  return { status: res.status, body: (await res.json()) as { error?: { type: string; message: string; fields?: { field: string }[] } } & Record<string, unknown> };
}

describe('API', () => {
  it('answers 503 while no version is promoted, naming how to train one', async () => {
    const { status, body } = await get(`/predict?${new URLSearchParams({ model: 'flight_delay', ...flight })}`);
    expect(status).toBe(503);
    expect(body.error?.type).toBe('NoChampionError');
    expect(body.error?.message).toContain('POST /workflows/train');
  });

  it('answers 404 for an unknown model and for names that try to leave the models folder', async () => {
    for (const model of ['no_such_model', '../models/flight_delay', 'flight_delay.json', '%2e%2e']) {
      const { status, body } = await get(`/predict?${new URLSearchParams({ model, ...flight })}`);
      expect(status, model).toBe(404);
      expect(body.error?.type).toBe('UnknownModelError');
    }
  });

  it('answers 400 naming every bad field', async () => {
    const { status, body } = await get('/predict?model=flight_delay&date=2001-02-30&distance=far&origin=&colour=red');
    expect(status).toBe(400);
    expect(body.error?.fields?.map((f) => f.field).sort()).toEqual(['colour', 'date', 'destination', 'distance', 'origin']);
    const noModel = await get('/predict?date=2001-02-01');
    expect(noModel.status).toBe(400);
    expect(noModel.body.error?.fields?.[0]?.field).toBe('model');
  });

  it('validates POST /workflows/train before reaching Temporal', async () => {
    const post = (body: string) => app.request('/workflows/train', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect((await post('not json')).status).toBe(400);
    expect((await post('{}')).status).toBe(400);
    expect((await post('{"model":"flight_delay","colour":"red"}')).status).toBe(400);
    expect((await post('{"model":"nope"}')).status).toBe(404);
    expect((await post('x'.repeat(20_000))).status).toBe(400);
  });

  it('answers 503 naming Temporal when it cannot be reached, while predictions stay up', async () => {
    const started = await app.request('/workflows/train', { method: 'POST', body: '{"model":"flight_delay"}' });
    expect(started.status).toBe(503);
    const status = await get('/workflows/train-flight_delay-x');
    expect(status.status).toBe(503);
    expect(status.body.error?.message).toContain('Temporal is not reachable');
  });

  it('serves the champion, and keeps serving it when a newer champion file is corrupt', async () => {
    const registry = new Registry(paths.registryDir);
    const v1 = await registry.register('flight_delay', onnx, cardDraft('flight_delay', 'good'));
    await registry.moveAlias('flight_delay', 'champion', v1.version, { action: 'promote', actor: 'test', reason: 'good model' });
    const first = await get(`/predict?${new URLSearchParams({ model: 'flight_delay', ...flight })}`);
    expect(first.status).toBe(200);
    expect(first.body.version).toBe(1);
    expect(first.body.features).toMatchObject({ hour: '17', day_of_week: '1', origin: 'ORD', destination: 'LAX', route: 'ORD-LAX' });

    const v2 = await registry.register('flight_delay', onnx, cardDraft('flight_delay', 'corrupt'));
    await writeFile(registry.modelPath('flight_delay', v2.version), 'this is not an ONNX model');
    await registry.moveAlias('flight_delay', 'champion', v2.version, { action: 'promote', actor: 'test', reason: 'corrupt model' });
    await new Promise((r) => setTimeout(r, 250)); // past the alias re-read interval
    for (let i = 0; i < 5; i++) {
      const res = await get(`/predict?${new URLSearchParams({ model: 'flight_delay', ...flight })}`);
      expect(res.status).toBe(200);
      expect(res.body.version).toBe(1);
    }
  });
});
