// Online predictions: the request's raw fields go through the model's own feature SQL in
// DuckDB (the same query training used), then through the champion's ONNX session.
//
// The champion is followed without a restart: the alias file is re-read at most every
// ALIAS_CHECK_MS; a new version is loaded in the background while the old one keeps
// serving, then swapped in one assignment. A request holds the session it started with
// until it finishes, and an old session is released only when no request holds it.
import type { DuckDBPreparedStatement } from '@duckdb/node-api';
import type { Paths } from '../core/config.js';
import { openDuckDB, readColumns, type OpenDuckDB } from '../core/duckdb.js';
import { ModelUnavailableError, NoChampionError } from '../core/errors.js';
import { featureColumns, featureQuery, requestSource } from '../core/features.js';
import { loadSession, runModel, type InferenceSession } from '../core/inference.js';
import { CHAMPION, Registry, type ModelCard } from '../core/registry.js';
import { loadSpec, requestColumns, type LoadedSpec } from '../core/spec.js';
import type { ColumnTable } from '../ml/table.js';

const ALIAS_CHECK_MS = 200;

interface LoadedVersion {
  readonly version: number;
  readonly card: ModelCard;
  readonly session: InferenceSession;
  inFlight: number;
  retired: boolean;
}

interface ModelState {
  readonly loaded: LoadedSpec;
  readonly statement: DuckDBPreparedStatement;
  current?: LoadedVersion;
  loading?: Promise<void>;
  lastAliasCheck: number;
  /** Last load failure, kept so the API can say why it still serves an older version. */
  loadError?: { version: number; message: string };
  /** Prepared statements bind then run: one request at a time per statement. */
  queue: Promise<unknown>;
}

export interface ModelReadiness {
  readonly model: string;
  /** The version the champion alias names (null: nothing promoted yet). */
  readonly champion: number | null;
  /** The version this process answers with (null: none loaded). */
  readonly serving: number | null;
  readonly loadError?: string;
}

/** What the served version says about one row, in the shape of its task. */
export type PredictionValue =
  | { readonly probability: number; readonly label: boolean; readonly threshold: number }
  | { readonly probabilities: Readonly<Record<string, number>>; readonly label: string }
  | { readonly prediction: number };

export type Prediction = {
  readonly model: string;
  readonly version: number;
  readonly task: ModelCard['task'];
  readonly labelColumn: string;
  readonly features: Readonly<Record<string, string | number | null>>;
} & PredictionValue;

/** Read row `r` of a model's output the way its card describes it. */
export function interpretOutput(card: ModelCard, output: ArrayLike<number>, r: number): PredictionValue {
  if (card.task === 'multiclass') {
    const classes = card.classes ?? [];
    const K = classes.length;
    let best = 0;
    const probabilities: Record<string, number> = {};
    classes.forEach((c, k) => {
      probabilities[c] = output[r * K + k]!;
      if (output[r * K + k]! > output[r * K + best]!) best = k;
    });
    return { probabilities, label: classes[best]! };
  }
  if (card.task === 'regression') return { prediction: output[r]! };
  return { probability: output[r]!, label: output[r]! >= card.decisionThreshold, threshold: card.decisionThreshold };
}

export class Predictor {
  private readonly registry: Registry;
  private readonly models = new Map<string, Promise<ModelState>>();

  private constructor(
    private readonly paths: Paths,
    private readonly db: OpenDuckDB,
    private readonly log: (event: string, fields: Record<string, unknown>) => void,
  ) {
    this.registry = new Registry(paths.registryDir);
  }

  static async create(paths: Paths, log: Predictor['log'] = () => {}): Promise<Predictor> {
    return new Predictor(paths, await openDuckDB({ threads: 1 }), log);
  }

  /** Throws UnknownModelError for a model without a spec. */
  async spec(model: string): Promise<LoadedSpec> {
    return (await this.state(model)).loaded;
  }

