// The auth matrix: every documented route (and the undocumented docs pages), called with no
// token, a wrong token, a predict token and an admin token. Open routes never ask for one;
// reads need a predict (or admin) token; changes need admin: 401 without a valid token, 403 with
// a valid one that lacks the scope. The scopes the document declares are checked as well.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporalUnavailableError } from '../core/errors.js';
import { testApi, testAuth, testPaths, TEST_TOKENS, type TestApi } from './helpers.js';

/** Routes that change something: admin only. */
const ADMIN = new Set([
  'POST /workflows/train',
  'POST /workflows/evaluate',
  'POST /workflows/batch',
  'POST /workflows/monitor',
  'POST /workflows/materialize',
  'POST /models/{name}/versions/{version}/approve',
  'POST /models/{name}/versions/{version}/reject',
  'POST /models/{name}/rollback',
  'GET /schedules',
  'POST /schedules/{id}/trigger',
  'POST /datasets/{name}/ingest',
]);
/** Routes a load balancer, a scraper or a person's browser calls without a token. */
const OPEN = new Set(['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json', 'GET /docs', 'GET /docs/init.js', 'GET /docs/assets/swagger-ui.css']);

const SAMPLE_PARAMS: Record<string, string> = { name: 'flight_delay', version: '1', id: 'batch-weekly-flight_delay' };
const SAMPLE_BODIES: Record<string, unknown> = {
  '/predict': { model: 'flight_delay', rows: [{ date: '2001-03-19T17:45', distance: 1846, origin: 'ORD', destination: 'LAX' }] },
  '/workflows/train': { model: 'flight_delay' },
  '/workflows/evaluate': { model: 'flight_delay', version: 1 },
  '/workflows/batch': { model: 'flight_delay', partitions: 'new' },
  '/workflows/monitor': { model: 'flight_delay' },
  '/workflows/materialize': { model: 'flight_delay' },
  '/datasets/{name}/ingest': { sources: ['/no/such/file.csv'] },
};

let api: TestApi;
let routes: { method: string; template: string; documentedSecurity: boolean }[];

beforeAll(async () => {
  const paths = await testPaths();
  api = await testApi(paths, async () => {
    throw new TemporalUnavailableError('127.0.0.1:1', 'connection refused');
  }, { address: '127.0.0.1:1', namespace: 'default', taskQueue: 'unused', uiUrl: 'http://localhost:8233' });
  const doc = (await (await api.call('/openapi.json', {}, null)).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
  routes = Object.entries(doc.paths).flatMap(([template, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), template, documentedSecurity: (op.security ?? []).length > 0 })),
  );
  for (const key of OPEN) {
    const [method, template] = key.split(' ') as [string, string];
    if (!routes.some((r) => r.method === method && r.template === template)) routes.push({ method, template, documentedSecurity: false });
  }
});

afterAll(() => api?.close());

function scopeOf(method: string, template: string): 'open' | 'predict' | 'admin' {
  const key = `${method} ${template}`;
  return OPEN.has(key) ? 'open' : ADMIN.has(key) ? 'admin' : 'predict';
}

async function send(method: string, template: string, authorization: string | null, target: TestApi = api): Promise<Response> {
  const path = template.replace(/\{(\w+)\}/g, (_, p: string) => SAMPLE_PARAMS[p] ?? 'x');
  const body = method === 'POST' ? JSON.stringify(SAMPLE_BODIES[template] ?? { actor: 'alice', reason: 'testing the matrix' }) : undefined;
  const headers: Record<string, string> = body ? { 'content-type': 'application/json' } : {};
  if (authorization) headers.authorization = authorization;
  return target.call(path, { method, headers, ...(body ? { body } : {}) }, null);
}

