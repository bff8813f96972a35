// The one place where errors become HTTP responses. Every error body has the same shape:
// { "error": { "type", "message", "fields"?: [{ "field", "problem" }], "requestId" } }.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  ConflictError,
  ForbiddenError,
  InvalidRequestError,
  InvalidSpecError,
  IngestError,
  MlopsError,
  ModelUnavailableError,
  NoChampionError,
  PayloadTooLargeError,
  StoreRequestError,
  TemporalUnavailableError,
  UnauthenticatedError,
  UnknownDatasetError,
  UnknownModelError,
  UnknownPartitionError,
  UnknownReportError,
  UnknownScheduleError,
  UnknownVersionError,
  UnknownWorkflowError,
  WorkflowNotAnsweringError,
} from '../core/errors.js';

export function statusOf(err: MlopsError): ContentfulStatusCode {
  if (err instanceof InvalidRequestError) return 400;
  if (err instanceof UnauthenticatedError) return 401;
  if (err instanceof ForbiddenError) return 403;
  if (
    err instanceof UnknownModelError ||
    err instanceof UnknownDatasetError ||
    err instanceof UnknownVersionError ||
    err instanceof UnknownWorkflowError ||
    err instanceof UnknownReportError ||
    err instanceof UnknownScheduleError ||
    err instanceof UnknownPartitionError
  ) {
    return 404;
  }
  if (err instanceof ConflictError) return 409;
  // The request is fine; the spec it names is not (the message names the file and field).
  if (err instanceof InvalidSpecError || err instanceof IngestError) return 422;
  if (err instanceof PayloadTooLargeError) return 413;
  if (
    err instanceof NoChampionError ||
    err instanceof ModelUnavailableError ||
    err instanceof TemporalUnavailableError ||
    err instanceof WorkflowNotAnsweringError ||
    (err instanceof StoreRequestError && err.retryable)
  ) {
    return 503;
  }
  return 500;
}

export type ErrorLogger = (fields: Record<string, unknown>) => void;

/** An error as the API answers it: status, the JSON body, and headers of its own. */
export interface ErrorAnswer {
  readonly status: ContentfulStatusCode;
  readonly body: { error: { type: string; message: string; fields?: readonly { field: string; problem: string }[]; requestId: string | undefined } };
  readonly headers: readonly (readonly [string, string])[];
}

/** What any error becomes on the wire; a 500 is logged with what the client does not see. */
export function errorAnswer(err: unknown, requestId: string | undefined, path: string, logError: ErrorLogger): ErrorAnswer {
  if (err instanceof MlopsError) {
    const status = statusOf(err);
    if (status === 500) logError({ event: 'request_failed', requestId, path, error: err.message, type: err.name });
    const headers: [string, string][] = [];
    if (err instanceof UnauthenticatedError) headers.push(['WWW-Authenticate', 'Bearer realm="tabular-mlops"']);
    // The body was refused unread: the connection cannot carry another request (RFC 9110 15.5.14).
    if (err instanceof PayloadTooLargeError) headers.push(['connection', 'close']);
    const body = { error: { type: err.name, message: err.message, ...(err instanceof InvalidRequestError ? { fields: err.problems } : {}), requestId } };
    return { status, body, headers };
  }
  // Hono's own refusals (a body that is not JSON, a wrong content type) in the same shape.
  if (err instanceof HTTPException && err.status < 500) {
    const message = err.message || (err.status === 415 ? 'the body must be JSON (content-type: application/json)' : 'the request could not be read');
    return { status: err.status as ContentfulStatusCode, body: { error: { type: 'InvalidRequestError', message, fields: [{ field: '(body)', problem: message }], requestId } }, headers: [] };
  }
  logError({ event: 'unhandled', requestId, path, error: String(err), stack: (err as Error)?.stack });
  return { status: 500, body: { error: { type: 'InternalError', message: 'internal error: see the API log', requestId } }, headers: [] };
}

/** errorAnswer() as Hono's response. */
export function errorResponse(err: unknown, c: Context, logError: ErrorLogger): Response {
  const answer = errorAnswer(err, (c.get('requestId') as string | undefined) ?? undefined, c.req.path, logError);
  for (const [name, value] of answer.headers) c.header(name, value);
  return c.json(answer.body, answer.status);
}
