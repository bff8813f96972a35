// `npx tsx bench/serve.ts`: single-row GET /predict on the promoted flight_delay model, this
// project's API against the two references the issue names, on the same machine in one run:
//
//   ours     api/main.ts as deployed (Hono, feature SQL in DuckDB, onnxruntime-node), with a
//            bearer token on every request;
//   bare     bench/serve/bare-ort-server.ts: node:http running the same onnxruntime session on
//            one pre-built row, one run() per request;
//   lean     bench/serve/lean-server.ts: the path the issue prescribes (micro-batches, one
//            feature query and one onnxruntime call each, in one thread) and nothing else:
//            close to the most a Node server of this model that keeps the feature SQL answers here;
//   ceiling  bench/serve/http-ceiling-server.ts: node:http answering a fixed body, no model: the
//            most requests any Node server answers on this machine with this load generator;
//   fastapi  bench/serve/fastapi_app.py under uvicorn (uvloop, httptools), the same model and
//            features in Python, for each --uvicorn-workers count.
//
// Every server gets the same 2,000 real flights from the lake as its URLs, starts on a free
// loopback port, is checked (its answers for the first flights must equal the project's own
// feature SQL + onnxruntime), measured by the Go load generator (bench/serve/loadgen: closed
// loop at --concurrency; for ours also an open loop at --rate, timed from each request's
// scheduled send) and stopped before the next one starts, so no two servers share the CPU.
// The load generator does share it with the server: on 2 cores that is part of the result.
//
// Options: --seconds 20  --concurrency 64  --rate 1000  --uvicorn-workers 1,2  --warmup 3
//          --servers ours,explain,bare,lean,ceiling,fastapi (the FastAPI reference computes the
//          flights features without feature views: it refuses a champion that has them)
//          --explain-rate 50 (explain: ours with ?explain=true, whose open loop runs at this rate)
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { API_NODE_FLAGS } from '../api/config.js';
import { PROJECT_ROOT, resolvePaths, type Paths } from '../core/config.js';
import { MODEL, sampleFlights, type FlightSample } from './serve/flights.js';
import {
  fetchAll,
  freePort,
  killAll,
  logTail,
  peakRssMiB,
  startServer,
  stopServer,
  waitFor200,
  withCpuShare,
  type CpuShare,
  type Probe,
  type Server,
} from './serve/servers.js';
import { ensureLoadgen, ensurePythonEnv, goVersion, type PythonEnv } from './serve/setup.js';
import { option } from './options.js';

const seconds = Number(option('seconds', '20'));
const warmup = Number(option('warmup', '3'));
const concurrency = Number(option('concurrency', '64'));
const rate = Number(option('rate', '1000'));
/** The open loop's rate with explain=true: explanations cost milliseconds a row, so far fewer a second. */
const explainRate = Number(option('explain-rate', '50'));
const uvicornWorkers = option('uvicorn-workers', '1,2').split(',').map(Number);
/** Which servers to run (ours, bare, lean, ceiling, fastapi): all by default. */
const servers = option('servers', 'ours,explain,bare,lean,ceiling,fastapi').split(',');
const SAMPLE_ROWS = 2_000;
const PARITY_ROWS = 50;
const READY_TIMEOUT_MS = 60_000;
/** A predict-scope bearer token for this project's API (it refuses tokens under 16 characters). */
const TOKEN = 'bench-serve-predict-token';
const TOOLS_DIR = path.join(PROJECT_ROOT, '.tools');
const SERVE_DIR = path.join(PROJECT_ROOT, 'bench', 'serve');
const CORES = os.availableParallelism();
/** Cores used by other processes during a run above which its numbers are flagged as disturbed. */
const DISTURBED_CORES = 0.2;

