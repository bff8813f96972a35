// `npm start`: the whole product on one machine. Starts Temporal (dev server, SQLite file,
// UI on :8233), bootstraps the flights lake when missing, starts the worker and the API,
// trains the first model when no champion exists, then answers one real /predict. Ctrl-C
// stops everything.
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureStateDir, PROJECT_ROOT, resolvePaths, temporalSettings, temporalUiLink } from '../core/config.js';
import { openDuckDB, parquetSource, queryRows } from '../core/duckdb.js';
import { logLevelSetting, portSetting, wholeNumberSetting } from '../core/env.js';
import { errorMessage, rootCause } from '../core/errors.js';
import { openLake } from '../storage/lake.js';
import { CHAMPION, openRegistry } from '../storage/registry.js';
import { listModels, loadSpec, requestColumns } from '../core/spec.js';
import { describeMetrics } from '../tasks/index.js';
import type { TrainModelInput, TrainModelResult } from '../core/types.js';
import { DEFAULT_INITIAL_WEEKS, ensureFlightsLake } from '../data/flights.js';
import { startDevServer, type DevServer } from '../worker/dev-server.js';
import { ensureTemporalCli } from '../worker/temporal-cli.js';
import { ensureTokenFile } from '../api/auth.js';
import { API_NODE_FLAGS, apiConfigFromEnv } from '../api/config.js';
import { WorkflowStarter } from '../runs/starter.js';
import { firstTrainingWorkflowId } from '../workflows/starts.js';
import { followTraining } from './follow.js';

const say = (line: string) => console.log(`[start] ${line}`);

/** The settings npm start reads itself, checked before anything starts (the API and worker check theirs too, but only after Temporal is up). */
function startSettings(env: NodeJS.ProcessEnv) {
  logLevelSetting(env);
  const paths = resolvePaths(env);
  ensureStateDir(paths);
  // This machine only (the API listens on 127.0.0.1): predictions and reports open to anyone
  // here, so links and the examples below work; every change needs the admin token.
  const tokensFile = env.MLOPS_API_TOKENS_FILE ?? path.join(paths.stateDir, 'api-tokens.json');
  const tokens = ensureTokenFile(tokensFile);
  apiConfigFromEnv({ ...env, MLOPS_API_TOKENS_FILE: tokensFile }); // the API's limits, batching and tokens, as it will read them
  return {
    paths,
    tokensFile,
    tokens,
    temporalPort: portSetting(env, 'TEMPORAL_PORT', 7233),
    uiPort: portSetting(env, 'TEMPORAL_UI_PORT', 8233),
    apiPort: portSetting(env, 'PORT', 3000),
    initialWeeks: wholeNumberSetting(env, 'MLOPS_INITIAL_WEEKS', DEFAULT_INITIAL_WEEKS, 1, 1_000),
  };
}

let settings: ReturnType<typeof startSettings>;
try {
  settings = startSettings(process.env);
} catch (err) {
  console.error(`[start] ${errorMessage(err)}`);
  process.exit(1);
}
const { paths, tokensFile, tokens, temporalPort, uiPort, apiPort, initialWeeks } = settings;
const apiUrl = `http://127.0.0.1:${apiPort}`;

const children: ChildProcess[] = [];
let server: DevServer | undefined;
let stopping = false;

