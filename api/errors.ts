// The one place where errors become HTTP responses. Every error body has the same shape:
// { "error": { "type": ..., "message": ..., "fields"?: [...] } }.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  ConflictError,
  InvalidRequestError,
  MlopsError,
  ModelUnavailableError,
  NoChampionError,
  TemporalUnavailableError,
  UnknownModelError,
  UnknownVersionError,
  UnknownWorkflowError,
  WorkflowNotAnsweringError,
} from '../core/errors.js';

export function statusOf(err: MlopsError): ContentfulStatusCode {
  if (err instanceof InvalidRequestError) return 400;
  if (err instanceof UnknownModelError || err instanceof UnknownVersionError || err instanceof UnknownWorkflowError) return 404;
  if (err instanceof ConflictError) return 409;
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

export function errorResponse(err: unknown, c: Context): Response {
  if (err instanceof MlopsError) {
    const status = statusOf(err);
    return c.json(
      {
        error: {
          type: err.name,
          message: err.message,
          ...(err instanceof InvalidRequestError ? { fields: err.problems } : {}),
        },
      },
      status,
    );
  }
  console.error(JSON.stringify({ level: 'error', event: 'unhandled', path: c.req.path, error: String(err), stack: (err as Error)?.stack }));
  return c.json({ error: { type: 'InternalError', message: 'internal error: see the API log' } }, 500);
}
