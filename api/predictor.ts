// Online predictions: the requests' raw fields go through the model's own feature SQL in
// DuckDB (the same query training and batch scoring use), then through the champion's ONNX
// session.
//
// Micro-batching: rows asked for the same model within a short wait (or until a batch is full)
// go through ONE feature query and ONE onnxruntime call. A request is validated before it joins
// (api/schemas.ts), so one bad request never fails another; a request bigger than a batch is
// cut into batches. A batch of a few rows (at low load nearly all of them) is scored right here:
// about 0.1 ms of onnxruntime, less than handing it to another thread and back. Bigger ones go
// to a scoring thread (api/predictor-thread.ts), where onnxruntime's synchronous run() never
// holds the event loop that parses requests and writes answers. A new batch starts as soon as
// the previous one is done.
//
// The champion is followed without a restart: the alias file is re-read at most every
// ALIAS_CHECK_MS; a new version is loaded in the background while the old one keeps serving,
// then swapped in one assignment. A batch holds the session it started with until it finishes,
// and an old session is released only when no batch holds it.
import type { Worker } from 'node:worker_threads';
import type { Paths } from '../core/config.js';
import { errorMessage, InvalidSpecError, ModelUnavailableError, NoChampionError } from '../core/errors.js';
import { checkViews, featureColumns, featureQuery, requestParameters, requestSource, viewFlagColumns, type RequestValue } from '../core/features.js';
import { openFeatureStore } from '../storage/feature-store.js';
import { ModelViews, snapshotSource, viewAnswers, type ServedQuery, type ViewAnswer, type ViewChange } from './served-views.js';
import { ROWS_PER_RUN } from '../core/inference.js';
import { CHAMPION, Registry, type ModelCard, openRegistry } from '../storage/registry.js';
import { loadSpec, requestColumns, type LoadedSpec } from '../core/spec.js';
import { siblingModule, startThread } from '../ml/threads.js';
import { modelTask, type ModelTask, type PredictionValue } from '../tasks/index.js';
import type { Column, ColumnTable } from '../ml/table.js';
import { Explainer, type RowExplanation } from './explainer.js';
import { createScorer, type PredictorReply, type PredictorRequest, type Scorer, type WithoutId } from './predictor-thread.js';

const threadFile = siblingModule(import.meta.url, 'predictor-thread');

const ALIAS_CHECK_MS = 200;

export interface BatchingOptions {
  /** Longest a row waits for others to join its batch. */
  readonly maxWaitMs: number;
  /** Most rows in one feature query and one onnxruntime call. */
  readonly maxBatchRows: number;
  /** onnxruntime intra-op threads per session. */
  readonly threads: number;
  /** Batches of one model scored at once (each holds its own prepared feature query). */
  readonly maxInFlight: number;
  /** Scoring threads, each with its own DuckDB and onnxruntime sessions: big batches take turns. */
  readonly scoringThreads: number;
  /**
   * Batches of at most this many rows are scored in the API's own thread (0: none, unless
   * there are no scoring threads). A small batch costs onnxruntime 0.1 to 0.3 ms, less than
   * handing it to a thread and back, which wakes two threads, under load waits for a core,
   * and at a moderate rate finds the scoring thread's V8 in an idle-time full collection
   * (3 to 16 ms). 16 rather than 4 lowered the p99 at 1000 requests/s (BENCHMARKS.md).
   */
  readonly inlineMaxRows: number;
}

export const DEFAULT_BATCHING: BatchingOptions = { maxWaitMs: 1, maxBatchRows: ROWS_PER_RUN, threads: 1, maxInFlight: 2, scoringThreads: 1, inlineMaxRows: 16 };

/** Where a batch is scored: a scoring thread (its index), or this thread. */
type Lane = number | 'inline';

/** What the predictor reports, for logs and metrics. */
export interface PredictorEvents {
  log(event: string, fields: Record<string, unknown>): void;
  batch?(model: string, rows: number): void;
  /** Rows of a batch whose entity a view had no value for (given the default), and whose value was stale. */
  views?(model: string, view: string, missing: number, stale: number): void;
  loaded?(model: string, version: number, outcome: 'loaded' | 'failed'): void;
}

/** A version whose session is loaded in the scoring thread. */
interface LoadedVersion {
  readonly version: number;
  readonly card: ModelCard;
  /** The card's task, which reads its outputs. */
  readonly task: ModelTask;
  inFlight: number;
  retired: boolean;
}

