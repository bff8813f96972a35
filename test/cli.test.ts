// The CLI against the real stack: `mlops` processes (bin/mlops.js, as npx runs it) talking to an
// API process and a worker on the run's Temporal dev server. A version trains, is followed with
// its heartbeats until it waits for approval, is approved, answers predictions (flags and a CSV
// file), and is rolled back; each step's output and exit code is checked, and so are the codes
// for usage errors, refusals and a token without the scope.
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../core/config.js';
import { openDuckDB, parquetSource, queryRows } from '../core/duckdb.js';
import { declareVariant, listPartitions, registerChampion, startApiProcess, startWorkerHarness, stopProcess, TEST_TOKENS, type WorkerHarness } from './helpers.js';

const MODEL = 'cli_delay';
const TIMEOUT_MS = 420_000;

let worker: WorkerHarness;
let api: { proc: import('node:child_process').ChildProcess; url: string };
let flights: Record<string, string>[];

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `mlops ...` as its own process; `onStderr` sees its progress as it comes. */
function mlops(args: readonly string[], token: string | null = TEST_TOKENS.admin, onStderr?: (text: string) => void): Promise<Ran> {
  const env: Record<string, string | undefined> = { ...process.env, MLOPS_URL: api.url, MLOPS_TOKEN: token ?? undefined, MLOPS_TOKEN_FILE: undefined };
  if (token === null) delete env.MLOPS_TOKEN;
  const proc = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'mlops.js'), ...args], { cwd: tmpdir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    onStderr?.(stderr);
  });
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  worker = await startWorkerHarness('cli');
  const { paths } = worker;
  // A quick flight_delay whose promotions wait for a person, and whose gate any real model passes.
  await declareVariant(paths, 'flight_delay', MODEL, (spec) => {
    spec.trainer.params.numIterations = 20;
    spec.approval = { required: true, timeoutSeconds: 3600 };
    spec.gate = { metric: 'auc', min: 0.55, champion: { tolerance: 0.5 } };
  });
  await registerChampion(paths, MODEL, { numIterations: 3 }); // v1, so a rollback has somewhere to go
  api = await startApiProcess(paths, { TEMPORAL_ADDRESS: worker.address, MLOPS_TASK_QUEUE: worker.taskQueue });
  const newest = (await listPartitions(paths, 'flights', 'week')).at(-1)!;
  const db = await openDuckDB();
  try {
    flights = (await queryRows(
      db.connection,
      `SELECT strftime(date, '%Y-%m-%dT%H:%M') AS date, distance::VARCHAR AS distance, origin, destination FROM (${parquetSource(newest.files)}) LIMIT 3 OFFSET 100`,
    )) as Record<string, string>[];
  } finally {
    db.close();
  }
}, 180_000);

afterAll(async () => {
  if (api) await stopProcess(api.proc);
  await worker?.close();
});