describe('auth matrix', () => {
  it('covers every documented route', () => {
    expect(routes.length).toBeGreaterThanOrEqual(25);
    for (const key of ADMIN) expect(routes.some((r) => `${r.method} ${r.template}` === key), key).toBe(true);
  });

  it('documents the scheme on every route that needs a token, and on none that does not', () => {
    for (const r of routes) expect(r.documentedSecurity, `${r.method} ${r.template}`).toBe(scopeOf(r.method, r.template) !== 'open');
  });

  it('answers no token and a wrong token with 401, a token without the scope with 403, and lets the right one through', async () => {
    const tokens = {
      none: null,
      wrong: 'Bearer not-a-token-anyone-was-given',
      malformed: `Basic ${Buffer.from('admin:admin').toString('base64')}`,
      predict: `Bearer ${TEST_TOKENS.predict}`,
      admin: `Bearer ${TEST_TOKENS.admin}`,
    } as const;
    const table: string[] = [];
    for (const r of routes) {
      const scope = scopeOf(r.method, r.template);
      for (const [who, authorization] of Object.entries(tokens)) {
        const res = await send(r.method, r.template, authorization);
        const label = `${r.method} ${r.template} with ${who}: ${res.status}`;
        table.push(label);
        const denied = res.status === 401 || res.status === 403;
        if (scope === 'open') {
          expect(denied, label).toBe(false);
        } else if (who === 'none' || who === 'wrong' || who === 'malformed') {
          expect(res.status, label).toBe(401);
          expect(res.headers.get('www-authenticate'), label).toContain('Bearer');
          expect(((await res.json()) as { error: { type: string } }).error.type, label).toBe('UnauthenticatedError');
        } else if (who === 'predict' && scope === 'admin') {
          expect(res.status, label).toBe(403);
          expect(((await res.json()) as { error: { message: string } }).error.message, label).toContain("lacks the 'admin' scope");
        } else {
          expect(denied, label).toBe(false);
        }
      }
    }
    expect(table.length).toBe(routes.length * 5);
  });

  it('leaves predictions and reports open when configured, and nothing else', async () => {
    const paths = await testPaths();
    const open = await testApi(paths, async () => {
      throw new TemporalUnavailableError('127.0.0.1:1', 'connection refused');
    }, { address: '127.0.0.1:1', namespace: 'default', taskQueue: 'unused', uiUrl: 'http://localhost:8233' }, { auth: testAuth({ openPredict: true, openReports: true }) });
    try {
      expect((await send('GET', '/predict', null, open)).status).not.toBe(401);
      expect((await send('POST', '/predict', null, open)).status).not.toBe(401);
      expect((await send('GET', '/reports/{name}', null, open)).status).toBe(200);
      // A wrong token is still refused: open means "no token needed", not "any token".
      expect((await send('GET', '/predict', 'Bearer wrong-token-0000000000', open)).status).toBe(401);
      for (const key of ['GET /models', 'GET /workflows/{id}', 'POST /workflows/train', 'GET /schedules']) {
        const [method, template] = key.split(' ') as [string, string];
        expect((await send(method, template, null, open)).status, key).toBe(401);
      }
    } finally {
      open.close();
    }
  });
});

describe('schedule ids', () => {
  it('takes the id of every kind of schedule the worker makes, materialize included, and refuses others naming the field', async () => {
    for (const id of ['train-weekly-flight_delay', 'batch-weekly-flight_delay', 'monitor-weekly-flight_delay', 'materialize-flight_delay']) {
      // Valid: it reaches Temporal, which is down here.
      expect((await api.call(`/schedules/${id}/trigger`, { method: 'POST' })).status, id).toBe(503);
    }
    for (const id of ['retrain-weekly-flight_delay', 'weekly-flight_delay', 'materialize-Flight', 'materialize-', 'train-weekly-']) {
      const res = await api.call(`/schedules/${id}/trigger`, { method: 'POST' });
      expect(res.status, id).toBe(400);
      expect(await res.text(), id).toContain('must be a schedule id');
    }
  });
});