  private state(model: string): Promise<ModelState> {
    let state = this.models.get(model);
    if (!state) {
      state = (async () => {
        const loaded = await loadSpec(this.paths.modelsDir, this.paths.sqlDir, model);
        const statement = await this.db.connection.prepare(featureQuery(loaded, requestSource(loaded.spec, 1), false));
        return { loaded, statement, lastAliasCheck: 0, queue: Promise.resolve() };
      })();
      this.models.set(model, state);
      state.catch(() => this.models.delete(model));
    }
    return state;
  }

  /** The version that serves requests now, after picking up an alias move. */
  async champion(model: string): Promise<LoadedVersion> {
    const state = await this.state(model);
    const now = Date.now();
    if (now - state.lastAliasCheck >= ALIAS_CHECK_MS || !state.current) {
      state.lastAliasCheck = now;
      const alias = await this.registry.getAlias(model, CHAMPION);
      if (!alias) {
        if (state.current) return state.current; // alias removed by hand: keep serving what we have
        throw new NoChampionError(model);
      }
      if (alias.version !== state.current?.version && alias.version !== state.loadError?.version) {
        state.loading ??= this.load(state, model, alias.version).finally(() => (state.loading = undefined));
        if (!state.current) await state.loading;
      }
    }
    if (!state.current) {
      throw state.loadError
        ? new ModelUnavailableError(model, state.loadError.version, state.loadError.message)
        : new NoChampionError(model);
    }
    return state.current;
  }

  private async load(state: ModelState, model: string, version: number): Promise<void> {
    try {
      const card = await this.registry.readCard(model, version);
      const session = await loadSession(this.registry.modelPath(model, version));
      const previous = state.current;
      state.current = { version, card, session, inFlight: 0, retired: false };
      state.loadError = undefined;
      this.log('model_loaded', { model, version, previousVersion: previous?.version ?? null });
      if (previous) this.retire(previous);
    } catch (err) {
      state.loadError = { version, message: err instanceof Error ? err.message : String(err) };
      this.log('model_load_failed', { model, version, error: state.loadError.message, servingVersion: state.current?.version ?? null });
    }
  }

  private retire(v: LoadedVersion): void {
    v.retired = true;
    if (v.inFlight === 0) void v.session.release();
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
      if (champion !== null) await this.champion(model).catch((err: unknown) => (problem = err instanceof Error ? err.message : String(err)));
      const state = await this.models.get(model)?.catch(() => undefined);
      const serving = state?.current?.version ?? null;
      const loadError = state?.loadError ? `v${state.loadError.version}: ${state.loadError.message}` : problem;
      out.push({ model, champion, serving, ...(loadError ? { loadError } : {}) });
    }
    return out;
  }

  /** `values` are the request's raw fields as text, in the spec's request-column order. */
  async predict(model: string, values: readonly string[]): Promise<Prediction> {
    const state = await this.state(model);
    const version = await this.champion(model);
    version.inFlight++;
    try {
      const features = await this.features(state, values);
      const output = await runModel(version.session, features, version.card.output);
      return {
        model,
        version: version.version,
        task: version.card.task,
        labelColumn: version.card.labelColumn,
        ...interpretOutput(version.card, output, 0),
        features: Object.fromEntries(
          features.columns.map((c) => [
            c.name,
            c.kind === 'numeric' ? (Number.isNaN(c.values[0]!) ? null : c.values[0]!) : (c.dictionary[c.codes[0]!] ?? null),
          ]),
        ),
      };
    } finally {
      version.inFlight--;
      if (version.retired && version.inFlight === 0) void version.session.release();
    }
  }

  private features(state: ModelState, values: readonly string[]): Promise<ColumnTable> {
    const expected = requestColumns(state.loaded.spec).length;
    if (values.length !== expected) throw new Error(`expected ${expected} request values, got ${values.length}`);
    const run = state.queue.then(async () => {
      state.statement.bind([...values]);
      return readColumns(await state.statement.stream(), featureColumns(state.loaded.spec));
    });
    state.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.db.close();
  }
}
