// The API's HTTP server: Hono (api/app.ts) on node:http, with one route answered before Hono.
//
// GET /predict is what clients call thousands of times a second. Through Hono each call built
// Web Request, Headers and Response objects and ran five middlewares around a prediction that
// costs less than they do: at concurrency 64 the API answered 4,800 requests/s, and the same
// work straight on node:http 8,400 (BENCHMARKS.md). So that one route is answered here, with
// the same pieces Hono's route and middlewares use (authorize, predictQueryHandler,
// errorAnswer, the response headers, metrics and the request log), and test/server.test.ts
// checks that both paths answer the same. Every other request, HEAD /predict and any other
// spelling of the path included, goes to Hono unchanged.
import { serve } from '@hono/node-server';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Api, AppDeps } from './app.js';
import { authorize } from './auth.js';
import { errorAnswer } from './errors.js';
import { logRequest } from './log.js';
import { REQUEST_ID_HEADER, requestIdOf, SECURITY_HEADERS } from './response-headers.js';
import { predictQueryHandler } from './routes/predict.js';
import { errorMessage } from '../core/errors.js';

const PREDICT_PATH = '/predict';
const JSON_TYPE = 'application/json';
/** SECURITY_HEADERS as writeHead's flat name, value list, made once rather than on every answer. */
const SECURITY_HEADER_LIST: readonly string[] = SECURITY_HEADERS.flat();

type ServerDeps = Pick<AppDeps, 'predictor' | 'limits' | 'metrics' | 'auth' | 'log'>;

/** The headers of a JSON answer written on node:http, as writeHead's flat name, value list: every one carries its request id and the security headers. */
function answerHeaders(body: string, requestId: string, extra: readonly (readonly [string, string])[]): string[] {
  const headers: string[] = ['content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(body)), REQUEST_ID_HEADER, requestId];
  for (const [name, value] of extra) headers.push(name, value);
  headers.push(...SECURITY_HEADER_LIST);
  return headers;
}

/** A node:http request listener for GET /predict that hands everything else to `fallback` (Hono). */
export function predictFastPath(deps: ServerDeps, fallback: RequestListener): RequestListener {
  const answerQuery = predictQueryHandler(deps);
  const logError = (fields: Record<string, unknown>) => deps.log.error('request_failed', fields);

  function send(res: ServerResponse, status: number, requestId: string, body: string, extra: readonly (readonly [string, string])[]): void {
    res.writeHead(status, answerHeaders(body, requestId, extra));
    res.end(body);
  }

  async function answer(req: IncomingMessage, res: ServerResponse, queryString: string): Promise<void> {
    const started = performance.now();
    const header = req.headers[REQUEST_ID_HEADER];
    const requestId = requestIdOf(typeof header === 'string' ? header : undefined);
    let principal: string | undefined;
    let status: number;
    try {
      // All Authorization lines, joined as Hono sees them (req.headers keeps only the first): two tokens are refused, not one picked.
      principal = authorize(deps.auth, req.headersDistinct.authorization?.join(', '), 'predict', deps.auth.openPredict);
      const { version, body } = await answerQuery(queryString);
      status = 200;
      send(res, status, requestId, JSON.stringify(body), [['x-model-version', String(version)]]);
    } catch (err) {
      const error = errorAnswer(err, requestId, PREDICT_PATH, logError);
      status = error.status;
      send(res, status, requestId, JSON.stringify(error.body), error.headers);
    }
    deps.metrics.record(PREDICT_PATH, 'GET', status, started);
    logRequest(deps.log, { requestId, method: 'GET', route: PREDICT_PATH, status, principal }, started);
  }

  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (req.method !== 'GET' || (q < 0 ? url : url.slice(0, q)) !== PREDICT_PATH) return fallback(req, res);
    answer(req, res, q < 0 ? '' : url.slice(q + 1)).catch((err: unknown) => {
      // Only writing the answer can land here (a socket gone mid-write): nothing left to tell the client.
      deps.log.error('request_failed', { path: PREDICT_PATH, error: errorMessage(err) });
      res.destroy();
    });
  };
}

/**
 * Start the API on `port` (0: any free one) and `host`. Requests Node's HTTP parser refuses
 * never reach the app: they are answered in the API's error shape too.
 */
export function startApiServer(app: Api, deps: ServerDeps, port: number, host: string, onListening?: (info: AddressInfo) => void): Server {
  const server = serve(
    {
      fetch: app.fetch,
      port,
      hostname: host,
      createServer: ((options: ServerOptions, honoListener: RequestListener) => createServer(options, predictFastPath(deps, honoListener))) as typeof createServer,
    },
    onListening,
  ) as Server;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const started = performance.now();
    const tooBig = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooBig ? 431 : 400;
    const message = tooBig ? 'the request line and headers are larger than the server accepts (16 KiB)' : `not a valid HTTP request (${err.code ?? 'parse error'})`;
    // A request id of its own, as every other answer has, so the client's report and the log line meet.
    const requestId = requestIdOf(undefined);
    const body = JSON.stringify({ error: { type: 'InvalidRequestError', message, requestId } });
    const headers = answerHeaders(body, requestId, [['connection', 'close']]);
    let head = `HTTP/1.1 ${tooBig ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    socket.end(`${head}\r\n${body}`);
    deps.metrics.record('(unparsed)', '(unparsed)', status, started);
    logRequest(deps.log, { requestId, method: '(unparsed)', route: '(unparsed)', status, principal: undefined }, started);
  });
  return server;
}