/** One line of the load generator's output (bench/serve/loadgen/main.go `result`). */
interface LoadResult {
  readonly mode: 'closed' | 'open';
  readonly concurrency?: number;
  readonly rate?: number;
  readonly seconds: number;
  readonly requests: number;
  readonly rps: number;
  readonly errors: number;
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly sendLagP50Ms?: number;
  readonly sendLagP99Ms?: number;
  readonly sendLagMaxMs?: number;
  readonly firstError?: string;
}

type Load = { concurrency: number } | { rate: number };

interface Plan {
  readonly key: string;
  readonly label: string;
  readonly start: (port: number, logFile: string) => Server;
  readonly headers: Readonly<Record<string, string>>;
  /** Poll GET /healthz before GET /predict (this project's API has one). */
  readonly healthz: boolean;
  readonly openLoop: boolean;
  /** The open loop's rate, when not --rate. */
  readonly openRate?: number;
  /** Appended to every URL's query string. */
  readonly query?: string;
  /** Its answers depend on the request (not bare's fixed row): compare them to the reference. */
  readonly parity: boolean;
}

/** One load generator run and who used the CPU meanwhile. */
interface Measured extends LoadResult {
  readonly cpu: CpuShare;
}

interface Outcome {
  readonly plan: Plan;
  readonly closed?: Measured;
  readonly open?: Measured;
  readonly rssMiB?: number;
  readonly parity?: string;
  /** Why it was not measured (it did not start, or never answered 200). */
  readonly failure?: string;
}

interface Champion {
  readonly version: number;
  readonly modelFile: string;
}

/** The flight_delay champion's model file, or undefined when nothing was promoted yet. */
async function findChampion(paths: Paths): Promise<Champion | undefined> {
  const aliasFile = path.join(paths.registryDir, MODEL, 'aliases', 'champion.json');
  if (!existsSync(aliasFile)) return undefined;
  const alias = JSON.parse(await readFile(aliasFile, 'utf8')) as { version?: unknown };
  if (typeof alias.version !== 'number') throw new Error(`${aliasFile} has no numeric version`);
  const modelFile = path.join(paths.registryDir, MODEL, 'versions', String(alias.version), 'model.onnx');
  return existsSync(modelFile) ? { version: alias.version, modelFile } : undefined;
}

function runLoadgen(binary: string, urlsFile: string, load: Load, headers: Readonly<Record<string, string>>): Promise<LoadResult> {
  const args = ['-urls', urlsFile, '-d', `${seconds}s`, '-warmup', `${warmup}s`];
  args.push(...('concurrency' in load ? ['-c', String(load.concurrency)] : ['-rate', String(load.rate)]));
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  return new Promise((resolve, reject) => {
    execFile(binary, args, { encoding: 'utf8', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`loadgen ${args.join(' ')} failed: ${stderr || err.message}`));
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadResult);
    });
  });
}

/** How many of a server's answers for the first flights carry the reference probability. */
function checkParity(answers: readonly Probe[], sample: FlightSample): string {
  const wrong: string[] = [];
  answers.forEach((a, i) => {
    const expected = sample.reference[i]!;
    let got: unknown;
    try {
      got = (JSON.parse(a.body) as { probability?: unknown }).probability;
    } catch {
      got = undefined;
    }
    if (a.status !== 200 || typeof got !== 'number' || Math.abs(got - expected) > 1e-6) {
      wrong.push(`${sample.queries[i]} -> HTTP ${a.status} ${a.body.slice(0, 200)} (expected probability ${expected})`);
    }
  });
  return wrong.length === 0
    ? `${answers.length}/${answers.length} answers equal the feature SQL + onnxruntime reference`
    : `${wrong.length}/${answers.length} answers DIFFER from the reference, first: ${wrong[0]}`;
}

/** A probe's answer for a one-line report: status (0: no HTTP answer) and the start of the body. */
function oneLine(p: Probe): string {
  return `${p.status === 0 ? 'no HTTP answer' : `HTTP ${p.status}`}: ${p.body.replace(/\s+/g, ' ').slice(0, 400)}`;
}

