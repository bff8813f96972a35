// api/server.ts answers GET /predict on node:http, ahead of Hono. Whatever it is asked, it must
// answer exactly as the Hono route does (status, body, headers), count the request in /metrics
// and log it the same way, and leave every other request to Hono.
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../api/log.js';
import { startApiServer } from '../api/server.js';
import { TemporalUnavailableError } from '../core/errors.js';
import { registerChampion, testApi, testAuth, testPaths, TEST_TOKENS, type TestApi } from './helpers.js';

const temporal = { address: '127.0.0.1:1', namespace: 'default', taskQueue: 'unused', uiUrl: 'http://localhost:8233' };
const noTemporal = async () => {
  throw new TemporalUnavailableError('127.0.0.1:1', 'connection refused');
};

interface Running {
  readonly api: TestApi;
  readonly server: Server;
  readonly base: string;
  readonly logged: Record<string, unknown>[];
}

async function start(open: boolean): Promise<Running> {
  const paths = await testPaths();
  await registerChampion(paths, 'flight_delay', { numIterations: 5 });
  const logged: Record<string, unknown>[] = [];
  const record = (event: string, fields: Record<string, unknown> = {}) => logged.push({ event, ...fields });
  const log: Logger = { debug: record, info: record, warn: record, error: record };
  const api = await testApi(paths, noTemporal, temporal, { auth: testAuth({ openPredict: open }), log });
  const server = await new Promise<Server>((resolve) => {
    const s = startApiServer(api.app, api.deps, 0, '127.0.0.1', () => resolve(s));
  });
  return { api, server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, logged };
}

let closed: Running;
let open: Running;
beforeAll(async () => {
  [closed, open] = await Promise.all([start(false), start(true)]);
});
afterAll(() => {
  for (const r of [closed, open]) {
    r?.server.close();
    r?.api.close();
  }
});

const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const flight = 'model=flight_delay&date=2001-02-05T17:45&distance=1846&origin=ORD&destination=LAX';

/** [query string, request headers]: good and bad requests of every kind the route answers. */
const CASES: [string, Record<string, string>][] = [
  [flight, auth(TEST_TOKENS.predict)],
  [flight, auth(TEST_TOKENS.admin)],
  [flight.replace('17:45', '17%3A45').replace('ORD', 'O%52D'), auth(TEST_TOKENS.predict)],
  [flight, {}],
  [flight, auth('not-a-token-of-this-api')],
  [flight, { authorization: 'Basic dXNlcjpwYXNz' }],
  [flight.replace('1846', 'far'), auth(TEST_TOKENS.predict)],
  [`${flight}&carrier=AA&note=x`, auth(TEST_TOKENS.predict)],
  [`${flight}&origin=SFO&origin=JFK`, auth(TEST_TOKENS.predict)],
  [`${flight}&constructor=1&__proto__=2&toString=3`, auth(TEST_TOKENS.predict)],
  [flight.replace('&origin=ORD', ''), auth(TEST_TOKENS.predict)],
  [flight.replace('2001-02-05T17:45', '2001-02-30'), auth(TEST_TOKENS.predict)],
  [flight.replace('flight_delay', 'no_such_model'), auth(TEST_TOKENS.predict)],
  [flight.replace('flight_delay', '..%2Fmodels%2Fflight_delay'), auth(TEST_TOKENS.predict)],
  [flight.replace('ORD', "ORD'%3B+DROP+TABLE+x%3B--"), auth(TEST_TOKENS.predict)],
  [flight.replace('ORD', '%E0%A4%A'), auth(TEST_TOKENS.predict)],
  [flight.replace('ORD', '%00'), auth(TEST_TOKENS.predict)],
  ['', auth(TEST_TOKENS.predict)],
  [flight, { ...auth(TEST_TOKENS.predict), 'x-request-id': 'trace-42' }],
  [flight, { ...auth(TEST_TOKENS.predict), 'x-request-id': 'not a sane id!' }],
];

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** An answer with what may differ between two askings taken out: a fresh request id, the transport's own headers. */
async function normalized(res: Response, sentRequestId: string | undefined): Promise<Answer> {
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (!['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(name)) headers[name] = value;
  });
  const text = await res.text();
  const id = headers['x-request-id']!;
  if (sentRequestId === undefined || id !== sentRequestId) expect(id).toMatch(/^[0-9a-f-]{36}$/);
  return { status: res.status, headers: { ...headers, 'x-request-id': sentRequestId === id ? id : 'fresh' }, body: JSON.parse(text.replaceAll(id, sentRequestId === id ? id : 'fresh')) };
}

