// Fuzzing the API over real HTTP: more than 10,000 malformed, oversized, wrongly typed and
// hostile requests (path traversal in names, SQL fragments in fields, huge numbers, empty and
// non-UTF-8 bodies, broken HTTP) against every route of an API process serving a real champion.
// Not one may get a 5xx; every 4xx must say what is wrong in the API's error shape; the
// process's memory must stay bounded.
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mulberry32 } from '../ml/random.js';
import { registerChampion, startApiProcess, stopProcess, testPaths, TEST_TOKENS } from './helpers.js';

const REQUESTS = 10_500;
const CONCURRENCY = 16;

let api: ChildProcess;
let base: string;
let port: number;

beforeAll(async () => {
  const paths = await testPaths();
  await registerChampion(paths, 'flight_delay', { numIterations: 10 });
  // A real Temporal (the run's dev server, on a task queue no worker polls): requests that get
  // past validation are answered by it, never by a 503 about an unreachable server.
  ({ proc: api, url: base } = await startApiProcess(paths, { TEMPORAL_ADDRESS: inject('temporalAddress'), MLOPS_TASK_QUEUE: `fuzz-${process.pid}`, LOG_LEVEL: 'error' }));
  port = Number(new URL(base).port);
});

afterAll(async () => {
  if (api) await stopProcess(api);
});

