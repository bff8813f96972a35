// `npx mlops ...`: the HTTP API from a terminal or a script, through the typed client. Reads
// print tables (or --json), runs are followed with a progress bar until they end, errors are
// printed as the API words them, and the exit code says what happened (see USAGE).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ApiError, createMlopsClient, data, type MlopsClient, type Schemas } from '../client/index.js';
import { followRun, stderrTerminal, type Terminal } from './follow.js';
import { answersCsv, readRows, RowsError, type Row } from './rows.js';

export const USAGE = `usage: mlops <command> [arguments] [options]

Reads (a predict or admin token)
  models                                 declared models: task, champion, challenger, versions
  versions <model>                       every version: holdout metrics, last evaluation
  version <model> <version>              the full model card (JSON)
  history <model>                        the alias log: every promotion, rejection, rollback
  promotion <model>                      what the model's running promotion does or waits for
  reports <model> [<id>]                 drift reports, or one (JSON)
  status <workflow-id> [--run-id ID]     a run: result, failure, or progress
  predict <model> --<field> <value>...   one row from flags (e.g. --origin ORD)
  predict <model> --file rows.csv        rows from a CSV, TSV, JSON or NDJSON file ('-': stdin)
          [--output json|csv] [--explain]

Runs and decisions (an admin token)
  train <model> [--reason R]             train, evaluate and promote; followed until it ends
  evaluate <model> <version> [--reason R]
  batch <model> [--partitions new|P1,P2] [--version V] [--concurrency N] [--reason R]
  monitor <model> [--last N | --partitions P1,P2] [--reason R]
  follow <workflow-id> [--run-id ID]     follow any run until it ends
  approve <model> <version> --reason R [--actor A]
  reject <model> <version> --reason R [--actor A]
  rollback <model> --reason R [--actor A]
  (runs: --no-follow prints the started run and returns at once)

Options
  --url URL           the API (MLOPS_URL, else http://127.0.0.1:3000)
  --token-file FILE   a file with the token, or the API's tokens file (MLOPS_TOKEN_FILE);
                      MLOPS_TOKEN holds the token itself; else npm start's tokens file
                      (MLOPS_API_TOKENS_FILE, or api-tokens.json in MLOPS_STATE_DIR or ./.state)
  --json              reads print JSON instead of a table
  -h, --help

Exit codes
  0  done (a run completed)
  1  the run ended without completing (failed, cancelled, terminated, timed out)
  2  usage: an unknown command or option, a missing argument, an unreadable file
  3  the API refused the request (400, 404, 409, 413, 422): its message says why
  4  not authorised: no token, a wrong one, or one without the scope (401, 403)
  5  the API or Temporal is unavailable (no connection, 5xx)
`;

export const EXIT = { ok: 0, runFailed: 1, usage: 2, refused: 3, unauthorised: 4, unavailable: 5 } as const;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly term: Terminal;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

