// Where everything lives, decided once from the environment. Every process (worker, API,
// launcher, tests) resolves paths through here so they agree on one layout.
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostPortSetting } from './env.js';
import { errorMessage, InvalidSettingError } from './errors.js';

/**
 * The repository root (the folder with package.json): specs, SQL and the vega-datasets package
 * are found relative to it, whether this file runs as source (core/) or compiled (dist/core/).
 */
export const PROJECT_ROOT = projectRoot(path.dirname(fileURLToPath(import.meta.url)));

function projectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..');
  }
}

export interface Paths {
  /** Runtime state: lake, registry, Temporal's SQLite file, per-run work folders. */
  readonly stateDir: string;
  /** Hive-partitioned Parquet, one folder per dataset (`<lake>/<dataset>/week=YYYY-MM-DD/`). */
  readonly lakeDir: string;
  /** Weeks prepared by the bootstrap but not yet released into the lake. */
  readonly arrivalsDir: string;
  /** Immutable model versions and their aliases. */
  readonly registryDir: string;
  /** Scratch space for runs in progress (training sets, checkpoints), keyed by workflow run. */
  readonly workDir: string;
  /** Batch predictions, partitioned like the lake: `<predictions>/<model>/<key>=<value>/v<version>.parquet`. */
  readonly predictionsDir: string;
  /** Monitoring reports: `<reports>/<model>/<run>/{report.json, report.html}`. */
  readonly reportsDir: string;
  /** Model specs (`<name>.json`). */
  readonly modelsDir: string;
  /** Dataset declarations (`<name>.json`): columns, sources, partitioning, contract. */
  readonly datasetsDir: string;
  /** SQL files, loaded by name. */
  readonly sqlDir: string;
  /**
   * Where product state lives when it is not the folders above: a bucket of an S3-compatible
   * store (`MLOPS_STORE=s3://bucket/prefix`). Null: the folders (the embedded default).
   */
  readonly store: StoreLocation | null;
}

export interface StoreLocation {
  readonly bucket: string;
  /** Key prefix inside the bucket, without leading or trailing '/'; may be empty. */
  readonly prefix: string;
}

/** The MLOPS_STORE value naming a location. */
export function storeUrl(location: StoreLocation): string {
  return `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ''}`;
}

/** `MLOPS_STORE`: unset, empty or `file:` for the folders; `s3://bucket[/prefix]` for a bucket. */
export function storeLocation(value: string | undefined): StoreLocation | null {
  if (value === undefined || value === '' || value === 'file:') return null;
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(value);
  const prefix = m?.[2]?.replace(/^\/+|\/+$/g, '') ?? '';
  if (!m || prefix.split('/').some((p) => p === '.' || p === '..') || prefix.includes('//')) {
    throw new InvalidSettingError('MLOPS_STORE', value, "must be unset (the state folder) or s3://<bucket>[/<prefix>], e.g. s3://mlops-state/prod");
  }
  return { bucket: m[1]!, prefix };
}

export function resolvePaths(env: NodeJS.ProcessEnv = process.env): Paths {
  const stateDir = path.resolve(env.MLOPS_STATE_DIR ?? path.join(PROJECT_ROOT, '.state'));
  return {
    stateDir,
    lakeDir: path.resolve(env.MLOPS_LAKE_DIR ?? path.join(stateDir, 'lake')),
    arrivalsDir: path.resolve(env.MLOPS_ARRIVALS_DIR ?? path.join(stateDir, 'arrivals')),
    registryDir: path.resolve(env.MLOPS_REGISTRY_DIR ?? path.join(stateDir, 'registry')),
    workDir: path.resolve(env.MLOPS_WORK_DIR ?? path.join(stateDir, 'work')),
    predictionsDir: path.resolve(env.MLOPS_PREDICTIONS_DIR ?? path.join(stateDir, 'predictions')),
    reportsDir: path.resolve(env.MLOPS_REPORTS_DIR ?? path.join(stateDir, 'reports')),
    modelsDir: path.resolve(env.MLOPS_MODELS_DIR ?? path.join(PROJECT_ROOT, 'models')),
    datasetsDir: path.resolve(env.MLOPS_DATASETS_DIR ?? path.join(PROJECT_ROOT, 'datasets')),
    sqlDir: path.resolve(env.MLOPS_SQL_DIR ?? path.join(PROJECT_ROOT, 'sql')),
    store: storeLocation(env.MLOPS_STORE),
  };
}

/**
 * Make the state folder when it is missing. A file in its place, or a folder this process cannot
 * write, stops the process at start-up with the variable's name, instead of failing every request.
 */
export function ensureStateDir(paths: Paths): void {
  try {
    mkdirSync(paths.stateDir, { recursive: true });
    if (!statSync(paths.stateDir).isDirectory()) throw new Error('it is not a folder');
    accessSync(paths.stateDir, constants.W_OK);
  } catch (err) {
    throw new InvalidSettingError('MLOPS_STATE_DIR', paths.stateDir, `must be a folder this process can write (${errorMessage(err)})`);
  }
}

export interface TemporalSettings {
  readonly address: string;
  readonly namespace: string;
  readonly taskQueue: string;
  /** Base URL of the Temporal Web UI, used to link runs from API responses. */
  readonly uiUrl: string;
}

export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  return {
    address: hostPortSetting(env, 'TEMPORAL_ADDRESS', '127.0.0.1:7233'),
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.MLOPS_TASK_QUEUE ?? 'mlops',
    uiUrl: (env.TEMPORAL_UI_URL ?? 'http://localhost:8233').replace(/\/$/, ''),
  };
}

/** Link to one workflow run in the Temporal Web UI. */
export function temporalUiLink(settings: TemporalSettings, workflowId: string, runId: string): string {
  return `${settings.uiUrl}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(
    workflowId,
  )}/${encodeURIComponent(runId)}/history`;
}

/** The flights file shipped by the vega-datasets npm package: the embedded default data. */
export const FLIGHTS_SOURCE = path.join(PROJECT_ROOT, 'node_modules', 'vega-datasets', 'data', 'flights-3m.parquet');
