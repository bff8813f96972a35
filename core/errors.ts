// Domain errors: one small class per failure, with readonly context. Whether a failure is
// worth retrying is decided here, once (classifyFailure: each class says whether it is
// `retryable`, DuckDB's errors by their kind); the worker's activity interceptor turns that
// into Temporal's non-retryable flag, and api/errors.ts gives each class its HTTP status.
// This module is pure so workflows may import it.
import type { RetryPolicy } from '@temporalio/common';

/** Base class: `name` is the class name, which Temporal uses as the failure type. */
export abstract class MlopsError extends Error {
  /**
   * Whether trying the same thing again may succeed. Most failures here are deterministic
   * (the same spec, data or request fails the same way), so they fail at once; a class whose
   * cause can pass (a server or store that may answer later) says true.
   */
  readonly retryable: boolean = false;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * DuckDB refused or failed a query. Parser, binder, catalog, conversion and the other
 * errors about the query or the data are deterministic; I/O, network, HTTP, memory and
 * interruption errors may pass, so they are retried.
 */
export class SqlError extends MlopsError {
  override readonly retryable: boolean;

  constructor(
    /** DuckDB's kind of error: Parser, Binder, Catalog, Conversion, IO ... */
    readonly kind: string,
    /** DuckDB's message, with the line of SQL it points at. */
    readonly problem: string,
    /** The SQL file the query was built on, relative to the SQL folder, when known. */
    readonly file?: string,
  ) {
    super(file ? `in a query over ${file}: ${problem}` : problem);
    this.retryable = TRANSIENT_DUCKDB_KINDS.has(kind);
  }
}

/** DuckDB error kinds whose cause may pass (DuckDB's ExceptionType names). */
const TRANSIENT_DUCKDB_KINDS = new Set(['IO', 'Network', 'HTTP', 'Out of Memory', 'INTERRUPT', 'Connection']);

/** DuckDB's messages start `<Kind> Error: `, also after a prefix a thread or file name added. */
const DUCKDB_MESSAGE = /(?:^|: )([A-Z][A-Za-z-]*(?: [A-Za-z-]+)*) Error: ([\s\S]*)$/;

/** The SqlError a DuckDB error stands for (naming `file` when given), or undefined for any other error. */
export function sqlErrorOf(err: unknown, file?: string): SqlError | undefined {
  if (err instanceof SqlError) return file && !err.file ? new SqlError(err.kind, err.problem, file) : err;
  if (!(err instanceof Error) || err instanceof MlopsError) return undefined;
  const m = DUCKDB_MESSAGE.exec(err.message);
  if (!m) return undefined;
  const problem = err.message.slice(m.index === 0 ? 0 : m.index + 2);
  return new SqlError(m[1]!, problem, file);
}

/** Run `work`, which queries SQL built on `file`: a DuckDB error becomes a SqlError naming the file. */
export async function namingSqlFile<T>(file: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw sqlErrorOf(err, file) ?? err;
  }
}

/** How a failure is reported to Temporal: its type, whether retrying is pointless, and its context. */
export interface FailureClass {
  /** False for an error nobody foresaw: it keeps its own form, and is retried. */
  readonly known: boolean;
  readonly type: string;
  readonly message: string;
  readonly nonRetryable: boolean;
  /** The error's own fields (file, column, model ...), shown with the failure. */
  readonly context: Readonly<Record<string, unknown>>;
}

/**
 * The one place that decides whether a failure is worth retrying: a domain error by its
 * class, a DuckDB error by its kind. Anything else (a busy file, a reset socket, an error
 * nobody foresaw) is retried with backoff and a cap, since it may be a passing fault.
 */
export function classifyFailure(err: unknown): FailureClass {
  const domain = err instanceof MlopsError ? err : sqlErrorOf(err);
  if (domain) {
    const context = Object.fromEntries(Object.entries(domain).filter(([k, v]) => k !== 'retryable' && k !== 'name' && v !== undefined && typeof v !== 'function'));
    return { known: true, type: domain.name, message: domain.message, nonRetryable: !domain.retryable, context };
  }
  const code = (err as { code?: unknown } | null)?.code;
  const name = err instanceof Error ? err.name : 'Error';
  return { known: false, type: name, message: errorMessage(err), nonRetryable: false, context: typeof code === 'string' ? { code } : {} };
}

