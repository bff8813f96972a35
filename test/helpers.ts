// Shared set-up for tests: temporary state folders that reuse the run's real lake, and
// model specs declared for a test (a spec is data, so a test may declare its own).
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { freePort } from '../core/free-port.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { inject } from 'vitest';
import { createApp, type Api, type AppDeps } from '../api/app.js';
import { apiToken, type AuthConfig } from '../api/auth.js';
import { API_NODE_FLAGS, type ApiLimits } from '../api/config.js';
import { silentLogger, type Logger } from '../api/log.js';
import { ApiMetrics, predictorMetrics } from '../api/metrics.js';
import { Predictor, type BatchingOptions } from '../api/predictor.js';
import { PROJECT_ROOT, resolvePaths, storeUrl, type Paths, type TemporalSettings } from '../core/config.js';
import { readLabeledFeatures } from '../core/features.js';
import { historySource, openLake } from '../storage/lake.js';
import { type CardDraft, openRegistry } from '../storage/registry.js';
import { gbdtParams, listModels, loadSpec, specShape } from '../core/spec.js';
import { encodeModel, predict } from '../ml/gbdt/model.js';
import { trainGbdt } from '../ml/gbdt/train.js';
import { exportGbdt, outputName } from '../ml/onnx/tree-ensemble.js';
import { modelTask } from '../tasks/index.js';
import { createWorker, WORKFLOWS_PATH } from '../worker/worker.js';

/**
 * Fresh registry, work, models and SQL folders (a test may declare specs and SQL of its own);
 * the lake's `flights` dataset is a link to the run's shared real lake (read-only), so a test
 * may add datasets of its own beside it.
 */
export async function testPaths(): Promise<Paths> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mlops-test-'));
  const shared = resolvePaths({ MLOPS_STATE_DIR: inject('lakeStateDir') });
  const paths = resolvePaths({
    MLOPS_STATE_DIR: dir,
    MLOPS_MODELS_DIR: path.join(dir, 'models'),
    MLOPS_DATASETS_DIR: path.join(dir, 'datasets'),
    MLOPS_SQL_DIR: path.join(dir, 'sql'),
  });
  await cp(path.join(PROJECT_ROOT, 'models'), paths.modelsDir, { recursive: true });
  await cp(path.join(PROJECT_ROOT, 'datasets'), paths.datasetsDir, { recursive: true });
  await cp(path.join(PROJECT_ROOT, 'sql'), paths.sqlDir, { recursive: true });
  await mkdir(paths.lakeDir, { recursive: true });
  await symlink(path.join(shared.lakeDir, 'flights'), path.join(paths.lakeDir, 'flights'));
  return { ...paths, arrivalsDir: shared.arrivalsDir };
}

/** A dataset's partitions in the lake, each with local paths of its files (DuckDB and tests read paths). */
export async function listPartitions(paths: Paths, dataset: string, partitionKey: string): Promise<{ value: string; folder: string; files: string[] }[]> {
  const lake = openLake(paths);
  return Promise.all((await lake.partitions(dataset, partitionKey)).map(async (p) => ({ value: p.value, folder: p.folder, files: await lake.localFiles(p.files) })));
}

/** Replace the link to the run's shared (read-only) dataset with a copy of its own, manifests and all, to add partitions to. */
export async function ownDatasetCopy(paths: Paths, dataset: string): Promise<void> {
  const link = path.join(paths.lakeDir, dataset);
  const shared = await readlink(link);
  await rm(link);
  await cp(shared, link, { recursive: true });
}

/** Publish local Parquet files as (more of) a lake partition, the way ingestion does: stored, then in its manifest. */
export async function publishToLake(paths: Paths, dataset: string, folder: string, files: readonly { name: string; local: string }[]): Promise<void> {
  const lake = openLake(paths);
  const stored = [];
  for (const f of files) stored.push(await lake.putFile(dataset, folder, f.name, f.local));
  await lake.addFiles(dataset, folder, stored);
}

/** Environment for a worker process that uses these paths. */
export function pathsEnv(paths: Paths): Record<string, string> {
  return {
    MLOPS_STATE_DIR: paths.stateDir,
    MLOPS_LAKE_DIR: paths.lakeDir,
    MLOPS_REGISTRY_DIR: paths.registryDir,
    MLOPS_WORK_DIR: paths.workDir,
    MLOPS_PREDICTIONS_DIR: paths.predictionsDir,
    MLOPS_REPORTS_DIR: paths.reportsDir,
    MLOPS_MODELS_DIR: paths.modelsDir,
    MLOPS_DATASETS_DIR: paths.datasetsDir,
    MLOPS_SQL_DIR: paths.sqlDir,
    ...(paths.store ? { MLOPS_STORE: storeUrl(paths.store) } : {}),
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- declaration JSON edited freely in tests
type Declaration = Record<string, any>;

/** A copy of the declaration `<dir>/<base>.json` under a new name, changed by `change`. */
async function declareCopy(dir: string, base: string, name: string, change: (declaration: Declaration) => void): Promise<void> {
  const declaration = JSON.parse(await readFile(path.join(dir, `${base}.json`), 'utf8')) as Declaration;
  declaration.name = name;
  change(declaration);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, `${name}.json`), JSON.stringify(declaration, null, 2));
}

