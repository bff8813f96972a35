// The CLI's parts without a stack: following a run through answers a fake API gives (progress
// bar from heartbeats, an API that stops answering for a moment), reading rows from files (each
// refusal names the file and the line or row), and where the token comes from.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMlopsClient } from '../client/index.js';
import { followRun, progressLine, type Terminal } from '../cli/follow.js';
import { tokenFrom } from '../cli/main.js';
import { readRows } from '../cli/rows.js';

const run = (status: string, extra: Record<string, unknown> = {}) => ({
  workflowId: 'train-m-1',
  runId: '01a24a7d-62a7-7de6-8b10-a662135d89f0',
  type: 'TrainModelWorkflow',
  status,
  startTime: '2026-12-06T08:00:00.000Z',
  closeTime: null,
  temporalUi: 'http://localhost:8233/x',
  ...extra,
});

describe('following a run', () => {
  it('draws the heartbeat as a bar, waits out an API that does not answer, and returns the end', async () => {
    const answers: (() => Response)[] = [
      () => Response.json(run('RUNNING', { pendingActivities: [{ activity: 'trainModel', attempt: 1, progress: { stage: 'training', iteration: 30, numIterations: 300, metric: 'binary_logloss', validMetric: 0.41 }, lastFailure: null }] })),
      () => Response.json({ error: { type: 'TemporalUnavailableError', message: 'Temporal is not reachable' } }, { status: 503 }),
      () => Response.json(run('COMPLETED', { closeTime: '2026-12-06T08:01:00.000Z', result: { version: 2 } })),
    ];
    const asked: string[] = [];
    const api = createMlopsClient('http://api.test', {
      fetch: (request) => {
        asked.push(new URL(request.url).pathname);
        return Promise.resolve(answers.shift()!());
      },
    });
    const lines: string[] = [];
    const term: Terminal = { progress: (l) => lines.push(`~ ${l}`), say: (l) => lines.push(l) };
    const end = await followRun(api, { workflowId: 'train-m-1' }, term);
    expect(end).toMatchObject({ status: 'COMPLETED', result: { version: 2 } });
    expect(asked).toEqual(['/workflows/train-m-1', '/workflows/train-m-1', '/workflows/train-m-1']);
    expect(lines[0]).toBe('~ trainModel  [##......................] 30/300  training  valid binary_logloss 0.41');
    expect(lines[1]).toMatch(/^~ \(the API does not answer: Temporal is not reachable; asking again\)$/);
    expect(lines[2]).toBe('TrainModelWorkflow completed (train-m-1)');
  }, 20_000);

  it('says retries and their last failure', () => {
    const line = progressLine(run('RUNNING', { pendingActivities: [{ activity: 'verifyOnnx', attempt: 3, progress: { stage: 'verifying ONNX: onnxruntime', rows: 48_000 }, lastFailure: 'worker lost' }] }) as never);
    expect(line).toBe('verifyOnnx  48,000 rows  verifying ONNX: onnxruntime  attempt 3 (last failure: worker lost)');
  });
});

describe('rows for predict', () => {
  it('reads CSV (empty cells missing), JSON and NDJSON', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mlops-rows-'));
    await writeFile(path.join(dir, 'a.csv'), '\ufeffdate,origin,distance\n2001-06-01T10:00,ORD,\n');
    expect(await readRows(path.join(dir, 'a.csv'))).toEqual([{ date: '2001-06-01T10:00', origin: 'ORD', distance: null }]);
    await writeFile(path.join(dir, 'b.json'), JSON.stringify({ rows: [{ origin: 'ORD', distance: 12 }] }));
    expect(await readRows(path.join(dir, 'b.json'))).toEqual([{ origin: 'ORD', distance: 12 }]);
    await writeFile(path.join(dir, 'c.ndjson'), '{"origin":"ORD"}\n\n{"origin":"LAX"}\n');
    expect(await readRows(path.join(dir, 'c.ndjson'))).toEqual([{ origin: 'ORD' }, { origin: 'LAX' }]);
  });

  it('names the file and the line or row of what it cannot read', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mlops-rows-'));
    const file = (name: string, text: string) => writeFile(path.join(dir, name), text).then(() => path.join(dir, name));
    await expect(readRows(await file('bad.ndjson', '{"a":1}\n{"a":\n'))).rejects.toThrow(/bad\.ndjson line 2 is not JSON/);
    await expect(readRows(await file('nested.json', '[{"a":1},{"a":{"b":2}}]'))).rejects.toThrow(/nested\.json row 2: field 'a' must be a string, number, boolean or null/);
    await expect(readRows(await file('empty.csv', 'a,b\n'))).rejects.toThrow(/empty\.csv holds no rows/);
    await expect(readRows(await file('rows.xlsx', 'x'))).rejects.toThrow(/unknown file type '\.xlsx'/);
    await expect(readRows(path.join(dir, 'missing.csv'))).rejects.toThrow(/cannot read .*missing\.csv: no such file/);
  });
});

describe('the token', () => {
  it('comes from MLOPS_TOKEN, a token file, or the admin token of npm start’s tokens file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mlops-token-'));
    expect(tokenFrom({ MLOPS_TOKEN: ' t1 \n' }, undefined, dir)).toBe('t1');
    await writeFile(path.join(dir, 'token'), 'abc\n');
    expect(tokenFrom({}, path.join(dir, 'token'), dir)).toBe('abc');
    expect(tokenFrom({}, undefined, dir)).toBeUndefined();
    await writeFile(path.join(dir, 'tokens.json'), JSON.stringify({ tokens: [{ name: 'p', token: 'pp', scopes: ['predict'] }, { name: 'a', token: 'aa', scopes: ['admin'] }] }));
    expect(tokenFrom({ MLOPS_API_TOKENS_FILE: path.join(dir, 'tokens.json') }, undefined, dir)).toBe('aa');
    expect(() => tokenFrom({}, path.join(dir, 'nope'), dir)).toThrow(/cannot read the token file .*nope: no such file/);
  });
});