const GLOBAL = {
  url: { type: 'string' },
  'token-file': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The token: MLOPS_TOKEN, else a token file (one token, or the API's {tokens: [...]} file, admin first). */
export function tokenFrom(env: NodeJS.ProcessEnv, file: string | undefined, cwd: string): string | undefined {
  if (env.MLOPS_TOKEN) return env.MLOPS_TOKEN.trim();
  // npm start's tokens file: in MLOPS_API_TOKENS_FILE, else in the state folder.
  const started = env.MLOPS_API_TOKENS_FILE ?? path.resolve(cwd, env.MLOPS_STATE_DIR ?? '.state', 'api-tokens.json');
  const chosen = file ?? env.MLOPS_TOKEN_FILE ?? (existsSync(started) ? started : undefined);
  if (!chosen) return undefined;
  let text: string;
  try {
    text = readFileSync(chosen, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`cannot read the token file ${chosen}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (!text.startsWith('{')) return text;
  const tokens = (JSON.parse(text) as { tokens?: { token: string; scopes?: string[] }[] }).tokens ?? [];
  const best = tokens.find((t) => t.scopes?.includes('admin')) ?? tokens[0];
  if (!best) throw new UsageError(`the tokens file ${chosen} holds no token`);
  return best.token;
}

function table(rows: readonly Record<string, unknown>[], columns: readonly string[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : typeof v === 'number' ? String(Number.isInteger(v) ? v : Number(v.toFixed(4))) : String(v));
  const cells = [columns.map((c) => c), ...rows.map((r) => columns.map((c) => cell(r[c])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

function positiveInt(value: string | undefined, what: string): number {
  if (value === undefined || !/^[1-9][0-9]{0,8}$/.test(value)) throw new UsageError(`${what} must be a positive whole number (got ${value === undefined ? 'nothing' : JSON.stringify(value)})`);
  return Number(value);
}

function need(positionals: readonly string[], names: readonly string[], command: string): string[] {
  if (positionals.length < names.length) throw new UsageError(`${command} needs ${names.map((n) => `<${n}>`).join(' ')} (missing <${names[positionals.length]}>)`);
  if (positionals.length > names.length) throw new UsageError(`${command} takes ${names.map((n) => `<${n}>`).join(' ')}; unexpected '${positionals[names.length]}'`);
  return positionals as string[];
}

const list = (value: string | undefined) => value?.split(',').map((s) => s.trim()).filter(Boolean);

/** Predict's flags: its own options, and every other --name value as a field of the one row. */
function predictArgs(args: readonly string[]): { positionals: string[]; options: Record<string, string | boolean>; fields: Row } {
  const own = new Set(['file', 'output', 'explain', 'url', 'token-file', 'json', 'help']);
  const booleans = new Set(['explain', 'json', 'help']);
  const positionals: string[] = [];
  const options: Record<string, string | boolean> = {};
  const fields: Row = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-h') {
      options.help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!name) throw new UsageError(`'${arg}' is not an option`);
    if (booleans.has(name) && eq < 0) {
      options[name] = true;
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (own.has(name)) options[name] = value;
    else if (name in fields) throw new UsageError(`field --${name} is given twice`);
    else fields[name] = value === '' ? null : value;
  }
  return { positionals, options, fields };
}

const PREDICT_CHUNK = 500;

async function predict(api: MlopsClient, io: Io, args: readonly string[]): Promise<number> {
  const { positionals, options, fields } = predictArgs(args);
  const [model] = need(positionals, ['model'], 'predict');
  const output = options.output ?? 'json';
  if (output !== 'json' && output !== 'csv') throw new UsageError(`--output must be json or csv (got ${JSON.stringify(output)})`);
  if (options.explain && output === 'csv') throw new UsageError('--explain answers nested contributions: use --output json');
  const file = typeof options.file === 'string' ? options.file : undefined;
  if (file && Object.keys(fields).length) throw new UsageError(`give rows as --file or as field flags, not both (got --file and --${Object.keys(fields)[0]})`);
  if (!file && !Object.keys(fields).length) throw new UsageError(`predict needs the row's fields as flags (--<field> <value>) or --file rows.csv; GET /models/${model} lists its inputs`);
  const rows = file ? await readRows(file) : [fields];
  const answers: { version: number; answer: Schemas['Predictions']['predictions'][number] }[] = [];
  const batches: Schemas['Predictions'][] = [];
  for (let i = 0; i < rows.length; i += PREDICT_CHUNK) {
    const chunk = rows.slice(i, i + PREDICT_CHUNK);
    let batch: Schemas['Predictions'];
    try {
      batch = await data(
        api.POST('/predict', {
          params: { query: options.explain ? { explain: 'true' } : {} },
          // Rows are the user's own fields: the API checks each against the model and names any it refuses.
          body: { model: model!, rows: chunk as Schemas['PredictRequest']['rows'] },
        }),
      );
    } catch (err) {
      // The API names fields as rows.<i>.<field> within the chunk: say which row of the file, or which flag, that is.
      if (!(err instanceof ApiError)) throw err;
      const named = err.fields.map((f) => {
        const m = /^rows\.(\d+)\.(.+)$/.exec(f.field);
        return m ? { ...f, field: file ? `${file} row ${Number(m[1]) + i + 1}, ${m[2]}` : `--${m[2]}` } : f;
      });
      throw new ApiError(err.status, err.type, err.message, named, err.requestId);
    }
    batches.push(batch);
    for (const answer of batch.predictions) answers.push({ version: batch.version, answer });
  }
  if (output === 'csv') io.out(answersCsv(rows, answers));
  else if (!file) {
    const [batch] = batches;
    const { predictions, ...rest } = batch!;
    io.out(json({ ...rest, ...predictions[0] }));
  } else {
    const [first] = batches;
    const { predictions: _, ...rest } = first!;
    io.out(json({ ...rest, versions: [...new Set(batches.map((b) => b.version))], predictions: answers.map((a) => a.answer) }));
  }
  return EXIT.ok;
}

type Started = Schemas['WorkflowStarted'];

/** A started run: printed and returned at once (--no-follow), or followed until it ends. */
async function started(api: MlopsClient, io: Io, run: Started, follow: boolean, model?: string): Promise<number> {
  io.term.say(`started ${run.workflowId} (run ${run.runId})\n  Temporal UI: ${run.temporalUi}`);
  if (!follow) {
    io.out(json(run));
    return EXIT.ok;
  }
  return ended(io, await followRun(api, { workflowId: run.workflowId, runId: run.runId }, io.term, model));
}

/** A followed run's end: its result (or its last status) on stdout, why it failed on stderr, and the exit code. */
function ended(io: Io, end: Schemas['WorkflowRun']): number {
  io.out(json(end.status === 'COMPLETED' ? end.result : end));
  if (end.status === 'COMPLETED') return EXIT.ok;
  io.err(`error: ${end.type} ${end.status.toLowerCase()}${end.failure ? `: ${end.failure.type ? `${end.failure.type}: ` : ''}${end.failure.message}` : ''}\n`);
  return EXIT.runFailed;
}

const RUN_OPTIONS = { reason: { type: 'string' }, 'no-follow': { type: 'boolean' } } as const;

async function command(name: string, args: readonly string[], io: Io, connect: (url: string | undefined, tokenFile: string | undefined) => MlopsClient): Promise<number> {
  if (name === 'predict') {
    const { options } = predictArgs(args);
    if (options.help) return help(io);
    return predict(connect(options.url as string | undefined, options['token-file'] as string | undefined), io, args);
  }
  const spec = COMMANDS[name];
  if (!spec) throw new UsageError(`unknown command '${name}' (mlops --help lists them)`);
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { ...GLOBAL, ...spec.options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return help(io);
  const api = connect(values.url as string | undefined, values['token-file'] as string | undefined);
  return spec.run({ api, io, positionals: parsed.positionals, values, name });
}

interface Context {
  readonly api: MlopsClient;
  readonly io: Io;
  readonly positionals: readonly string[];
  readonly values: Record<string, string | boolean | undefined>;
  readonly name: string;
}

interface Command {
  readonly options: Record<string, { type: 'string' | 'boolean' }>;
  run(ctx: Context): Promise<number>;
}

const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);
const reasonOf = (ctx: Context) => str(ctx.values.reason);
const follows = (ctx: Context) => ctx.values['no-follow'] !== true;

/** The decisions need a reason (the API records it in the alias log); the actor defaults to the user. */
function decision(ctx: Context): { actor: string; reason: string } {
  const reason = reasonOf(ctx);
  if (!reason) throw new UsageError(`${ctx.name} needs --reason "..." (recorded in the model's alias log)`);
  return { actor: str(ctx.values.actor) ?? ctx.io.env.MLOPS_ACTOR ?? ctx.io.env.USER ?? 'cli', reason };
}

const COMMANDS: Record<string, Command> = {
  models: {
    options: {},
    async run(ctx) {
      need(ctx.positionals, [], 'models');
      const { models } = await data(ctx.api.GET('/models'));
      ctx.io.out(ctx.values.json ? json(models) : table(models, ['name', 'task', 'champion', 'challenger', 'versions', 'error']));
      return EXIT.ok;
    },
  },
  versions: {
    options: {},
    async run(ctx) {
      const [name] = need(ctx.positionals, ['model'], 'versions');
      const model = await data(ctx.api.GET('/models/{name}', { params: { path: { name: name! } } }));
      if (ctx.values.json) {
        ctx.io.out(json(model.versions));
        return EXIT.ok;
      }
      const champion = model.aliases.champion?.version;
      const challenger = model.aliases.challenger?.version;
      // The gate's metric first, then the task's other quality metrics (not counts, rates or baselines).
      const gateMetric = typeof model.gate.metric === 'string' ? model.gate.metric : undefined;
      const numeric = model.versions.flatMap((v) => Object.keys(v.holdout).filter((k) => typeof v.holdout[k] === 'number' && !/rows|baseline|rate/i.test(k)));
      const metricNames = [...new Set([...(gateMetric ? [gateMetric] : []), ...numeric])].slice(0, 4);
      const rows = model.versions.map((v) => ({
        version: v.version,
        alias: v.version === champion ? 'champion' : v.version === challenger ? 'challenger' : '',
        created: v.createdAt.slice(0, 16).replace('T', ' '),
        ...Object.fromEntries(metricNames.map((m) => [m, v.holdout[m]])),
        evaluation: v.lastEvaluation?.outcome ?? '',
      }));
      ctx.io.out(table(rows, ['version', 'alias', 'created', ...metricNames, 'evaluation']));
      return EXIT.ok;
    },
  },
  version: {
    options: {},
    async run(ctx) {
      const [name, version] = need(ctx.positionals, ['model', 'version'], 'version');
      ctx.io.out(json(await data(ctx.api.GET('/models/{name}/versions/{version}', { params: { path: { name: name!, version: String(positiveInt(version, '<version>')) } } }))));
      return EXIT.ok;
    },
  },
  history: {
    options: {},
    async run(ctx) {
      const [name] = need(ctx.positionals, ['model'], 'history');
      const { entries } = await data(ctx.api.GET('/models/{name}/aliases/history', { params: { path: { name: name! } } }));
      ctx.io.out(ctx.values.json ? json(entries) : table(entries.map((e) => ({ ...e, at: e.updatedAt.slice(0, 19).replace('T', ' '), from: e.previousVersion, to: e.version })), ['at', 'alias', 'action', 'from', 'to', 'actor', 'reason']));
      return EXIT.ok;
    },
  },
  promotion: {
    options: {},
    async run(ctx) {
      const [name] = need(ctx.positionals, ['model'], 'promotion');
      ctx.io.out(json(await data(ctx.api.GET('/models/{name}/promotion', { params: { path: { name: name! } } }))));
      return EXIT.ok;
    },
  },
  reports: {
    options: {},
    async run(ctx) {
      if (ctx.positionals.length === 2) {
        const [name, id] = ctx.positionals;
        ctx.io.out(json(await data(ctx.api.GET('/reports/{name}/{id}/report.json', { params: { path: { name: name!, id: id! } } }))));
        return EXIT.ok;
      }
      const [name] = need(ctx.positionals, ['model'], 'reports');
      const { reports } = await data(ctx.api.GET('/reports/{name}', { params: { path: { name: name! } } }));
      ctx.io.out(ctx.values.json ? json(reports) : table(reports.map((r) => ({ ...r, window: r.window.join(','), drifted: r.driftedFeatures.join(',') })), ['id', 'version', 'window', 'verdict', 'drifted', 'decay', 'retraining']));
      return EXIT.ok;
    },
  },
  status: {
    options: { 'run-id': { type: 'string' } },
    async run(ctx) {
      const [id] = need(ctx.positionals, ['workflow-id'], 'status');
      const runId = str(ctx.values['run-id']);
      ctx.io.out(json(await data(ctx.api.GET('/workflows/{id}', { params: { path: { id: id! }, query: runId ? { runId } : {} } }))));
      return EXIT.ok;
    },
  },
  follow: {
    options: { 'run-id': { type: 'string' } },
    async run(ctx) {
      const [workflowId] = need(ctx.positionals, ['workflow-id'], 'follow');
      const runId = str(ctx.values['run-id']);
      return ended(ctx.io, await followRun(ctx.api, { workflowId: workflowId!, ...(runId ? { runId } : {}) }, ctx.io.term));
    },
  },
  train: {
    options: RUN_OPTIONS,
    async run(ctx) {
      const [model] = need(ctx.positionals, ['model'], 'train');
      const reason = reasonOf(ctx);
      const run = await data(ctx.api.POST('/workflows/train', { body: { model: model!, ...(reason ? { reason } : {}) } }));
      return started(ctx.api, ctx.io, run, follows(ctx), model);
    },
  },
  evaluate: {
    options: { ...RUN_OPTIONS, actor: { type: 'string' } },
    async run(ctx) {
      const [model, version] = need(ctx.positionals, ['model', 'version'], 'evaluate');
      const reason = reasonOf(ctx);
      const actor = str(ctx.values.actor);
      const run = await data(ctx.api.POST('/workflows/evaluate', { body: { model: model!, version: positiveInt(version, '<version>'), ...(reason ? { reason } : {}), ...(actor ? { actor } : {}) } }));
      return started(ctx.api, ctx.io, run, follows(ctx), model);
    },
  },
  batch: {
    options: { ...RUN_OPTIONS, partitions: { type: 'string' }, version: { type: 'string' }, concurrency: { type: 'string' } },
    async run(ctx) {
      const [model] = need(ctx.positionals, ['model'], 'batch');
      const p = str(ctx.values.partitions) ?? 'new';
      const partitions = p === 'new' ? ('new' as const) : list(p);
      if (!partitions?.length) throw new UsageError('--partitions must be new or partition values separated by commas');
      const version = str(ctx.values.version);
      const concurrency = str(ctx.values.concurrency);
      const reason = reasonOf(ctx);
      const run = await data(
        ctx.api.POST('/workflows/batch', {
          body: {
            model: model!,
            partitions,
            ...(version ? { version: positiveInt(version, '--version') } : {}),
            ...(concurrency ? { concurrency: positiveInt(concurrency, '--concurrency') } : {}),
            ...(reason ? { reason } : {}),
          },
        }),
      );
      return started(ctx.api, ctx.io, run, follows(ctx));
    },
  },
  monitor: {
    options: { ...RUN_OPTIONS, last: { type: 'string' }, partitions: { type: 'string' } },
    async run(ctx) {
      const [model] = need(ctx.positionals, ['model'], 'monitor');
      const last = str(ctx.values.last);
      const partitions = list(str(ctx.values.partitions));
      if (last && partitions) throw new UsageError('give --last or --partitions, not both');
      const reason = reasonOf(ctx);
      const window = last ? { last: positiveInt(last, '--last') } : partitions ? { partitions } : undefined;
      const run = await data(ctx.api.POST('/workflows/monitor', { body: { model: model!, ...(window ? { window } : {}), ...(reason ? { reason } : {}) } }));
      return started(ctx.api, ctx.io, run, follows(ctx));
    },
  },
  approve: decide('approve'),
  reject: decide('reject'),
  rollback: {
    options: { reason: { type: 'string' }, actor: { type: 'string' } },
    async run(ctx) {
      const [model] = need(ctx.positionals, ['model'], 'rollback');
      const answer = await data(ctx.api.POST('/models/{name}/rollback', { params: { path: { name: model! } }, body: decision(ctx) }));
      ctx.io.out(json(answer));
      return EXIT.ok;
    },
  },
};

function decide(action: 'approve' | 'reject'): Command {
  return {
    options: { reason: { type: 'string' }, actor: { type: 'string' } },
    async run(ctx) {
      const [model, version] = need(ctx.positionals, ['model', 'version'], action);
      const path = { name: model!, version: String(positiveInt(version, '<version>')) };
      const route = action === 'approve' ? '/models/{name}/versions/{version}/approve' : '/models/{name}/versions/{version}/reject';
      ctx.io.out(json(await data(ctx.api.POST(route, { params: { path }, body: decision(ctx) }))));
      return EXIT.ok;
    },
  };
}

function help(io: Io): number {
  io.out(USAGE);
  return EXIT.ok;
}

/** The exit code and message for what went wrong; the API's own words when it answered. */
export function failure(err: unknown, url: string): { code: number; message: string } {
  if (err instanceof UsageError || err instanceof RowsError) return { code: EXIT.usage, message: `error: ${err.message}\n` };
  if (err instanceof ApiError) {
    // With fields, the message only repeats them: each is said once, under the error's type.
    const lines = err.fields.length ? [`error: ${err.type}:`, ...err.fields.map((f) => `  ${f.field}: ${f.problem}`)] : [`error: ${err.type}: ${err.message}`];
    if (err.requestId) lines.push(`  (request id ${err.requestId})`);
    const code = err.status === 401 || err.status === 403 ? EXIT.unauthorised : err.status >= 500 ? EXIT.unavailable : EXIT.refused;
    return { code, message: `${lines.join('\n')}\n` };
  }
  const cause = (err as { cause?: { code?: string; message?: string } } | null)?.cause;
  if (err instanceof TypeError && cause) return { code: EXIT.unavailable, message: `error: cannot reach the API at ${url}: ${cause.code ?? cause.message ?? err.message} (is it running? --url or MLOPS_URL)\n` };
  return { code: EXIT.unavailable, message: `error: ${err instanceof Error ? err.message : String(err)}\n` };
}

/** Run one command line; the exit code is returned, never thrown. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...args] = argv;
  let url = io.env.MLOPS_URL ?? 'http://127.0.0.1:3000';
  if (!name || name === '--help' || name === '-h' || name === 'help') return help(io);
  try {
    return await command(name, args, io, (given, tokenFile) => {
      url = given ?? url;
      if (!/^https?:\/\//.test(url)) throw new UsageError(`--url must be an http(s) URL like http://127.0.0.1:3000 (got ${JSON.stringify(url)})`);
      return createMlopsClient(url, { token: tokenFrom(io.env, tokenFile, io.cwd) });
    });
  } catch (err) {
    const { code, message } = failure(err, url);
    io.err(message);
    return code;
  }
}

export function processIo(): Io {
  return { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), term: stderrTerminal(), env: process.env, cwd: process.cwd() };
}