/** A slice of one request's rows, waiting for a batch. */
interface Chunk {
  readonly request: PendingRequest;
  readonly offset: number;
  readonly rows: readonly (readonly RequestValue[])[];
}

interface PendingRequest {
  readonly results: PredictedRow[];
  remaining: number;
  /** The feature view snapshots the request's batches joined (the last batch's). */
  views?: ViewAnswer[];
  resolve(value: { version: LoadedVersion; rows: PredictedRow[]; views?: ViewAnswer[] }): void;
  reject(err: unknown): void;
  versionHolder?: LoadedVersion;
}

interface ModelState {
  readonly loaded: LoadedSpec;
  /** The feature view snapshots served (a model with views only). */
  readonly views?: ModelViews;
  current?: LoadedVersion;
  loading?: Promise<void>;
  lastAliasCheck: number;
  /** Last load failure, kept so the API can say why it still serves an older version. */
  loadError?: { version: number; message: string };
  readonly waiting: Chunk[];
  waitingRows: number;
  timer?: NodeJS.Timeout;
  /** Batches being scored now (at most BatchingOptions.maxInFlight). */
  running: number;
}

export interface ModelReadiness {
  readonly model: string;
  /** The version the champion alias names (null: nothing promoted yet). */
  readonly champion: number | null;
  /** The version this process answers with (null: none loaded). */
  readonly serving: number | null;
  readonly loadError?: string;
  /** Each feature view's snapshot served: as of when, materialized when, and whether it is older than the view's maxAge. */
  readonly views?: ViewReadiness[];
}

export interface ViewReadiness {
  readonly view: string;
  readonly asOf: string | null;
  readonly materializedAt: string | null;
  /** Seconds since it was materialized (null: never). */
  readonly ageSeconds: number | null;
  readonly maxAgeSeconds: number;
  /** Never materialized, or materialized longer ago than the view's maxAge. */
  readonly stale: boolean;
}

/** Per feature view: the row's entity had no value (it got the view's default), or its value was older than the view's maxAge. */
export type RowViews = Readonly<Record<string, { readonly missing: boolean; readonly stale: boolean }>>;

/** One row's answer: the prediction and the features the model saw (and, with views, how each was served). */
export type PredictedRow = PredictionValue & {
  readonly features: Readonly<Record<string, string | number | null>>;
  readonly views?: RowViews;
  /** With explain: each feature's TreeSHAP contribution to the raw score. */
  readonly explanation?: RowExplanation;
};

export interface PredictionBatch {
  readonly model: string;
  readonly version: number;
  readonly task: ModelCard['task'];
  readonly labelColumn: string;
  readonly rows: readonly PredictedRow[];
  /** The feature view snapshots joined, when the model has views. */
  readonly views?: readonly ViewAnswer[];
}

/** Each served view's snapshot, its age since materialized and whether that passes the view's maxAge. */
function viewReadiness(views: ModelViews): ViewReadiness[] {
  return views.current.views.map((v) => {
    const ageSeconds = v.record ? Math.max(0, (Date.now() - Date.parse(v.record.materializedAt)) / 1000) : null;
    const maxAgeSeconds = v.view.maxAge.ms / 1000;
    return { view: v.view.name, asOf: v.record?.asOf ?? null, materializedAt: v.record?.materializedAt ?? null, ageSeconds, maxAgeSeconds, stale: ageSeconds === null || ageSeconds > maxAgeSeconds };
  });
}

function featuresOf(table: ColumnTable, r: number): Record<string, string | number | null> {
  return Object.fromEntries(
    table.columns.map((c) => [c.name, c.kind === 'numeric' ? (Number.isNaN(c.values[r]!) ? null : c.values[r]!) : (c.dictionary[c.codes[r]!] ?? null)]),
  );
}

export class Predictor {
  private readonly registry: Registry;
  private readonly featureStore;
  private readonly models = new Map<string, Promise<ModelState>>();
  /** The states of `models` that are ready, for what must be read without waiting (metrics). */
  private readonly settled = new Map<string, ModelState>();
  private readonly threads: Worker[] = [];
  /** The scorer in this thread, for small batches (all of them without scoring threads). */
  private readonly inline: Promise<Scorer> | undefined;
  /** TreeSHAP for requests that ask for it, in a thread of its own (started on the first such request). */
  private readonly explainer: Explainer;
  private readonly pending = new Map<number, { thread: number; resolve(reply: PredictorReply): void; reject(err: unknown): void }>();
  private nextId = 1;
  private nextThread = 0;
  private closing = false;