/** Start, check, measure and stop one server. */
async function bench(plan: Plan, sample: FlightSample, loadgen: string, workDir: string): Promise<Outcome> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = plan.start(port, path.join(workDir, `${plan.key}.log`));
  console.log(`\n${plan.label}: pid ${server.pid}, ${base}, log ${server.logFile}`);
  try {
    if (plan.healthz) {
      const health = await waitFor200(server, `${base}/healthz`, plan.headers, READY_TIMEOUT_MS);
      if (health.status !== 200) return { plan, failure: `GET /healthz never answered 200: ${oneLine(health)}` };
    }
    const first = await waitFor200(server, `${base}/predict?${sample.queries[0]}${plan.query ?? ''}`, plan.headers, READY_TIMEOUT_MS);
    if (first.status !== 200) {
      return { plan, failure: `GET /predict did not answer 200 within ${READY_TIMEOUT_MS / 1000} s: ${oneLine(first)}` };
    }
    console.log(`  ready: ${first.body.slice(0, 300)}`);
    let parity: string | undefined;
    if (plan.parity) {
      const urls = sample.queries.slice(0, sample.reference.length).map((q) => `${base}/predict?${q}${plan.query ?? ''}`);
      parity = checkParity(await fetchAll(urls, plan.headers), sample);
      console.log(`  parity: ${parity}`);
    }
    const urlsFile = path.join(workDir, `${plan.key}.urls`);
    await writeFile(urlsFile, sample.queries.map((q) => `${base}/predict?${q}${plan.query ?? ''}\n`).join(''));
    const measure = async (load: Load): Promise<Measured> => {
      const { value, cpu } = await withCpuShare(server, CORES, () => runLoadgen(loadgen, urlsFile, load, plan.headers));
      const measured = { ...value, cpu };
      console.log(`  ${value.mode} loop: ${JSON.stringify(measured)}`);
      return measured;
    };
    const closed = await measure({ concurrency });
    const open = plan.openLoop ? await measure({ rate: plan.openRate ?? rate }) : undefined;
    const rssMiB = peakRssMiB(server);
    return { plan, closed, ...(open ? { open } : {}), rssMiB, ...(parity ? { parity } : {}) };
  } finally {
    await stopServer(server);
    if (server.exitedWith !== undefined && ![0, 'SIGTERM', 'SIGKILL', 143].includes(server.exitedWith)) {
      console.log(`  ${plan.label} exited with ${server.exitedWith}; last lines of its log:\n${logTail(server)}`);
    }
  }
}