/** Resident memory of the API process, in MB. */
async function rssMb(): Promise<number> {
  const status = await readFile(`/proc/${api.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

// ---- what the requests are made of ----------------------------------------------------------

const HOSTILE = [
  '../../etc/passwd', '..%2F..%2Fregistry', '%2e%2e%2f', '....//....//', '/etc/passwd', 'C:\\Windows\\system32', 'flight_delay/../../x',
  "'; DROP TABLE flights; --", "flight_delay' OR '1'='1", '1; SELECT * FROM read_csv(\'/etc/passwd\')', "$(rm -rf /)", '`id`', '${jndi:ldap://x/a}', '{{7*7}}',
  '<script>alert(1)</script>', '__proto__', 'constructor', 'prototype', 'null', 'undefined', 'true', '[]', '{}',
  '1e309', '-1e309', 'NaN', 'Infinity', '-Infinity', '99999999999999999999999999', '-0', '0x1F', '1_000', '0.0000000000000000000001',
  '', ' ', '\t', '\u0000', 'a\u0000b', '\u202e', '😀'.repeat(40), 'ü'.repeat(70), 'A'.repeat(5_000),
  '2001-02-30', '2001-13-01T25:61', '2001-03-19T17:45:99', '0000-00-00', '20010319', 'FLIGHT_DELAY', 'flight_delay ', 'flight_delay.json', 'flight-delay',
];
const FIELDS = ['model', 'date', 'distance', 'origin', 'destination', 'delay', 'colour', 'rows', 'version', 'partitions', 'window', 'actor', 'reason', 'concurrency', '__proto__'];
const ROUTES = [
  'GET /predict', 'POST /predict', 'GET /models', 'GET /models/{name}', 'GET /models/{name}/versions/{version}', 'GET /models/{name}/aliases/history',
  'GET /models/{name}/promotion', 'POST /models/{name}/versions/{version}/approve', 'POST /models/{name}/versions/{version}/reject', 'POST /models/{name}/rollback',
  'POST /workflows/train', 'POST /workflows/evaluate', 'POST /workflows/batch', 'POST /workflows/monitor', 'GET /workflows/{id}', 'GET /reports/{name}',
  'GET /reports/{name}/{id}', 'GET /reports/{name}/{id}/report.json', 'GET /schedules', 'POST /schedules/{id}/trigger', 'GET /readyz', 'GET /docs/assets/{id}',
];

function requestFor(random: () => number): { method: string; path: string; headers: Record<string, string>; body?: Uint8Array | string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const hostile = () => pick(HOSTILE);
  const [routeMethod, template] = pick(ROUTES).split(' ') as [string, string];
  const method = random() < 0.08 ? pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']) : routeMethod;
  // Path parameters: hostile, or almost right.
  const path = template.replace(/\{(\w+)\}/g, () => encodeURIComponent(random() < 0.7 ? hostile() : pick(['flight_delay', '1', '0', '-1', '1.5', 'x'])));
  const query = new URLSearchParams();
  if (random() < 0.6) {
    for (const field of ['model', 'date', 'distance', 'origin', 'destination']) {
      const roll = random();
      if (roll < 0.15) continue; // missing
      query.append(field, roll < 0.45 ? hostile() : pick({ model: ['flight_delay'], date: ['2001-03-19T17:45'], distance: ['1846'], origin: ['ORD'], destination: ['LAX'] }[field]!));
    }
    if (random() < 0.3) query.append(pick(FIELDS), hostile());
    if (random() < 0.1) query.append('origin', 'SFO'); // repeated
  }
  // Make sure a /predict query is never entirely valid (a valid one is a 200, not a fuzz case).
  if (template === '/predict' && method === 'GET') query.set(pick(['date', 'distance', 'origin', 'destination', 'model', 'colour']), hostile() || 'x'.repeat(65));
  const headers: Record<string, string> = {};
  const auth = random();
  if (auth < 0.8) headers.authorization = `Bearer ${random() < 0.5 ? TEST_TOKENS.admin : TEST_TOKENS.predict}`;
  else if (auth < 0.9) headers.authorization = pick(['Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', `Bearer ${'x'.repeat(600)}`, 'bearer  two spaces', 'Token abc']);
  let body: Uint8Array | string | undefined;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    headers['content-type'] = pick(['application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1']);
    const kind = random();
    if (kind < 0.1) body = '';
    else if (kind < 0.2) body = Uint8Array.from({ length: 64 }, () => Math.floor(random() * 256)); // not UTF-8, not JSON
    else if (kind < 0.25) body = new Uint8Array([0xff, 0xfe, 0x7b, 0x22, 0xc3, 0x28, 0x7d]);
    else if (kind < 0.3) body = '{'.repeat(5_000);
    else if (kind < 0.35) body = '['.repeat(10_000) + ']'.repeat(10_000);
    else if (kind < 0.4) body = JSON.stringify({ model: 'flight_delay', rows: new Array(1_200).fill({ date: '2001-03-19T17:45', distance: 1846, origin: 'ORD', destination: 'LAX' }) });
    else if (kind < 0.43) body = 'x'.repeat(400_000); // over the body limit
    else if (kind < 0.5) body = pick(['null', '[]', '"flight_delay"', '42', 'true', '{"__proto__": {"admin": true}}', '{"constructor": {"prototype": {}}}']);
    else {
      const o: Record<string, unknown> = {};
      const n = 1 + Math.floor(random() * 4);
      for (let i = 0; i < n; i++) {
        const v = random();
        o[pick(FIELDS)] = v < 0.5 ? hostile() : v < 0.6 ? Number.MAX_SAFE_INTEGER * 1e10 : v < 0.7 ? -1 : v < 0.8 ? [hostile(), { x: hostile() }] : v < 0.9 ? { last: hostile() } : null;
      }
      // Never a complete valid body: a valid one would start a workflow or predict.
      if (typeof o.model !== 'string' || !/[^a-z0-9_]/.test(o.model)) o.model = hostile() || '../x';
      body = JSON.stringify(o);
    }
  }
  return { method, path: `${path}${query.size ? `?${query}` : ''}`, headers, ...(body !== undefined ? { body } : {}) };
}

/** Broken HTTP that never reaches the app: Node's parser refuses it, answered in the API's shape too. */
async function raw(payload: string | Buffer): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('end', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), head, body: rest.join('\r\n\r\n') });
    });
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer')));
    socket.end(payload);
  });
}

describe('fuzzing the API', () => {
  it(`answers ${REQUESTS} hostile requests without a 5xx, each 4xx naming the problem, memory bounded`, async () => {
    const random = mulberry32(20261202);
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let sent = 0;
    const warm = await rssMb();
    let atTenth = 0;
    const lane = async () => {
      while (sent < REQUESTS) {
        const i = sent++;
        if (i === REQUESTS / 10) atTenth = await rssMb();
        const req = requestFor(random);
        let status: number;
        let text: string;
        try {
          const res = await fetch(`${base}${req.path}`, { method: req.method, headers: req.headers, ...(req.body !== undefined ? { body: req.body } : {}) });
          status = res.status;
          text = req.method === 'HEAD' ? '' : await res.text();
        } catch (err) {
          const cause = (err as { cause?: { code?: string; message?: string } }).cause;
          failures.push(`${req.method} ${req.path.slice(0, 120)}: transport ${String(err)} (${cause?.code ?? ''} ${cause?.message ?? ''})`);
          continue;
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const where = `${req.method} ${req.path.slice(0, 160)} -> ${status} ${text.slice(0, 200)}`;
        if (status >= 500) failures.push(where);
        else if (status >= 400 && req.method !== 'HEAD') {
          let body: { error?: { type?: string; message?: string; fields?: { field: string; problem: string }[] } } = {};
          try {
            body = JSON.parse(text) as typeof body;
          } catch {
            failures.push(`not JSON: ${where}`);
            continue;
          }
          if (!body.error?.type || !body.error.message) failures.push(`no error type or message: ${where}`);
          if (status === 400 && !(body.error?.fields?.length && body.error.fields.every((f) => f.field && f.problem))) failures.push(`400 without fields: ${where}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));

    // Broken HTTP, written to a socket as it is.
    const broken = [
      'GET /predict?model=%ff%fe%00 HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /\x00\x01 HTTP/1.1\r\nHost: x\r\n\r\n',
      'NOT-A-METHOD / HTTP/1.1\r\nHost: x\r\n\r\n',
      `GET /predict?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      'POST /workflows/train HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x01, 0x00]), // a TLS hello on a plain port
    ];
    for (const payload of broken) {
      const res = await raw(payload);
      const where = `raw ${JSON.stringify(payload.toString().slice(0, 60))} -> ${res.status} ${res.body.slice(0, 120)}`;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (!(res.status >= 400 && res.status < 500)) failures.push(where);
      else {
        const error = (JSON.parse(res.body) as { error?: { message?: string; requestId?: string } }).error;
        if (!error?.message) failures.push(`no message: ${where}`);
        // Its own request id, in the body and the x-request-id header, like every other answer.
        if (!error?.requestId || !res.head.toLowerCase().includes(`\r\nx-request-id: ${error.requestId.toLowerCase()}`)) failures.push(`no request id: ${where}`);
      }
    }

    const end = await rssMb();
    console.log(`FUZZ ${JSON.stringify({ requests: REQUESTS + broken.length, statuses: Object.fromEntries([...statuses].sort()), rssMb: { warm: Math.round(warm), atTenth: Math.round(atTenth), end: Math.round(end) } })}`);
    expect(failures.slice(0, 20)).toEqual([]);
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    // Bounded: after the first tenth (caches, JIT, the champion loaded) memory no longer grows with the load.
    expect(end - atTenth).toBeLessThan(100);
    // The API still answers properly afterwards.
    const ok = await fetch(`${base}/predict?model=flight_delay&date=2001-03-19T17:45&distance=1846&origin=ORD&destination=LAX`, { headers: { authorization: `Bearer ${TEST_TOKENS.predict}` } });
    expect(ok.status).toBe(200);
  });
});