/** A model name that has no spec in models/. */
export class UnknownModelError extends MlopsError {
  constructor(readonly model: string, readonly known: readonly string[]) {
    super(`unknown model '${model}'${known.length ? ` (known: ${known.join(', ')})` : ''}`);
  }
}

/** A dataset name that has no declaration in datasets/. */
export class UnknownDatasetError extends MlopsError {
  constructor(readonly dataset: string, readonly known: readonly string[]) {
    super(`unknown dataset '${dataset}'${known.length ? ` (declared: ${known.join(', ')})` : ' (none is declared in datasets/)'}`);
  }
}

/** A spec file that cannot be used: names the file (relative to the specs' folders) and the field. */
export class InvalidSpecError extends MlopsError {
  constructor(readonly file: string, readonly field: string, readonly problem: string) {
    super(`${file}: ${field}: ${problem}`);
  }
}

/** A raw file that cannot be ingested: names the file and, where known, the row and column. */
export class IngestError extends MlopsError {
  readonly row?: number;
  readonly column?: string;
  constructor(readonly file: string, readonly problem: string, where: { readonly row?: number; readonly column?: string } = {}) {
    super(`${file}${where.row ? `: row ${where.row}` : ''}${where.column ? `${where.row ? ',' : ':'} column ${where.column}` : ''}: ${problem}`);
    if (where.row !== undefined) this.row = where.row;
    if (where.column !== undefined) this.column = where.column;
  }
}

/** The data broke the model's contract (schema, nulls, label balance, volume). */
export class DataContractViolation extends MlopsError {
  constructor(
    readonly check: 'schema' | 'nulls' | 'label' | 'volume' | 'empty',
    readonly problem: string,
    readonly file?: string,
    readonly column?: string,
  ) {
    super(
      `data contract violated (${check})${file ? ` in ${file}` : ''}${column ? `, column '${column}'` : ''}: ${problem}`,
    );
  }
}

/** The exported ONNX model does not reproduce the trainer's predictions. */
export class OnnxParityError extends MlopsError {
  constructor(readonly maxAbsDiff: number, readonly rows: number, readonly labelMismatches: number) {
    super(
      `ONNX predictions differ from the trainer's: max |diff| ${maxAbsDiff.toExponential(3)} over ${rows} rows, ` +
        `${labelMismatches} label(s) differ`,
    );
  }
}

/** A model version that is not in the registry. */
export class UnknownVersionError extends MlopsError {
  constructor(readonly model: string, readonly version: number) {
    super(`model '${model}' has no version ${version}`);
  }
}

/** No version of the model holds the alias yet (nothing promoted). */
export class NoChampionError extends MlopsError {
  constructor(
    readonly model: string,
    readonly alias: string = 'champion',
    /** The newest version's last evaluation, when a gate refused it: why nothing serves. */
    readonly lastEvaluation?: { readonly version: number; readonly outcome: string; readonly failedChecks: readonly string[] },
  ) {
    super(
      lastEvaluation
        ? `model '${model}' has no ${alias}: v${lastEvaluation.version} was evaluated and ${lastEvaluation.outcome === 'failed-gate' ? 'refused by its gate' : `not promoted (${lastEvaluation.outcome})`}` +
            `${lastEvaluation.failedChecks.length ? ` (failed: ${lastEvaluation.failedChecks.join('; ')})` : ''}; see GET /models/${model}/versions/${lastEvaluation.version}`
        : `model '${model}' has no ${alias} yet: train one with POST /workflows/train {"model":"${model}"}`,
    );
  }
}

/** The champion's model file could not be loaded (corrupt or missing). */
export class ModelUnavailableError extends MlopsError {
  constructor(readonly model: string, readonly version: number, readonly reason: string) {
    super(`model '${model}' v${version} could not be loaded: ${reason}`);
  }
}