  private constructor(
    private readonly paths: Paths,
    private readonly events: PredictorEvents,
    readonly batching: BatchingOptions,
  ) {
    this.registry = openRegistry(paths);
    this.featureStore = openFeatureStore(paths);
    this.explainer = new Explainer(this.registry);
    for (let i = 0; i < batching.scoringThreads; i++) this.threads.push(this.startScoringThread(i));
    this.inline = batching.scoringThreads === 0 || batching.inlineMaxRows > 0 ? createScorer() : undefined;
    this.inline?.catch(() => undefined); // a failure surfaces on the first batch that needs it
  }

  static async create(paths: Paths, events: PredictorEvents = { log() {} }, batching: BatchingOptions = DEFAULT_BATCHING): Promise<Predictor> {
    return new Predictor(paths, events, batching);
  }

  /** Scoring thread `index`; should one ever die, the next requests load everything again. */
  private startScoringThread(index: number): Worker {
    const thread = startThread(threadFile, null);
    thread.on('message', (reply: PredictorReply) => {
      const call = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      call?.resolve(reply);
    });
    thread.on('error', (err) => this.events.log('scoring_thread_failed', { thread: index, error: err.message }));
    thread.on('exit', (code) => {
      if (this.closing) return;
      this.events.log('scoring_thread_exited', { thread: index, code });
      for (const [id, call] of this.pending) {
        if (call.thread !== index) continue;
        this.pending.delete(id);
        call.reject(new Error(`a scoring thread stopped (exit code ${code})`));
      }
      this.models.clear();
      this.settled.clear();
      this.threads[index] = this.startScoringThread(index);
    });
    return thread;
  }

  /** One request to a scoring thread or to the scorer in this thread. */
  private async ask(lane: Lane, request: WithoutId<PredictorRequest>): Promise<Extract<PredictorReply, { ok: true }>> {
    const id = this.nextId++;
    const reply =
      lane === 'inline'
        ? await (await this.inline!).score({ ...request, id } as PredictorRequest)
        : await new Promise<PredictorReply>((resolve, reject) => {
            this.pending.set(id, { thread: lane, resolve, reject });
            this.threads[lane]!.postMessage({ ...request, id });
          });
    if (!reply.ok) throw new Error(reply.error);
    return reply;
  }

  /** The same request to every lane (prepare, load, unload): each scores batches. */
  private async tellAll(request: WithoutId<PredictorRequest>): Promise<Extract<PredictorReply, { ok: true }>[]> {
    const lanes: Lane[] = [...this.threads.keys(), ...(this.inline ? ['inline' as const] : [])];
    return Promise.all(lanes.map((lane) => this.ask(lane, request)));
  }

  /** Small batches (and all, without scoring threads) here; the others take turns between the threads. */
  private laneFor(rows: number): Lane {
    if (this.inline && (this.threads.length === 0 || rows <= this.batching.inlineMaxRows)) return 'inline';
    this.nextThread = (this.nextThread + 1) % this.threads.length;
    return this.nextThread;
  }

  /** Throws UnknownModelError for a model without a spec. */
  async spec(model: string): Promise<LoadedSpec> {
    return (await this.state(model)).loaded;
  }

  private state(model: string): Promise<ModelState> {
    let state = this.models.get(model);
    if (!state) {
      state = (async () => {
        const loaded = await loadSpec(this.paths, model);
        if (loaded.spec.features.views.length === 0) {
          await this.prepare(loaded, undefined);
          return { loaded, lastAliasCheck: 0, waiting: [], waitingRows: 0, running: 0 };
        }
        await checkViews(loaded);
        const views = new ModelViews(loaded, this.featureStore);
        views.due();
        const change = await views.changes();
        if (change) await this.serveViews(loaded, views, change);
        else await this.prepare(loaded, views.current);
        return { loaded, views, lastAliasCheck: 0, waiting: [], waitingRows: 0, running: 0 };
      })();
      this.models.set(model, state);
      const pending = state;
      state.then(
        (s) => this.models.get(model) === pending && this.settled.set(model, s),
        () => this.models.delete(model),
      );
    }
    return state;
  }