/** Declare a variant of a shipped spec under a new name (same SQL), e.g. with more epochs. */
export function declareVariant(paths: Paths, base: string, name: string, change: (spec: Declaration) => void): Promise<void> {
  return declareCopy(paths.modelsDir, base, name, change);
}

/** Declare a variant of a shipped dataset under a new name. */
export function declareDatasetVariant(paths: Paths, base: string, name: string, change: (dataset: Declaration) => void): Promise<void> {
  return declareCopy(paths.datasetsDir, base, name, change);
}

/** A card for registry tests: only the model and the run's identity matter to them. */
export function cardDraft(model: string, runId: string): CardDraft {
  const zeroMetrics = { task: 'binary' as const, rows: 0, positiveRate: 0, auc: 0, logLoss: 0, accuracy: 0, baselineLogLoss: 0, baselineRate: 0 };
  return {
    model,
    task: 'binary',
    description: '',
    inputs: [],
    output: 'probability',
    labelColumn: 'delayed',
    decisionThreshold: 0.5,
    trainer: { type: 'gbdt', params: {} },
    metrics: { holdout: zeroMetrics, trainRows: 0, baseline: { task: 'binary', rate: 0 } },
    onnx: { parity: { rows: 0, maxAbsDiff: 0, labelMismatches: 0 } },
    lineage: {
      dataset: { name: 'flights', snapshotHash: '', trainPartitions: [], holdoutPartitions: [], rows: 0 },
      featureSql: { file: '', sha256: '' },
      specSha256: '',
      codeVersion: 'test',
      workflowId: 'test',
      runId,
    },
  };
}

/** A port nobody listens on right now, on loopback. */
export { freePort };

/** Run one of the project's TypeScript entry points (worker/main.ts, api/main.ts) as its own process. */
export function spawnEntry(entry: string, env: Record<string, string>, stdio: 'ignore' | 'inherit' = 'ignore'): ChildProcess {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const nodeFlags = entry === 'api/main.ts' ? API_NODE_FLAGS : []; // as npm start runs it
  return spawn(process.execPath, [...nodeFlags, '--import', tsx, path.join(PROJECT_ROOT, entry)], { env: { ...process.env, ...env }, stdio });
}