/** The Temporal server cannot be reached: workflows cannot be started or read right now. */
export class TemporalUnavailableError extends MlopsError {
  override readonly retryable = true;
  constructor(readonly address: string, readonly reason: string) {
    super(`Temporal is not reachable at ${address}: ${reason} (predictions are still served)`);
  }
}

/** An environment variable whose value cannot be used: names the variable, the value and what it takes. */
export class InvalidSettingError extends MlopsError {
  constructor(readonly variable: string, readonly value: string, readonly expected: string) {
    super(`${variable}=${JSON.stringify(value)}: ${expected}`);
  }
}

/** A request with bad fields: every problem is listed, each naming its field. */
export class InvalidRequestError extends MlopsError {
  constructor(readonly problems: readonly { field: string; problem: string }[]) {
    super(`invalid request: ${problems.map((p) => `${p.field}: ${p.problem}`).join('; ')}`);
  }
}

/** A request without a valid bearer token (HTTP 401). */
export class UnauthenticatedError extends MlopsError {
  constructor(readonly problem: string) {
    super(`authentication required: ${problem}`);
  }
}

/** A valid token without the scope a route needs (HTTP 403). */
export class ForbiddenError extends MlopsError {
  constructor(readonly principal: string, readonly scope: string) {
    super(`token '${principal}' lacks the '${scope}' scope this route needs`);
  }
}

/** A request body over the size limit (HTTP 413). */
export class PayloadTooLargeError extends MlopsError {
  constructor(readonly limitBytes: number) {
    super(`the request body is larger than ${limitBytes} bytes`);
  }
}

/** A monitoring report that does not exist. */
export class UnknownReportError extends MlopsError {
  constructor(readonly model: string, readonly reportId: string) {
    super(`model '${model}' has no report '${reportId}' (see GET /reports/${model})`);
  }
}

/** A workflow id the Temporal server does not know. */
export class UnknownWorkflowError extends MlopsError {
  constructor(
    readonly workflowId: string,
    readonly runId?: string,
  ) {
    super(runId ? `workflow '${workflowId}' has no run '${runId}'` : `no workflow with id '${workflowId}'`);
  }
}

/** A registered model file that cannot be used: changed since registration, or not loadable. */
export class CorruptModelError extends MlopsError {
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}; the champion is unchanged`);
  }
}

/**
 * A version scored on its holdout now does not score as its trainer measured on the same rows:
 * the data read this time differs from what it was. Retryable: the next attempt reads again.
 */
export class HoldoutMismatchError extends MlopsError {
  override readonly retryable = true;
  constructor(readonly model: string, readonly version: number, readonly problem: string) {
    super(`${model} v${version}: ${problem}; the holdout read now is not the data it was trained and checked on, so it is read again`);
  }
}

/** A partition that is not in the lake (or not released yet). */
export class UnknownPartitionError extends MlopsError {
  constructor(readonly dataset: string, readonly partition: string, readonly available: readonly string[]) {
    super(
      `dataset '${dataset}' has no partition '${partition}'` +
        (available.length ? ` (it has ${available.length}: ${available[0]} .. ${available.at(-1)})` : ' (it has none yet)'),
    );
  }
}

/** Batch scoring needs one feature row per input row; the model's feature SQL gave another count. */
export class FeatureRowCountError extends MlopsError {
  constructor(readonly sqlFile: string, readonly partition: string, readonly inputRows: number, readonly featureRows: number) {
    super(
      `${sqlFile}: returned ${featureRows} feature rows for the ${inputRows} rows of partition ${partition}; ` +
        'batch scoring needs exactly one feature row per input row (no filters, joins that add rows, or aggregates)',
    );
  }
}

/** The request is valid but conflicts with what is happening now (HTTP 409). */
export abstract class ConflictError extends MlopsError {}

/** An explanation was asked of a version registered without its trees (before explanations existed). */
export class ExplanationUnavailableError extends ConflictError {
  constructor(readonly model: string, readonly version: number) {
    super(`model '${model}' v${version} was registered without its trees' training counts, which explanations need: train a new version (POST /workflows/train {"model":"${model}"}) to explain its predictions`);
  }
}