  /** Prepare the model's feature query in every lane (over the snapshots of `query`, for a model with views). */
  private async prepare(loaded: LoadedSpec, query: ServedQuery | undefined): Promise<void> {
    const { spec } = loaded;
    await this.tellAll({
      type: 'prepare',
      model: spec.name,
      ...(query ? { query: query.name } : {}),
      sql: featureQuery(loaded, requestSource(spec), false, query ? snapshotSource(query) : undefined, query !== undefined),
      features: query ? [...featureColumns(spec), ...viewFlagColumns(spec)] : featureColumns(spec),
      statements: this.batching.maxInFlight,
    }).catch((err: unknown) => {
      // DuckDB names the column but not the spec: a feature the SQL does not produce, or SQL that does not bind.
      const reason = errorMessage(err);
      if (!/\b(Binder|Parser|Catalog) Error\b/.test(reason)) throw err;
      throw new InvalidSpecError(loaded.shownFile, 'features', `the feature SQL (${spec.features.sql}) does not prepare over the request columns: ${reason}`);
    });
  }

  /** Load newer snapshots as tables in every lane, prepare the query over them, then serve it. */
  private async serveViews(loaded: LoadedSpec, views: ModelViews, change: ViewChange): Promise<void> {
    const next = await views.loadTables(change, async (request) => (await this.tellAll(request))[0] ?? {});
    await this.prepare(loaded, next);
    const drop = views.swap(next);
    for (const { table, record } of change.load) this.events.log('feature_snapshot_loaded', { model: loaded.spec.name, view: record.view, asOf: record.asOf, snapshot: record.key, table });
    if (drop.queries.length || drop.tables.length) this.tellAll({ type: 'drop', ...drop }).catch(() => undefined);
  }

  /** Look for newer snapshots in the background, at most every VIEW_CHECK_MS; requests never wait for it. */
  private followViews(state: ModelState): void {
    const views = state.views;
    if (!views || views.refreshing || !views.due()) return;
    views.refreshing = (async () => {
      const change = await views.changes();
      if (change) await this.serveViews(state.loaded, views, change);
    })()
      .catch((err: unknown) => this.events.log('feature_snapshot_load_failed', { model: state.loaded.spec.name, error: errorMessage(err) }))
      .finally(() => (views.refreshing = undefined));
  }

  /**
   * The version that serves requests now. The alias is re-read at most every ALIAS_CHECK_MS;
   * once a version serves, no request waits for that read (or for loading a new version): a
   * move is picked up in the background and swapped in when its session is ready.
   */
  private async champion(model: string, state: ModelState): Promise<LoadedVersion> {
    const now = Date.now();
    if (now - state.lastAliasCheck >= ALIAS_CHECK_MS || !state.current) {
      state.lastAliasCheck = now;
      const followed = this.followAlias(model, state);
      if (state.current) followed.catch(() => undefined); // keep serving what we have
      else await followed;
    }
    if (!state.current) {
      throw state.loadError ? new ModelUnavailableError(model, state.loadError.version, state.loadError.message) : new NoChampionError(model);
    }
    return state.current;
  }

