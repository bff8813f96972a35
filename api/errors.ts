// The one place where errors become HTTP responses. Every error body has the same shape:
// { "error": { "type", "message", "fields"?: [{ "field", "problem" }], "requestId" } }.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  ConflictError,
  ForbiddenError,
  InvalidRequestError,
  MlopsError,
  ModelUnavailableError,
  NoChampionError,
  PayloadTooLargeError,
  TemporalUnavailableError,
  UnauthenticatedError,
  UnknownModelError,
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
    err instanceof UnknownVersionError ||
    err instanceof UnknownWorkflowError ||
    err instanceof UnknownReportError ||
    err instanceof UnknownScheduleError
  ) {
    return 404;
  }
  if (err instanceof ConflictError) return 409;
  if (err instanceof PayloadTooLargeError) return 413;
  if (
    err instanceof NoChampionError ||
    err instanceof ModelUnavailableError ||
    err instanceof TemporalUnavailableError ||
    err instanceof WorkflowNotAnsweringError
  ) {
    return 503;
  }
  return 500;
}

export type ErrorLogger = (fields: Record<string, unknown>) => void;

export function errorResponse(err: unknown, c: Context, logError: ErrorLogger): Response {
  const requestId = (c.get('requestId') as string | undefined) ?? undefined;
  if (err instanceof MlopsError) {
    const status = statusOf(err);
    if (status === 500) logError({ event: 'request_failed', requestId, path: c.req.path, error: err.message, type: err.name });
    if (err instanceof UnauthenticatedError) c.header('WWW-Authenticate', 'Bearer realm="tabular-mlops"');
    // The body was refused unread: the connection cannot carry another request (RFC 9110 15.5.14).
    if (err instanceof PayloadTooLargeError) c.header('connection', 'close');
    return c.json({ error: { type: err.name, message: err.message, ...(err instanceof InvalidRequestError ? { fields: err.problems } : {}), requestId } }, status);
  }
  // Hono's own refusals (a body that is not JSON, a wrong content type) in the same shape.
  if (err instanceof HTTPException && err.status < 500) {
    const message = err.message || (err.status === 415 ? 'the body must be JSON (content-type: application/json)' : 'the request could not be read');
    return c.json({ error: { type: 'InvalidRequestError', message, fields: [{ field: '(body)', problem: message }], requestId } }, err.status as ContentfulStatusCode);
  }
  logError({ event: 'unhandled', requestId, path: c.req.path, error: String(err), stack: (err as Error)?.stack });
  return c.json({ error: { type: 'InternalError', message: 'internal error: see the API log', requestId } }, 500);
}
