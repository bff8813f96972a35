// What every response carries whichever way it was answered (Hono, or the GET /predict path
// straight on node:http in api/server.ts): the request id and the security headers.
import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

export const REQUEST_ID_HEADER = 'x-request-id';

/** The client's request id when it is a sane one (at most 255 of [A-Za-z0-9_-=]), else a new UUID. */
export function requestIdOf(header: string | undefined): string {
  return header && header.length <= 255 && /^[\w\-=]+$/.test(header) ? header : randomUUID();
}

/**
 * Hono's secureHeaders() defaults (without Cross-Origin-Embedder-Policy, which would stop the
 * Swagger UI's assets), as one list both answer paths send.
 */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ['cross-origin-resource-policy', 'same-origin'],
  ['cross-origin-opener-policy', 'same-origin'],
  ['origin-agent-cluster', '?1'],
  ['referrer-policy', 'no-referrer'],
  ['strict-transport-security', 'max-age=15552000; includeSubDomains'],
  ['x-content-type-options', 'nosniff'],
  ['x-dns-prefetch-control', 'off'],
  ['x-download-options', 'noopen'],
  ['x-frame-options', 'SAMEORIGIN'],
  ['x-permitted-cross-domain-policies', 'none'],
  ['x-xss-protection', '0'],
];

/** Middleware: the request id (kept as the context's `requestId`) and the security headers on every answer. */
export function responseHeaders(): MiddlewareHandler<{ Variables: { requestId: string } }> {
  return async (c, next) => {
    const id = requestIdOf(c.req.header(REQUEST_ID_HEADER));
    c.set('requestId', id);
    c.header(REQUEST_ID_HEADER, id);
    await next();
    for (const [name, value] of SECURITY_HEADERS) c.res.headers.set(name, value);
  };
}