function plans(paths: Paths, champion: Champion, py: PythonEnv): Plan[] {
  const nodeServer = (file: string, extraArgs: string[], env: NodeJS.ProcessEnv, nodeFlags: readonly string[] = []) => (port: number, logFile: string) =>
    startServer(path.basename(file), process.execPath, [...nodeFlags, '--import', 'tsx', file, ...extraArgs], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
      logFile,
    });
  const ours: Plan = {
    key: 'ours',
    label: 'this project (api/main.ts)',
    start: nodeServer('api/main.ts', [], {
      MLOPS_STATE_DIR: paths.stateDir,
      TEMPORAL_ADDRESS: '127.0.0.1:1', // GET /predict needs no Temporal; nothing listens there
      MLOPS_API_TOKENS: `predict:${TOKEN}`,
      LOG_LEVEL: 'info', // as in production: a JSON line per request, to the server's log file
    }, API_NODE_FLAGS),
    headers: { Authorization: `Bearer ${TOKEN}` },
    healthz: true,
    openLoop: true,
    parity: true,
  };
  // The same API asked for explanations (TreeSHAP in its explainer thread): what explain=true costs.
  const explain: Plan = { ...ours, key: 'explain', label: 'this project, ?explain=true', query: '&explain=true', openRate: explainRate };
  const bare: Plan = {
    key: 'bare',
    label: 'bare node:http + onnxruntime',
    start: nodeServer('bench/serve/bare-ort-server.ts', [champion.modelFile], {}),
    headers: {},
    healthz: false,
    // At the same rate, the least any Node server of this model can show on this machine:
    // the floor under our p99 (the machine's scheduling and the load generator's own share).
    openLoop: true,
    parity: false,
  };
  const lean: Plan = {
    key: 'lean',
    label: 'lean: feature SQL + onnxruntime per micro-batch, nothing else',
    start: nodeServer('bench/serve/lean-server.ts', [MODEL], { MLOPS_STATE_DIR: paths.stateDir }, API_NODE_FLAGS),
    headers: {},
    healthz: false,
    openLoop: false,
    parity: true,
  };
  const ceiling: Plan = {
    key: 'ceiling',
    label: 'node:http, fixed answer (no model)',
    start: nodeServer('bench/serve/http-ceiling-server.ts', [], {}, API_NODE_FLAGS),
    headers: {},
    healthz: false,
    openLoop: false,
    parity: false,
  };
  const fastapi = uvicornWorkers.map(
    (workers): Plan => ({
      key: `fastapi-w${workers}`,
      label: `FastAPI + uvicorn (${workers} worker${workers === 1 ? '' : 's'})`,
      start: (port, logFile) =>
        startServer(`uvicorn-w${workers}`, py.uvicorn, ['fastapi_app:app', '--host', '127.0.0.1', '--port', String(port), '--workers', String(workers), '--log-level', 'warning'], {
          cwd: SERVE_DIR,
          // No __pycache__ in the work tree; one onnxruntime thread per worker, as ours.
          env: { ...process.env, MODEL_FILE: champion.modelFile, MODEL_NAME: MODEL, ORT_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
          logFile,
        }),
      headers: {},
      healthz: false,
      openLoop: false,
      parity: true,
    }),
  );
  return [ours, explain, bare, lean, ceiling, ...fastapi].filter((p) => servers.includes(p.key.replace(/-w\d+$/, '')));
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined ? '-' : n.toFixed(digits);
}

function table(outcomes: readonly Outcome[]): string {
  const rows: string[][] = [['server', 'mode', 'rps', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'peak RSS MiB', 'cores: server / loadgen / other']];
  for (const o of outcomes) {
    if (o.failure) {
      rows.push([o.plan.label, 'not measured', '-', '-', '-', '-', '-', '-', '-']);
      continue;
    }
    for (const r of [o.closed, o.open]) {
      if (!r) continue;
      const mode = r.mode === 'closed' ? `closed, c=${r.concurrency}` : `open, ${r.rate}/s`;
      const cpu = `${fmt(r.cpu.server, 2)} / ${fmt(r.cpu.loadgen, 2)} / ${fmt(r.cpu.other, 2)}`;
      rows.push([o.plan.label, mode, fmt(r.rps, 0), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.p999Ms, 2), String(r.errors), fmt(o.rssMiB, 0), cpu]);
    }
  }
  return rows.map((row, i) => `| ${row.join(' | ')} |${i === 0 ? `\n|${' --- |'.repeat(row.length)}` : ''}`).join('\n');
}

/** Runs during which other processes used the CPU: their numbers are not the servers' own. */
function disturbed(outcomes: readonly Outcome[]): string[] {
  return outcomes.flatMap((o) =>
    [o.closed, o.open]
      .filter((r): r is Measured => r !== undefined && r.cpu.other > DISTURBED_CORES)
      .map((r) => `${o.plan.label} (${r.mode} loop): other processes used ${fmt(r.cpu.other, 2)} of ${CORES} cores meanwhile; run again on a quiet machine`),
  );
}

function verdict(ok: boolean): string {
  return ok ? 'MET' : 'NOT MET';
}