describe('mlops CLI', () => {
  it(
    'trains and follows a version until it waits, approves it, predicts with it and rolls it back',
    async () => {
      // train: followed through its heartbeats; it says when the version waits for approval.
      let sawApproval!: () => void;
      const waiting = new Promise<void>((resolve) => (sawApproval = resolve));
      const training = mlops(['train', MODEL, '--reason', 'cli test'], TEST_TOKENS.admin, (err) => {
        if (err.includes('waits for approval')) sawApproval();
      });
      const early = await Promise.race([waiting.then(() => null), training]);
      expect(early, `train ended before waiting for approval: ${JSON.stringify(early)}`).toBeNull();

      // approve: refused for a predict token (exit 4), done with an admin token (exit 0).
      const refused = await mlops(['approve', MODEL, '2', '--reason', 'looks good'], TEST_TOKENS.predict);
      expect(refused.code, refused.stderr).toBe(4);
      expect(refused.stderr).toMatch(/^error: \w+: .*admin/m);
      const approved = await mlops(['approve', MODEL, '2', '--reason', 'looks good', '--actor', 'alice']);
      expect(approved.code, approved.stderr).toBe(0);
      expect(JSON.parse(approved.stdout)).toMatchObject({ model: MODEL, version: 2, decision: 'approve' });

      const trained = await training;
      expect(trained.code, trained.stderr).toBe(0);
      expect(JSON.parse(trained.stdout)).toMatchObject({ model: MODEL, version: 2, promoted: true, champion: 2 });
      // The progress the run's heartbeats fed: the training activity's stages, and the end.
      expect(trained.stderr).toMatch(/^started train-cli_delay/m);
      expect(trained.stderr).toMatch(/^trainModel {2}.*(building|training|\[[#.]+\] \d+\/20)/m);
      expect(trained.stderr).toMatch(/npx mlops approve cli_delay 2 --reason/);
      expect(trained.stderr).toMatch(/^TrainModelWorkflow completed/m);

      // versions and history show it.
      const versions = await mlops(['versions', MODEL], TEST_TOKENS.predict);
      expect(versions.code, versions.stderr).toBe(0);
      expect(versions.stdout).toMatch(/^version +alias +created +auc/m);
      expect(versions.stdout).toMatch(/^2 +champion /m);
      const history = await mlops(['history', MODEL, '--json'], TEST_TOKENS.predict);
      expect(JSON.parse(history.stdout).at(-1)).toMatchObject({ alias: 'champion', version: 2, previousVersion: 1, action: 'promote', actor: 'alice', reason: expect.stringContaining('approved by alice: looks good') });

      // predict: one row from flags, and a CSV file, with a predict token.
      const one = await mlops(['predict', MODEL, ...Object.entries(flights[0]!).flatMap(([k, v]) => [`--${k}`, v])], TEST_TOKENS.predict);
      expect(one.code, one.stderr).toBe(0);
      const answer = JSON.parse(one.stdout) as { version: number; probability: number; label: boolean };
      expect(answer.version).toBe(2);
      expect(answer.probability).toBeGreaterThan(0);
      expect(answer.probability).toBeLessThan(1);
      const dir = await mkdtemp(path.join(tmpdir(), 'mlops-cli-'));
      const csv = path.join(dir, 'rows.csv');
      await writeFile(csv, ['date,distance,origin,destination', ...flights.map((f) => [f.date, f.distance, f.origin, f.destination].join(','))].join('\n'));
      const many = await mlops(['predict', MODEL, '--file', csv, '--output', 'csv'], TEST_TOKENS.predict);
      expect(many.code, many.stderr).toBe(0);
      const out = parse(many.stdout, { columns: true }) as Record<string, string>[];
      expect(out).toHaveLength(flights.length);
      expect(Object.keys(out[0]!)).toEqual(['date', 'distance', 'origin', 'destination', 'version', 'label', 'probability']);
      expect(out.map((r) => r.origin)).toEqual(flights.map((f) => f.origin));
      expect(out.every((r) => r.version === '2')).toBe(true);
      expect(Number(out[0]!.probability)).toBeCloseTo(answer.probability, 6);

      // A bad row is named by its file row and field; exit 3 (refused), nothing on stdout.
      await writeFile(csv, `date,distance,origin,destination\n${flights[0]!.date},12,ORD,LAX\n2001-06-01T10:00,x,ORD,LAX\n`);
      const bad = await mlops(['predict', MODEL, '--file', csv], TEST_TOKENS.predict);
      expect(bad.code).toBe(3);
      expect(bad.stdout).toBe('');
      expect(bad.stderr).toContain(`${csv} row 2, distance:`);

      // rollback: refused for a predict token, then back to v1.
      expect((await mlops(['rollback', MODEL, '--reason', 'undo'], TEST_TOKENS.predict)).code).toBe(4);
      const back = await mlops(['rollback', MODEL, '--reason', 'undo', '--actor', 'alice']);
      expect(back.code, back.stderr).toBe(0);
      expect(JSON.parse(back.stdout)).toMatchObject({ model: MODEL });
      const models = JSON.parse((await mlops(['models', '--json'], TEST_TOKENS.predict)).stdout) as { name: string; champion: number | null }[];
      expect(models.find((m) => m.name === MODEL)?.champion).toBe(1);
      // The API swaps the served champion in the background: ask until v1 answers (or give up).
      let after = 0;
      for (let i = 0; i < 20 && after !== 1; i++) {
        after = (JSON.parse((await mlops(['predict', MODEL, ...Object.entries(flights[0]!).flatMap(([k, v]) => [`--${k}=${v}`])], TEST_TOKENS.predict)).stdout) as { version: number }).version;
      }
      expect(after).toBe(1);
    },
    TIMEOUT_MS,
  );

  it('exits 2 for usage errors, 3 for refusals, 4 without a token, 5 when the API is not there', async () => {
    const usage = await mlops(['approve', MODEL, '2']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('approve needs --reason');
    expect((await mlops(['nonsense'])).code).toBe(2);
    expect((await mlops(['predict', MODEL, '--file', '/no/such/rows.csv'])).stderr).toContain('cannot read /no/such/rows.csv: no such file');

    const unknown = await mlops(['versions', 'no_such_model']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/^error: UnknownModelError: unknown model 'no_such_model'/m);
    const flag = await mlops(['predict', MODEL, '--origin', 'ORDX', '--destination', 'LAX', '--distance', '1846', '--date', '2001-06-01T10:00']);
    expect(flag.code).toBe(3);
    expect(flag.stderr).toMatch(/^ {2}--origin: must match/m);

    const none = await mlops(['models'], null);
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/^error: \w+:/);

    const gone = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'mlops.js'), 'models'], { env: { ...process.env, MLOPS_URL: 'http://127.0.0.1:9' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    gone.stderr.on('data', (d: Buffer) => (err += d.toString()));
    expect(await new Promise((r) => gone.on('close', r))).toBe(5);
    expect(err).toContain('cannot reach the API at http://127.0.0.1:9');
  });
});
