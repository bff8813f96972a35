// Settings from the environment and the command line: a value that cannot be used stops the
// process before it changes anything, with a message naming the variable, file or flag, never a
// silent default or a stack trace from deep inside.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { describe, expect, inject, it } from 'vitest';
import { authFromEnv, ensureTokenFile } from '../api/auth.js';
import { apiConfigFromEnv } from '../api/config.js';
import { ensureStateDir, PROJECT_ROOT, resolvePaths, temporalSettings } from '../core/config.js';
import { hostPortSetting, logLevelSetting, portSetting, wholeNumberSetting } from '../core/env.js';
import { listModels } from '../core/spec.js';

const tsxBin = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx');

/** Run one of the project's entry points with `env` on top of a clean state folder; its exit code and output. */
function run(entry: string, args: readonly string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(tsxBin, [path.join(PROJECT_ROOT, entry), ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('settings from the environment', () => {
  it('reads whole numbers, ports, host:port and log levels, naming the variable it refuses', () => {
    expect(wholeNumberSetting({}, 'N', 7, 1, 10)).toBe(7);
    expect(wholeNumberSetting({ N: '' }, 'N', 7, 1, 10)).toBe(7);
    expect(wholeNumberSetting({ N: '10' }, 'N', 7, 1, 10)).toBe(10);
    for (const bad of ['0', '11', 'abc', '1.5', '-1', ' 5', '1e1']) {
      expect(() => wholeNumberSetting({ N: bad }, 'N', 7, 1, 10), bad).toThrow(`N=${JSON.stringify(bad)}: must be a whole number from 1 to 10`);
    }
    expect(portSetting({ PORT: '0' }, 'PORT', 3000, true)).toBe(0);
    expect(() => portSetting({ PORT: '0' }, 'PORT', 3000)).toThrow(/PORT="0"/);
    expect(() => portSetting({ PORT: '65536' }, 'PORT', 3000)).toThrow(/PORT="65536"/);

    for (const good of ['127.0.0.1:7233', 'temporal:7233', 'my-host.example.org:9464', '[::1]:7233']) expect(hostPortSetting({ A: good }, 'A', 'x:1')).toBe(good);
    expect(hostPortSetting({}, 'A')).toBeUndefined();
    for (const bad of ['garbage', '127.0.0.1', ':7233', 'host:0', 'host:99999', 'http://host:7233', 'host:72x']) {
      expect(() => hostPortSetting({ A: bad }, 'A'), bad).toThrow(`A=${JSON.stringify(bad)}: must be host:port`);
    }
    expect(() => temporalSettings({ TEMPORAL_ADDRESS: 'garbage' })).toThrow(/TEMPORAL_ADDRESS="garbage"/);

    expect(logLevelSetting({})).toBe('info');
    expect(logLevelSetting({ LOG_LEVEL: 'WARN' })).toBe('warn');
    expect(() => logLevelSetting({ LOG_LEVEL: 'loud' })).toThrow('LOG_LEVEL="loud": must be one of debug, info, warn, error');
  });

  it("refuses API limits and batching that cannot work instead of bending them", () => {
    const base = { MLOPS_AUTH: 'off' };
    expect(apiConfigFromEnv(base).batching).toMatchObject({ maxBatchRows: 48, threads: 1, maxInFlight: 2 });
    expect(apiConfigFromEnv({ ...base, MLOPS_PREDICT_SCORING_THREADS: '0', MLOPS_PREDICT_INLINE_ROWS: '0' }).batching).toMatchObject({ scoringThreads: 0, inlineMaxRows: 0 });
    for (const name of ['MLOPS_PREDICT_MAX_BATCH', 'MLOPS_PREDICT_THREADS', 'MLOPS_PREDICT_IN_FLIGHT', 'MLOPS_PREDICT_MAX_ROWS', 'MLOPS_MAX_BODY_BYTES']) {
      expect(() => apiConfigFromEnv({ ...base, [name]: '0' }), name).toThrow(`${name}="0"`);
    }
    expect(() => apiConfigFromEnv({ ...base, PORT: 'abc' })).toThrow('PORT="abc"');
  });

  it('names the tokens file and the entry when the file has the wrong shape', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mlops-settings-'));
    const cases: [string, RegExp][] = [
      ['null', /must be \{"tokens"/],
      ['[]', /must be \{"tokens"/],
      ['{"tokens": [null]}', /tokens\[0\] needs a name, a token and scopes/],
      ['{"tokens": [{"name": "a", "token": "0123456789abcdef0123", "scopes": ["root"]}]}', /tokens\[0\] needs/],
      ['{"tokens": ', /MLOPS_API_TOKENS_FILE=.*JSON/],
    ];
    for (const [i, [text, problem]] of cases.entries()) {
      const file = path.join(dir, `tokens-${i}.json`);
      await writeFile(file, text);
      expect(() => authFromEnv({ MLOPS_API_TOKENS_FILE: file }), text).toThrow(problem);
      expect(() => ensureTokenFile(file), text).toThrow(problem);
      expect(() => authFromEnv({ MLOPS_API_TOKENS_FILE: file }), text).toThrow(file);
    }
  });

  it('names the state folder when it is a file, and the models folder when it cannot be read', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mlops-settings-'));
    const file = path.join(dir, 'not-a-folder');
    await writeFile(file, '');
    expect(() => ensureStateDir(resolvePaths({ MLOPS_STATE_DIR: file }))).toThrow(`MLOPS_STATE_DIR=${JSON.stringify(file)}: must be a folder this process can write`);
    ensureStateDir(resolvePaths({ MLOPS_STATE_DIR: path.join(dir, 'made', 'here') }));
    expect(existsSync(path.join(dir, 'made', 'here'))).toBe(true);
    await expect(listModels(path.join(dir, 'no-models'))).rejects.toThrow(`cannot read the model specs folder ${path.join(dir, 'no-models')} (MLOPS_MODELS_DIR)`);
  });
});

describe('processes refuse bad settings before they change anything', () => {
  it('the API names LOG_LEVEL, and HOST and PORT when it cannot listen', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mlops-settings-'));
    const env = { MLOPS_STATE_DIR: state, MLOPS_AUTH: 'off', HOST: '127.0.0.1' };
    const loud = await run('api/main.ts', [], { ...env, LOG_LEVEL: 'loud', PORT: '0' });
    expect(loud.code).toBe(1);
    expect(loud.stderr).toContain('api failed: LOG_LEVEL="loud": must be one of debug, info, warn, error');

    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const taken = await run('api/main.ts', [], { ...env, LOG_LEVEL: 'warn', PORT: String(port) });
      expect(taken.code).toBe(1);
      expect(taken.stderr).toContain(`api failed: cannot listen on HOST=127.0.0.1 PORT=${port}: another process is listening there`);
    } finally {
      busy.close();
    }
  });

  it('the worker names MLOPS_WORKER_METRICS and TEMPORAL_ADDRESS', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mlops-settings-'));
    const metrics = await run('worker/main.ts', [], { MLOPS_STATE_DIR: state, MLOPS_WORKER_METRICS: 'garbage' });
    expect(metrics.code).toBe(1);
    expect(metrics.stderr).toContain('worker failed: MLOPS_WORKER_METRICS="garbage": must be host:port');
    const address = await run('worker/main.ts', [], { MLOPS_STATE_DIR: state, TEMPORAL_ADDRESS: 'garbage' });
    expect(address.code).toBe(1);
    expect(address.stderr).toContain('worker failed: TEMPORAL_ADDRESS="garbage": must be host:port');
  });

  it('the worker reports why the schedules could not be made, not the connection it was closing', async () => {
    // A namespace without the project's search attributes: the server refuses every schedule.
    const namespace = `bare-${process.pid}-${Date.now()}`;
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    } finally {
      await connection.close();
    }
    const state = await mkdtemp(path.join(tmpdir(), 'mlops-settings-'));
    const env = { MLOPS_STATE_DIR: state, TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: namespace, MLOPS_TASK_QUEUE: `${namespace}-q` };
    let result = await run('worker/main.ts', [], env);
    // A namespace just registered can take a few seconds to reach the server's cache.
    for (let i = 0; i < 10 && /namespace[^\n]*not found/i.test(result.stderr); i++) {
      await new Promise((r) => setTimeout(r, 1_000));
      result = await run('worker/main.ts', [], env);
    }
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('worker failed: ServiceError: Failed to create schedule');
    expect(result.stderr).toMatch(/no mapping defined for search attribute/);
    expect(result.stderr).not.toContain('Cannot close connection');
  });

  it('npm start names a bad port, week count, API setting or token before starting Temporal', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mlops-settings-'));
    for (const [name, value] of [['PORT', 'abc'], ['TEMPORAL_PORT', '99999'], ['TEMPORAL_UI_PORT', 'x'], ['MLOPS_INITIAL_WEEKS', '0'], ['MLOPS_PREDICT_MAX_BATCH', '0']] as const) {
      const { code, stdout, stderr } = await run('bin/start.ts', [], { MLOPS_STATE_DIR: state, [name]: value });
      expect(code, name).toBe(1);
      expect(stderr, name).toContain(`[start] ${name}="${value}"`);
      expect(stdout, name).not.toContain('temporal CLI');
    }
    const tokens = path.join(state, 'short-tokens.json');
    await writeFile(tokens, JSON.stringify({ tokens: [{ name: 'ops', token: 'short', scopes: ['admin'] }] }));
    const short = await run('bin/start.ts', [], { MLOPS_STATE_DIR: state, MLOPS_API_TOKENS_FILE: tokens });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain("[start] API token 'ops' is shorter than 16 characters");
    expect(short.stdout).not.toContain('temporal CLI');
    expect(existsSync(path.join(state, 'temporal.db'))).toBe(false);
  });

  it('the lake command checks its count first and says to bootstrap when there is no lake', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mlops-settings-'));
    const bad = await run('data/lake.ts', ['bootstrap', 'abc'], { MLOPS_STATE_DIR: state });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('bootstrap abc: expected a whole number of weeks from 0');
    expect(existsSync(path.join(state, 'arrivals'))).toBe(false);
    for (const args of [['status'], ['release']]) {
      const none = await run('data/lake.ts', args, { MLOPS_STATE_DIR: state });
      expect(none.code, args[0]).toBe(1);
      expect(none.stderr, args[0]).toContain('no flights lake under');
      expect(none.stderr, args[0]).toContain('npm run lake -- bootstrap');
    }
    const extra = await run('data/lake.ts', ['release', '1', '2'], { MLOPS_STATE_DIR: state });
    expect(extra.stderr).toContain("unexpected argument '2'");
  });

  it('the demo refuses unknown flags, a flag without its value and a bad week count', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mlops-settings-'));
    for (const [args, problem] of [
      [['--weeks', '0'], '--weeks 0: must be a whole number of weeks, 1 or more'],
      [['--weeks', '1.5'], '--weeks 1.5: must be'],
      [['--model'], "Option '--model <value>' argument missing"],
      [['--colour', 'red'], "Unknown option '--colour'"],
    ] as const) {
      const { code, stderr } = await run('bin/demo.ts', args, { MLOPS_STATE_DIR: state, TEMPORAL_ADDRESS: '127.0.0.1:1' });
      expect(code, args.join(' ')).toBe(1);
      expect(stderr, args.join(' ')).toContain(problem);
      expect(stderr, args.join(' ')).toContain('usage: npm run demo');
    }
  });
});