/** The issue's targets, each with the numbers it was judged on. */
function targets(outcomes: readonly Outcome[]): string[] {
  const ours = outcomes.find((o) => o.plan.key === 'ours');
  const bare = outcomes.find((o) => o.plan.key === 'bare');
  const ceiling = outcomes.find((o) => o.plan.key === 'ceiling');
  const lean = outcomes.find((o) => o.plan.key === 'lean');
  const lines: string[] = [];
  const oursClosed = ours?.closed;
  if (!oursClosed) return [`this project's API was not measured: ${ours?.failure ?? 'not run'}`];
  const clean = (r: LoadResult) => (r.errors === 0 ? '' : ` (${r.errors} errors: does not count)`);
  for (const f of outcomes.filter((o) => o.plan.key.startsWith('fastapi'))) {
    if (!f.closed) {
      lines.push(`ours / ${f.plan.label}: not measured (${f.failure})`);
      continue;
    }
    const ratio = oursClosed.rps / f.closed.rps;
    const ok = ratio >= 5 && oursClosed.p99Ms <= f.closed.p99Ms && oursClosed.errors === 0;
    lines.push(
      `ours / ${f.plan.label} at c=${concurrency}: ${ratio.toFixed(2)}x rps (target >= 5x), p99 ${fmt(oursClosed.p99Ms, 2)} ms vs ` +
        `${fmt(f.closed.p99Ms, 2)} ms (target: no worse)${clean(oursClosed)}: ${verdict(ok)}`,
    );
    const needed = 5 * f.closed.rps;
    if (lean?.closed) {
      lines.push(
        `  5x is ${fmt(needed, 0)} rps; the lean server (the issue's path, one feature query and one onnxruntime call per micro-batch, ` +
          `without auth, log, metrics or checks) did ${fmt(lean.closed.rps, 0)} rps (${(lean.closed.rps / f.closed.rps).toFixed(2)}x): ` +
          `${lean.closed.rps < needed ? 'out of reach on this path for a Node server on this machine' : 'within reach of that path'}`,
      );
    }
    if (ceiling?.closed) {
      lines.push(
        `  5x is ${fmt(needed, 0)} rps; node:http answering a fixed body with no model did ${fmt(ceiling.closed.rps, 0)} rps here ` +
          `(${(ceiling.closed.rps / f.closed.rps).toFixed(2)}x): ${ceiling.closed.rps < needed ? 'out of reach for any Node server on this machine' : 'within reach of a Node server'}`,
      );
    }
  }
  if (bare?.closed) {
    const ratio = oursClosed.rps / bare.closed.rps;
    lines.push(`ours / ${bare.plan.label} at c=${concurrency}: ${ratio.toFixed(2)} of its rps (target >= 0.5)${clean(oursClosed)}: ${verdict(ratio >= 0.5 && oursClosed.errors === 0)}`);
  } else {
    lines.push(`ours / bare: not measured (${bare?.failure ?? 'not run'})`);
  }
  if (lean?.closed) {
    const ratio = oursClosed.rps / lean.closed.rps;
    lines.push(`ours / ${lean.plan.label} at c=${concurrency}: ${ratio.toFixed(2)} of its rps (target >= 0.8)${clean(oursClosed)}: ${verdict(ratio >= 0.8 && oursClosed.errors === 0)}`);
  }
  const open = ours?.open;
  if (open) {
    const ok = open.p99Ms <= 5 && open.errors === 0;
    lines.push(
      `p99 at ${rate} requests/s (open loop, from each request's scheduled send): ${fmt(open.p99Ms, 2)} ms (target <= 5 ms; ` +
        `${open.rps} answered/s, ${open.errors} errors, sent ${fmt(open.sendLagP50Ms, 2)} ms late at p50, ${fmt(open.sendLagP99Ms, 2)} ms at p99): ${verdict(ok)}`,
    );
    if (bare?.open) lines.push(`  the bare server at the same rate, for reference: p50 ${fmt(bare.open.p50Ms, 2)} ms, p99 ${fmt(bare.open.p99Ms, 2)} ms`);
  }
  const explain = outcomes.find((o) => o.plan.key === 'explain');
  if (explain?.closed) {
    lines.push(
      `the cost of explain=true (one row, at c=${concurrency}): ${fmt(explain.closed.rps, 0)} rps against ${fmt(oursClosed.rps, 0)} plain, ` +
        `p50 ${fmt(explain.closed.p50Ms, 2)} ms against ${fmt(oursClosed.p50Ms, 2)}` +
        (explain.open ? `; at ${explain.open.rate}/s p50 ${fmt(explain.open.p50Ms, 2)} ms, p99 ${fmt(explain.open.p99Ms, 2)} ms${clean(explain.open)}` : ''),
    );
  }
  return lines;
}