function startChild(name: string, entry: string, env: NodeJS.ProcessEnv, nodeFlags: readonly string[] = []): ChildProcess {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = spawn(process.execPath, [...nodeFlags, '--import', tsx, path.join(PROJECT_ROOT, entry)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) => {
    let buffered = '';
    stream.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const l of lines) out.write(`[${name}] ${l}\n`);
    });
  };
  prefix(child.stdout!, process.stdout);
  prefix(child.stderr!, process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[start] ${name} exited (${signal ?? code}); stopping everything`);
      void shutdown(1);
    }
  });
  children.push(child);
  return child;
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('stopping API and worker ...');
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGINT');
        }),
    ),
  );
  if (server?.started) {
    say('stopping Temporal ...');
    await server.stop();
  }
  say('stopped.');
  process.exit(code);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (stopping) throw new Error('stopping');
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function exampleFlight(model: string): Promise<URLSearchParams | undefined> {
  const { spec } = await loadSpec(paths, model);
  const lake = openLake(paths);
  const newest = (await lake.partitions(spec.dataset.name, spec.dataset.partitionKey)).at(-1);
  if (!newest) return undefined;
  const cols = requestColumns(spec);
  const db = await openDuckDB();
  try {
    const [row] = await queryRows(
      db.connection,
      `SELECT ${cols.map((c) => `CAST("${c.name}" AS VARCHAR) AS "${c.name}"`).join(', ')} FROM (${parquetSource(await lake.localFiles(newest.files))}) USING SAMPLE 1 ROWS`,
    );
    if (!row) return undefined;
    const params = new URLSearchParams({ model });
    for (const c of cols) params.set(c.name, String(row[c.name]));
    return params;
  } finally {
    db.close();
  }
}

/** The rows a run trained on: its split when recorded, else the snapshot it read. */
function describeRows(result: TrainModelResult): string {
  const n = (rows: number) => rows.toLocaleString('en-US');
  const split = result.training.rows;
  if (!split) return `a snapshot of ${n(result.snapshot.rows)} rows`;
  return `${n(split.train)} rows (validation ${n(split.validation)}, holdout ${n(split.holdout)}, of a ${n(result.snapshot.rows)}-row snapshot)`;
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  say(`state folder: ${paths.stateDir}`);
  const cli = await ensureTemporalCli(say);
  say(`temporal CLI: ${cli}`);
  server = await startDevServer({ cli, dbFile: path.join(paths.stateDir, 'temporal.db'), port: temporalPort, uiPort });
  say(`Temporal ${server.started ? 'started' : 'already running'} on ${server.address}; Web UI ${server.uiUrl}`);

  say('preparing the flights lake (vega-datasets flights-3m.parquet, 3,000,000 flights) ...');
  const lake = await ensureFlightsLake(paths, initialWeeks);
  say(`lake: ${lake.released.length} weeks released (${lake.released[0]} .. ${lake.released.at(-1)}), ${lake.pending.length} to come (npm run lake -- release)`);

  const env = {
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_UI_URL: server.uiUrl,
    MLOPS_STATE_DIR: paths.stateDir,
    PORT: String(apiPort),
  };
  const adminToken = tokens['local-admin'] ?? '<an admin token from your MLOPS_API_TOKENS_FILE>';
  startChild('worker', 'worker/main.ts', { ...env, MLOPS_WORKER_METRICS: process.env.MLOPS_WORKER_METRICS ?? '127.0.0.1:9464' });
  startChild('api', 'api/main.ts', {
    ...env,
    MLOPS_API_TOKENS_FILE: tokensFile,
    MLOPS_PUBLIC_PREDICT: process.env.MLOPS_PUBLIC_PREDICT ?? 'true',
    MLOPS_PUBLIC_REPORTS: process.env.MLOPS_PUBLIC_REPORTS ?? 'true',
  }, API_NODE_FLAGS);
  await waitFor('the API', async () => (await fetch(`${apiUrl}/healthz`)).ok, 60_000);

  const temporal = temporalSettings({ ...process.env, ...env });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: temporal.namespace });
  const starter = new WorkflowStarter(client, temporal.taskQueue);
  const registry = openRegistry(paths);
  // Every declared model without a champion trains now, one after another (each training
  // uses both cores): the first one before "ready", the others after it, in the background.
  const trainIfNeeded = async (model: string): Promise<void> => {
    const champion = await registry.getAlias(model, CHAMPION);
    if (champion) {
      say(`${model}: champion is v${champion.version}`);
    } else {
      const workflowId = firstTrainingWorkflowId(model);
      const input: TrainModelInput = { model, reason: 'first-start', actor: 'npm start' };
      // A run left over from an interrupted start is followed, not duplicated.
      const handle = await starter.train(input, workflowId, { useExisting: true });
      say(`${model}: no champion yet, training: ${temporalUiLink(temporal, workflowId, handle.firstExecutionRunId)}`);
      try {
        const result = await followTraining(client, model, workflowId, { url: apiUrl, adminToken }, say);
        say(
          `${model}: v${result.version} trained on ${describeRows(result)} in ${result.training.seconds.toFixed(1)} s ` +
            `(${result.training.iterations} rounds), holdout ${describeMetrics(result.holdout)}; ` +
            (result.promoted
              ? 'promoted to champion'
              : result.promotion.outcome === 'failed-gate'
                ? `not promoted, failed the gate: ${result.promotion.gate.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`).join('; ')}`
                : `not promoted (${result.promotion.outcome}; see ${result.promotion.workflowId} in the Temporal UI)`),
        );
      } catch (err) {
        say(`${model}: training failed: ${rootCause(err).message}`);
      }
    }
    await materializeIfNeeded(model);
    const params = await exampleFlight(model);
    if (params) {
      const url = `${apiUrl}/predict?${params}`;
      const response = await fetch(url);
      say(`GET ${url}`);
      say(`  -> ${response.status} ${await response.text()}`);
    }
  };
  // A model with feature views serves them from the online store: materialize them once now
  // (the hourly schedule and every ingest keep them fresh), and wait until the API serves them.
  const materializeIfNeeded = async (model: string): Promise<void> => {
    const { spec } = await loadSpec(paths, model);
    if (spec.features.views.length === 0) return;
    const handle = await starter.materialize({ model, reason: 'first-start' });
    try {
      const views = await handle.result();
      say(`${model}: feature views materialized: ${views.map((v) => `${v.view} as of ${v.asOf} (${v.entities} entities)`).join(', ')}`);
      await waitFor(`${model}'s feature views in the API`, async () => {
        const ready = (await (await fetch(`${apiUrl}/readyz`)).json()) as { models: { model: string; views?: { asOf: string | null }[] }[] };
        return ready.models.find((m) => m.model === model)?.views?.every((v) => v.asOf !== null) ?? false;
      }, 30_000);
    } catch (err) {
      say(`${model}: materializing its feature views failed: ${rootCause(err).message} (its answers use the views' defaults until they are)`);
    }
  };
  const [first, ...others] = await listModels(paths.modelsDir);
  if (first) await trainIfNeeded(first);
  say('');
  say(`ready. API ${apiUrl} (docs ${apiUrl}/docs)   Temporal UI ${server.uiUrl}   (Ctrl-C stops everything)`);
  say(`  API tokens: ${tokensFile} (admin: ${adminToken})`);
  say(`  console: ${apiUrl}/ui (sign in with a token)   CLI: npx mlops models, npx mlops train <model>, npx mlops --help`);
  say(`  retrain: curl -X POST ${apiUrl}/workflows/train -H 'authorization: Bearer ${adminToken}' -H 'content-type: application/json' -d '{"model":"${first ?? 'flight_delay'}"}'`);
  say(`  watch the loop on the weeks still to come (drift, reports, retraining by itself): npm run demo`);
  if (others.length) say(`  next: ${others.join(', ')} (each trains now if it has no champion; follow them in the Temporal UI)`);
  for (const model of others) await trainIfNeeded(model);
}

main().catch((err: unknown) => {
  if (stopping) return;
  console.error(`[start] ${errorMessage(err)}`);
  void shutdown(1);
});