/** Another promotion or rollback of the model is running: moves of one model go one at a time. */
export class PromotionInProgressError extends ConflictError {
  constructor(readonly model: string, readonly workflowId: string, readonly doing: string) {
    super(`a promotion of '${model}' is already running (workflow ${workflowId}: ${doing}); wait for it or decide it first`);
  }
}

/** A schedule's previous run is still going: its overlap policy skips a new one. */
export class ScheduleBusyError extends ConflictError {
  constructor(readonly scheduleId: string, readonly running: readonly string[]) {
    super(`schedule '${scheduleId}' did not start a run: its previous run is still going (${running.join(', ') || 'finishing'})`);
  }
}

/** A schedule id the Temporal server does not know. */
export class UnknownScheduleError extends MlopsError {
  constructor(readonly scheduleId: string) {
    super(`no schedule '${scheduleId}' (see GET /schedules)`);
  }
}

/** An approve or reject for a version that no promotion is waiting on. */
export class NoPendingApprovalError extends ConflictError {
  constructor(readonly model: string, readonly version: number, readonly doing: string) {
    super(`no promotion of '${model}' is waiting for approval of v${version}: ${doing}`);
  }
}

/** A running workflow that no worker answered in time (a query or an update needs one). */
export class WorkflowNotAnsweringError extends MlopsError {
  override readonly retryable = true;
  constructor(readonly workflowId: string, readonly seconds: number) {
    super(`workflow ${workflowId} did not answer within ${seconds} s: is a worker running? (see GET /workflows/${workflowId})`);
  }
}

/**
 * A conditional write lost: another writer created the object first (`If-None-Match: *`) or
 * changed it since it was read (`If-Match`). Callers that allocate or compare-and-swap read
 * again and retry; one that reaches a caller means the retries ran out.
 */
export class WriteConflictError extends ConflictError {
  override readonly retryable = true;
  constructor(readonly store: string, readonly key: string, readonly condition: 'create' | 'replace') {
    super(
      condition === 'create'
        ? `${store}: '${key}' was created by another writer first`
        : `${store}: '${key}' was changed by another writer since it was read`,
    );
  }
}

/**
 * The object store refused or failed a request. A server error, a throttle, a timeout or a
 * lost connection may pass and is retried; a refusal (no such bucket, access denied, a bad
 * request) fails at once and names what was asked.
 */
export class StoreRequestError extends MlopsError {
  override readonly retryable: boolean;
  constructor(
    readonly store: string,
    readonly operation: string,
    readonly key: string,
    /** The HTTP status the store answered, or null when no answer came (timeout, connection). */
    readonly status: number | null,
    readonly detail: string,
  ) {
    super(`${store}: ${operation} '${key}' failed (${status === null ? 'no answer' : `HTTP ${status}`}: ${detail})`);
    this.retryable = status === null || status >= 500 || status === 429 || status === 408;
  }
}

/** A rollback with no earlier champion to return to. */
export class NoPreviousChampionError extends ConflictError {
  constructor(readonly model: string) {
    super(`model '${model}' has no previous champion to roll back to (see GET /models/${model}/aliases/history)`);
  }
}

/**
 * How workflows retry activities: attempts with backoff and a cap for transient failures (a
 * worker restart, a busy disk, an object store answering 5xx or not at all), about two and a
 * half minutes of them before a run fails. Deterministic failures are not retried at all: the
 * worker marks them non-retryable (classifyFailure).
 */
export const ACTIVITY_RETRY: RetryPolicy = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 10,
};

/** What to print for anything thrown: an Error's message, else the value as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The innermost cause of a failure chain (WorkflowFailedError -> ActivityFailure ->
 * ApplicationFailure): that is where the real problem is named.
 */
export function rootCause(err: unknown): { message: string; type: string | null } {
  let message = errorMessage(err);
  let type: string | null = null;
  let e: unknown = err;
  while (e instanceof Error && e.cause) {
    e = e.cause;
    if (e instanceof Error) {
      message = e.message;
      type = (e as { type?: string }).type ?? type;
    }
  }
  return { message, type };
}