async function both(r: Running, query: string, headers: Record<string, string>): Promise<{ fast: Answer; hono: Answer }> {
  const path = query ? `/predict?${query}` : '/predict';
  const viaServer = await fetch(`${r.base}${path}`, { headers });
  expect(viaServer.headers.get('content-length')).toBe(String(Buffer.byteLength(await viaServer.clone().text())));
  const fast = await normalized(viaServer, headers['x-request-id']);
  const hono = await normalized(await r.api.app.request(path, { headers }), headers['x-request-id']);
  return { fast, hono };
}

describe('GET /predict ahead of Hono', () => {
  it('answers every kind of request exactly as the Hono route does', async () => {
    const statuses: number[] = [];
    for (const [query, headers] of CASES) {
      const { fast, hono } = await both(closed, query, headers);
      expect(fast, `${query} ${JSON.stringify(headers)}`).toEqual(hono);
      statuses.push(fast.status);
    }
    // The cases reach every answer the route gives: a prediction, 400, 401 and 404.
    expect(new Set(statuses)).toEqual(new Set([200, 400, 401, 404]));
  });

  it('names fields that share a name with an object property as unknown fields', async () => {
    const { fast } = await both(closed, `${flight}&constructor=1&__proto__=2&toString=3`, auth(TEST_TOKENS.predict));
    expect(fast.status).toBe(400);
    const fields = (fast.body as { error: { fields: { field: string; problem: string }[] } }).error.fields;
    expect(fields.map((f) => f.field).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(fields.every((f) => f.problem.startsWith('is not a field of this request'))).toBe(true);
  });

  it('refuses a request with two Authorization lines, as Hono does, instead of picking one', async () => {
    const { port } = closed.server.address() as AddressInfo;
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.end(
          `GET /predict?${flight} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n` +
            `authorization: Bearer ${TEST_TOKENS.predict}\r\nauthorization: Bearer ${TEST_TOKENS.admin}\r\n\r\n`,
        ),
      );
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(raw.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
    const hono = await closed.api.app.request(`/predict?${flight}`, { headers: { authorization: `Bearer ${TEST_TOKENS.predict}, Bearer ${TEST_TOKENS.admin}` } });
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).error.message).toBe(((await hono.json()) as { error: { message: string } }).error.message);
  });

  it('answers without a token when predictions are configured open, and still refuses a wrong one', async () => {
    const cases: [Record<string, string>, number][] = [
      [{}, 200],
      [auth('not-a-token-of-this-api'), 401],
      [auth(TEST_TOKENS.predict), 200],
    ];
    for (const [headers, status] of cases) {
      const { fast, hono } = await both(open, flight, headers);
      expect(fast).toEqual(hono);
      expect(fast.status).toBe(status);
    }
  });

  it('counts and logs what it answers as the Hono middlewares do', async () => {
    const line = (status: number) =>
      new RegExp(`^mlops_http_requests_total\\{route="/predict",method="GET",status="${status}"\\} (\\d+)$`, 'm');
    const count = async (status: number) => Number(line(status).exec(await closed.api.deps.metrics.registry.metrics())?.[1] ?? 0);
    const before = [await count(200), await count(401)];
    closed.logged.length = 0;
    await fetch(`${closed.base}/predict?${flight}`, { headers: { ...auth(TEST_TOKENS.predict), 'x-request-id': 'log-me-1' } });
    await fetch(`${closed.base}/predict?${flight}`, { headers: { 'x-request-id': 'log-me-2' } });
    expect([await count(200), await count(401)]).toEqual([before[0]! + 1, before[1]! + 1]);
    const requests = closed.logged.filter((l) => l.event === 'request');
    expect(requests.map(({ ms, ...rest }) => (expect(typeof ms).toBe('number'), rest))).toEqual([
      { event: 'request', requestId: 'log-me-1', method: 'GET', route: '/predict', status: 200, principal: 'test-predict' },
      { event: 'request', requestId: 'log-me-2', method: 'GET', route: '/predict', status: 401, principal: undefined },
    ]);
  });

  it('leaves every other request to Hono: other methods, other spellings of the path, other routes', async () => {
    const head = await fetch(`${closed.base}/predict?${flight}`, { method: 'HEAD', headers: auth(TEST_TOKENS.predict) });
    expect(head.status).toBe(200);
    const slash = await fetch(`${closed.base}/predict/?${flight}`, { headers: auth(TEST_TOKENS.predict) });
    expect(slash.status).toBe(404);
    expect(((await slash.json()) as { error: { message: string } }).error.message).toContain('(see /docs)');
    const post = await fetch(`${closed.base}/predict`, {
      method: 'POST',
      headers: { ...auth(TEST_TOKENS.predict), 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'flight_delay', rows: [{ date: '2001-02-05T17:45', distance: 1846, origin: 'ORD', destination: 'LAX' }] }),
    });
    expect(post.status).toBe(200);
    expect((await fetch(`${closed.base}/healthz`)).status).toBe(200);
  });
});