  /** The newest version's last evaluation and the gate checks it failed, when there is one. */
  private async lastEvaluation(model: string): Promise<{ version: number; outcome: string; failedChecks: string[] } | undefined> {
    const newest = (await this.registry.listVersions(model).catch(() => [])).at(-1);
    if (newest === undefined) return undefined;
    const evaluation = (await this.registry.readCard(model, newest).catch(() => undefined))?.evaluations?.at(-1);
    if (!evaluation) return undefined;
    const failedChecks = evaluation.report.gate.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);
    return { version: newest, outcome: evaluation.outcome, failedChecks };
  }

  /** Read the champion alias and start loading the version it names when that is new. */
  private async followAlias(model: string, state: ModelState): Promise<void> {
    const alias = await this.registry.getAlias(model, CHAMPION);
    if (!alias) {
      if (state.current) return; // alias removed by hand: keep serving what we have
      throw new NoChampionError(model, CHAMPION, await this.lastEvaluation(model));
    }
    if (alias.version !== state.current?.version && alias.version !== state.loadError?.version) {
      state.loading ??= this.load(state, model, alias.version).finally(() => (state.loading = undefined));
      if (!state.current) await state.loading;
    }
  }

  private async load(state: ModelState, model: string, version: number): Promise<void> {
    try {
      const card = await this.registry.readCard(model, version);
      await this.tellAll({ type: 'load', model, version, file: await this.registry.modelFile(model, version), threads: this.batching.threads });
      const previous = state.current;
      state.current = { version, card, task: modelTask(card), inFlight: 0, retired: false };
      state.loadError = undefined;
      this.events.log('model_loaded', { model, version, previousVersion: previous?.version ?? null });
      this.events.loaded?.(model, version, 'loaded');
      if (previous) this.retire(previous);
    } catch (err) {
      state.loadError = { version, message: errorMessage(err) };
      this.events.log('model_load_failed', { model, version, error: state.loadError.message, servingVersion: state.current?.version ?? null });
      this.events.loaded?.(model, version, 'failed');
    }
  }

  private retire(v: LoadedVersion): void {
    v.retired = true;
    if (v.inFlight === 0) this.unload(v);
  }

  private unload(v: LoadedVersion): void {
    this.tellAll({ type: 'unload', model: v.card.model, version: v.version }).catch(() => undefined);
  }

  /** The feature view snapshots served now, per model with views that has answered or been checked. */
  servedViews(): (ViewReadiness & { model: string })[] {
    const out: (ViewReadiness & { model: string })[] = [];
    for (const [model, state] of this.settled) if (state.views) out.push(...viewReadiness(state.views).map((v) => ({ model, ...v })));
    return out;
  }

  /**
   * For each model: the version its champion alias names, the version this process serves,
   * and why they differ when a load failed. Loads champions not loaded yet.
   */
  async readiness(models: readonly string[]): Promise<ModelReadiness[]> {
    const out: ModelReadiness[] = [];
    for (const model of models) {
      const champion = (await this.registry.getAlias(model, CHAMPION))?.version ?? null;
      let problem: string | undefined;
      const state = await this.state(model).catch((err: unknown) => {
        problem = errorMessage(err);
        return undefined;
      });
      if (state && champion !== null) await this.champion(model, state).catch((err: unknown) => (problem = errorMessage(err)));
      const serving = state?.current?.version ?? null;
      const loadError = state?.loadError ? `v${state.loadError.version}: ${state.loadError.message}` : problem;
      if (state) this.followViews(state);
      const views = state?.views ? viewReadiness(state.views) : undefined;
      out.push({ model, champion, serving, ...(loadError ? { loadError } : {}), ...(views ? { views } : {}) });
    }
    return out;
  }

  /**
   * Predict `rows` (each the request's raw fields as text, in the spec's request-column order)
   * with the champion. Rows wait at most `maxWaitMs` for others to share their batch. With
   * `explain`, each answer also carries its explanation, computed after the batch from the
   * features the model saw, by the version that answered.
   */
  async predict(model: string, rows: readonly (readonly RequestValue[])[], options: { readonly explain?: boolean } = {}): Promise<PredictionBatch> {
    const state = await this.state(model);
    const expected = requestColumns(state.loaded.spec).length;
    if (rows.some((r) => r.length !== expected)) throw new Error(`expected ${expected} request values per row`);
    await this.champion(model, state); // 503 now, not after the wait, when there is nothing to serve
    const { version, rows: predicted, views } = await new Promise<{ version: LoadedVersion; rows: PredictedRow[]; views?: ViewAnswer[] }>((resolve, reject) => {
      const request: PendingRequest = { results: new Array<PredictedRow>(rows.length), remaining: 0, resolve, reject };
      for (let offset = 0; offset < rows.length; offset += this.batching.maxBatchRows) {
        request.remaining++;
        state.waiting.push({ request, offset, rows: rows.slice(offset, offset + this.batching.maxBatchRows) });
      }
      state.waitingRows += rows.length;
      this.schedule(model, state);
    });
    const answered = options.explain ? await this.withExplanations(version.card, predicted) : predicted;
    return { model, version: version.version, task: version.card.task, labelColumn: version.card.labelColumn, rows: answered, ...(views ? { views } : {}) };
  }

  private async withExplanations(card: ModelCard, rows: readonly PredictedRow[]): Promise<PredictedRow[]> {
    const explanations = await this.explainer.explain(card, rows);
    return rows.map((row, r) => ({ ...row, explanation: explanations[r]! }));
  }

  /**
   * Start a batch now when one is full, else after the wait. Up to maxInFlight batches of a
   * model are scored at once, so the scoring thread works on one while this thread gathers
   * and answers the requests of another.
   */
  private schedule(model: string, state: ModelState): void {
    if (state.running >= this.batching.maxInFlight || state.waiting.length === 0) return;
    // Nothing being scored: go now, a lone request should not wait for company. Rows arriving
    // while batches are being scored wait for them (up to maxWaitMs), and so gather.
    if (state.running === 0 || state.waitingRows >= this.batching.maxBatchRows || this.batching.maxWaitMs <= 0) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
      void this.runBatch(model, state);
    } else {
      state.timer ??= setTimeout(() => {
        state.timer = undefined;
        void this.runBatch(model, state);
      }, this.batching.maxWaitMs);
    }
  }

  private async runBatch(model: string, state: ModelState): Promise<void> {
    if (state.running >= this.batching.maxInFlight || state.waiting.length === 0) return;
    state.running++;
    const chunks: Chunk[] = [];
    let rows = 0;
    while (state.waiting.length && (chunks.length === 0 || rows + state.waiting[0]!.rows.length <= this.batching.maxBatchRows)) {
      const chunk = state.waiting.shift()!;
      chunks.push(chunk);
      rows += chunk.rows.length;
    }
    state.waitingRows -= rows;
    let version: LoadedVersion | undefined;
    try {
      version = await this.champion(model, state);
      version.inFlight++;
      this.followViews(state);
      const query = state.views?.current;
      const parameters = requestParameters(
        chunks.flatMap((c) => c.rows),
        requestColumns(state.loaded.spec).length,
      );
      const scored = await this.ask(this.laneFor(rows), {
        type: 'predict',
        model,
        ...(query ? { query: query.name } : {}),
        version: version.version,
        output: version.card.output,
        parameters,
      });
      const featureCount = state.loaded.spec.features.columns.length;
      const features: ColumnTable = { rows: scored.rows!, columns: scored.features!.slice(0, featureCount) };
      const rowViews = query ? this.rowViews(model, query, scored.features!.slice(featureCount), scored.rows!) : undefined;
      const answers = query ? viewAnswers(query) : undefined;
      const output = scored.output!;
      this.events.batch?.(model, rows);
      let r = 0;
      for (const chunk of chunks) {
        for (let i = 0; i < chunk.rows.length; i++, r++) {
          chunk.request.results[chunk.offset + i] = { ...version.task.answer(output, r), features: featuresOf(features, r), ...(rowViews ? { views: rowViews[r]! } : {}) };
        }
        if (answers) chunk.request.views = answers;
        this.finishChunk(chunk, version);
      }
    } catch (err) {
      for (const chunk of chunks) chunk.request.reject(err);
    } finally {
      if (version) {
        version.inFlight--;
        if (version.retired && version.inFlight === 0) this.unload(version);
      }
      state.running--;
      // Rows that arrived during this batch have waited already: the next batch starts now.
      if (state.waiting.length) void this.runBatch(model, state);
    }
  }

  /** Per row, how each view was served (from the query's flag columns: missing, stale per view), counted for the metrics. */
  private rowViews(model: string, query: ServedQuery, flags: readonly Column[], rows: number): RowViews[] {
    const out: Record<string, { missing: boolean; stale: boolean }>[] = Array.from({ length: rows }, () => ({}));
    query.views.forEach((v, k) => {
      const missing = flags[2 * k]!;
      const stale = flags[2 * k + 1]!;
      if (missing.kind !== 'numeric' || stale.kind !== 'numeric') throw new Error('view flag columns must be numeric');
      let missed = 0;
      let old = 0;
      for (let r = 0; r < rows; r++) {
        const m = missing.values[r] === 1;
        const s = stale.values[r] === 1;
        missed += m ? 1 : 0;
        old += s ? 1 : 0;
        out[r]![v.view.name] = { missing: m, stale: s };
      }
      this.events.views?.(model, v.view.name, missed, old);
    });
    return out;
  }

  /** A request answered by more than one batch answers with one version: a swap in between retries it whole. */
  private finishChunk(chunk: Chunk, version: LoadedVersion): void {
    const request = chunk.request;
    request.versionHolder ??= version;
    if (request.versionHolder !== version) {
      request.reject(new ModelUnavailableError(version.card.model, version.version, 'the champion changed while this request was being answered; send it again'));
      return;
    }
    if (--request.remaining === 0) request.resolve({ version, rows: request.results, ...(request.views ? { views: request.views } : {}) });
  }

  close(): void {
    this.closing = true;
    this.explainer.close();
    for (const thread of this.threads) void thread.terminate();
    void this.inline?.then((scorer) => scorer.close()).catch(() => undefined);
  }
}