/** An API process (api/main.ts) on a free port of 127.0.0.1 that accepts TEST_TOKENS, once it answers /healthz. */
export async function startApiProcess(paths: Paths, env: Record<string, string>): Promise<{ proc: ChildProcess; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawnEntry('api/main.ts', { ...pathsEnv(paths), ...API_TOKENS_ENV, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env });
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) return { proc, url };
    if (i > 300 || proc.exitCode !== null) {
      await stopProcess(proc);
      throw new Error('the API process did not start');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stop a child process and wait until it is gone. */
export async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

/** A worker on its own task queue of the run's dev server, with fresh paths and a client. */
export interface WorkerHarness {
  readonly address: string;
  readonly paths: Paths;
  readonly client: Client;
  readonly taskQueue: string;
  readonly bundle: WorkflowBundleWithSourceMap;
  close(): Promise<void>;
}

export async function startWorkerHarness(name: string, given?: Paths): Promise<WorkerHarness> {
  const address = inject('temporalAddress');
  const paths = given ?? (await testPaths());
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const taskQueue = `test-${name}-${process.pid}`;
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
  const worker = await createWorker({ connection: nativeConnection, namespace: 'default', taskQueue, paths, codeVersion: 'test', workflowBundle: bundle });
  const running = worker.run();
  return {
    address,
    paths,
    client: new Client({ connection }),
    taskQueue,
    bundle,
    async close() {
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
}

/**
 * Real rows for a model-level check: its labelled features from the lake's first two weeks
 * (to train on) and `rows` of its newest week (to test on), each with its views' history.
 */
export async function firstWeeksAndNewest(paths: Paths, model: string, rows: number) {
  const loaded = await loadSpec(paths, model);
  const weeks = await listPartitions(paths, loaded.spec.dataset.name, loaded.spec.dataset.partitionKey);
  const lake = openLake(paths);
  const train = await readLabeledFeatures(loaded, weeks.slice(0, 2).flatMap((w) => w.files), undefined, await historySource(lake, loaded, weeks.slice(0, 2).map((w) => w.value)));
  const test = await readLabeledFeatures(loaded, weeks.at(-1)!.files, rows, await historySource(lake, loaded, [weeks.at(-1)!.value]));
  return { loaded, train, test };
}

/**
 * A real model: the spec's GBDT trained by ml/ on the lake's first week and judged on its second,
 * both through the model's own feature SQL.
 */
export async function trainOnFirstWeek(paths: Paths, model: string, params: Readonly<Record<string, number>>) {
  const loaded = await loadSpec(paths, model);
  const [week, next] = await listPartitions(paths, loaded.spec.dataset.name, loaded.spec.dataset.partitionKey);
  // A model with feature views reads them from the lake's history up to each week.
  const lake = openLake(paths);
  const train = await readLabeledFeatures(loaded, week!.files, undefined, await historySource(lake, loaded, [week!.value]));
  const gbdt = gbdtParams(loaded.spec, params);
  const trained = await trainGbdt(train, gbdt);
  const holdout = await readLabeledFeatures(loaded, next!.files, undefined, await historySource(lake, loaded, [next!.value]));
  const task = modelTask(specShape(loaded.spec));
  const baseline = task.kind.baseline(train.labels, gbdt.numClass);
  return {
    spec: loaded.spec,
    week: week!.value,
    holdoutWeek: next!.value,
    trained,
    baseline,
    holdout: task.evaluate(holdout.labels, predict(trained, holdout.features), baseline),
    onnx: exportGbdt(trained, { producerName: 'test', producerVersion: '0' }),
  };
}

/**
 * A real champion without a workflow: trainOnFirstWeek's model registered with a card that
 * describes it, and promoted. `params` overrides trainer parameters (e.g. fewer rounds).
 */
export async function registerChampion(
  paths: Paths,
  model: string,
  params: Readonly<Record<string, number>>,
): Promise<{ version: number; onnx: Uint8Array }> {
  const { spec, week, holdoutWeek, trained, baseline, holdout, onnx } = await trainOnFirstWeek(paths, model, params);
  const registry = openRegistry(paths);
  const draft = cardDraft(model, `champion-${model}-${Date.now()}`);
  const card = await registry.register(model, onnx, {
    ...draft,
    task: spec.task,
    inputs: spec.features.columns,
    output: outputName(trained.objective),
    ...(spec.label.classes ? { classes: spec.label.classes } : {}),
    labelColumn: spec.label.column,
    decisionThreshold: spec.decisionThreshold,
    metrics: { holdout, trainRows: 0, baseline },
    lineage: { ...draft.lineage, dataset: { ...draft.lineage.dataset, trainPartitions: [week], holdoutPartitions: [holdoutWeek] } },
  }, new TextEncoder().encode(encodeModel(trained)));
  await registry.moveAlias(model, 'champion', card.version, { action: 'promote', actor: 'test', reason: 'a real model for the test' });
  return { version: card.version, onnx };
}

/** Tokens of the in-process API and of API processes the tests start. */
export const TEST_TOKENS = { predict: 'test-predict-token-0123456789', admin: 'test-admin-token-0123456789' } as const;

export function testAuth(overrides: Partial<AuthConfig> = {}): AuthConfig {
  return {
    enabled: true,
    tokens: [apiToken('test-predict', TEST_TOKENS.predict, ['predict']), apiToken('test-admin', TEST_TOKENS.admin, ['admin'])],
    openPredict: false,
    openReports: false,
    ...overrides,
  };
}

/** Environment for an API process (api/main.ts) that accepts TEST_TOKENS. */
export const API_TOKENS_ENV = { MLOPS_API_TOKENS: `predict:${TEST_TOKENS.predict},admin:${TEST_TOKENS.admin}` } as const;

export interface TestApi {
  readonly app: Api;
  /** What the app was built from (for api/server.ts in tests that start a real server). */
  readonly deps: AppDeps;
  readonly predictor: Predictor;
  readonly metrics: ApiMetrics;
  /** app.request with a token (the admin one unless told otherwise; null sends none). */
  call(path: string, init?: RequestInit, token?: string | null): Promise<Response>;
  close(): void;
}

/** The API in-process, built as api/main.ts builds it (real predictor, specs, metrics), with test tokens. */
export async function testApi(
  paths: Paths,
  client: () => Promise<Client>,
  temporal: TemporalSettings,
  options: { auth?: AuthConfig; batching?: BatchingOptions; limits?: Partial<ApiLimits>; log?: Logger } = {},
): Promise<TestApi> {
  const metrics = new ApiMetrics();
  const { follow, ...measured } = predictorMetrics(metrics);
  const predictor = await Predictor.create(paths, { log() {}, ...measured }, options.batching);
  follow(predictor);
  const specs = await Promise.all((await listModels(paths.modelsDir)).map(async (m) => (await loadSpec(paths, m)).spec));
  const deps: AppDeps = {
    paths,
    temporal,
    client,
    predictor,
    auth: options.auth ?? testAuth(),
    limits: { maxBodyBytes: 256 * 1024, maxPredictRows: 1000, ...options.limits },
    specs,
    metrics,
    log: options.log ?? silentLogger,
  };
  const app = createApp(deps);
  return {
    app,
    deps,
    predictor,
    metrics,
    call(path, init = {}, token = TEST_TOKENS.admin) {
      const headers = new Headers(init.headers);
      if (token !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
      return Promise.resolve(app.request(path, { ...init, headers }));
    },
    close: () => predictor.close(),
  };
}