function versions(py: PythonEnv, paths: Paths, champion: Champion): string[] {
  const pkg = (name: string) => {
    try {
      return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'not installed';
    }
  };
  const cpu = execFileSync('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], { encoding: 'utf8' }).trim();
  const { python, ...packages } = py.versions;
  return [
    `machine: ${cpu}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; ${os.type()} ${os.release()}`,
    `node ${process.version}, onnxruntime-node ${pkg('onnxruntime-node')}, hono ${pkg('hono')}, @hono/node-server ${pkg('@hono/node-server')}, @duckdb/node-api ${pkg('@duckdb/node-api')}, tsx ${pkg('tsx')}`,
    `python ${python}: ${Object.entries(packages).map(([n, v]) => `${n} ${v}`).join(', ')}`,
    `loadgen built with ${goVersion()}`,
    `model: ${MODEL} v${champion.version} (${champion.modelFile}); ${SAMPLE_ROWS} flights from ${path.join(paths.lakeDir, 'flights')}`,
    `each run: ${warmup} s warm-up, then ${seconds} s measured; load generator and server share the machine`,
  ];
}

async function run(): Promise<void> {
  const paths = resolvePaths();
  const champion = await findChampion(paths);
  if (!champion) {
    console.error(
      `no promoted ${MODEL} model in ${paths.registryDir} (${path.join(MODEL, 'aliases', 'champion.json')} and its model.onnx).\n` +
        `Run \`npm start\` once to train it (it trains and promotes ${MODEL} first), then run this again.`,
    );
    process.exit(1);
  }
  const workDir = path.join(paths.stateDir, 'bench', 'serve');
  await mkdir(workDir, { recursive: true });
  await mkdir(TOOLS_DIR, { recursive: true });
  const py = ensurePythonEnv(path.join(TOOLS_DIR, 'bench-venv'));
  const loadgen = ensureLoadgen(path.join(SERVE_DIR, 'loadgen'), path.join(TOOLS_DIR, 'loadgen'));
  console.log(`sampling ${SAMPLE_ROWS} flights from the lake ...`);
  const sample = await sampleFlights(paths, champion.modelFile, SAMPLE_ROWS, PARITY_ROWS);

  const outcomes: Outcome[] = [];
  for (const plan of plans(paths, champion, py)) {
    const outcome = await bench(plan, sample, loadgen, workDir);
    if (outcome.failure) console.log(`  NOT MEASURED: ${outcome.failure}`);
    outcomes.push(outcome);
  }
  const report = [
    '',
    `## GET /predict, single row, ${new Date().toISOString().slice(0, 10)}`,
    '',
    table(outcomes),
    '',
    ...outcomes.filter((o) => o.failure).map((o) => `- ${o.plan.label} not measured: ${o.failure}`),
    ...outcomes.filter((o) => o.parity).map((o) => `- ${o.plan.label}: ${o.parity}`),
    ...disturbed(outcomes).map((l) => `- WARNING: ${l}`),
    '',
    'Targets:',
    ...targets(outcomes).map((l) => `- ${l}`),
    '',
    ...versions(py, paths, champion),
  ];
  console.log(report.join('\n'));
  await writeFile(path.join(workDir, 'results.json'), `${JSON.stringify(outcomes.map(({ plan, ...o }) => ({ server: plan.key, ...o })), null, 2)}\n`);
  console.log(`\n(raw results: ${path.join(workDir, 'results.json')})`);
}

process.on('exit', killAll);
process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});
run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
