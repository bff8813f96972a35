// The HTTP API (Hono, routes described with zod so /openapi.json is generated from the schemas
// that validate requests). Every request gets a request id, is counted and timed for /metrics,
// logged as one JSON line, bounded in size, and authorised by scope before anything else runs.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import { bodyLimit } from 'hono/body-limit';
import type { Paths, TemporalSettings } from '../core/config.js';
import { InvalidRequestError, PayloadTooLargeError } from '../core/errors.js';
import type { ModelSpec } from '../core/spec.js';
import { requireScope, type AuthConfig, type AuthVariables, type Scope } from './auth.js';
import type { ApiLimits } from './config.js';
import { registerConsole } from './console/routes.js';
import { registerDocs } from './docs.js';
import { errorResponse } from './errors.js';
import { logRequest, type Logger } from './log.js';
import { routeLabel, type ApiMetrics } from './metrics.js';
import type { Predictor } from './predictor.js';
import { registerModelRoutes } from './routes/models.js';
import { registerOpsRoutes } from './routes/ops.js';
import { registerPredictRoutes } from './routes/predict.js';
import { registerReportRoutes } from './routes/reports.js';
import { registerScheduleRoutes } from './routes/schedules.js';
import { registerWorkflowRoutes } from './routes/workflows.js';
import { responseHeaders } from './response-headers.js';
import { problemsOf } from './schemas.js';

export interface AppDeps {
  readonly paths: Paths;
  readonly temporal: TemporalSettings;
  /** Connected on first use, so predictions are served even while Temporal is down. */
  readonly client: () => Promise<Client>;
  readonly predictor: Predictor;
  readonly auth: AuthConfig;
  readonly limits: ApiLimits;
  /** The declared models, for the documentation (predictions load specs as they are asked for). */
  readonly specs: readonly ModelSpec[];
  readonly metrics: ApiMetrics;
  readonly log: Logger;
}

export type ApiEnv = { Variables: { requestId: string } & AuthVariables };
export type Api = OpenAPIHono<ApiEnv>;

/** What each route needs: `security` for the document, `middleware` to enforce it. */
export interface Guard {
  (scope: Scope, open?: boolean): { security: { bearer: string[] }[]; middleware: ReturnType<typeof requireScope> };
}

export function createApp(deps: AppDeps): Api {
  const app: Api = new OpenAPIHono<ApiEnv>({
    // Every validation failure becomes the API's own 400, naming each field.
    defaultHook: (result) => {
      if (!result.success) throw new InvalidRequestError(problemsOf(result.error));
    },
  });
  app.onError((err, c) => errorResponse(err, c, (fields) => deps.log.error('request_failed', fields)));
  app.notFound((c) => c.json({ error: { type: 'NotFound', message: `no route ${c.req.method} ${c.req.path} (see /docs)`, requestId: c.get('requestId') } }, 404));

  app.use(responseHeaders());
  app.use(deps.metrics.middleware());
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    logRequest(deps.log, { requestId: c.get('requestId'), method: c.req.method, route: routeLabel(c), status: c.res.status, principal: c.get('principal') }, started);
  });
  const limitBody = bodyLimit({
    maxSize: deps.limits.maxBodyBytes,
    onError: () => {
      throw new PayloadTooLargeError(deps.limits.maxBodyBytes);
    },
  });
  // GET and HEAD carry no body here (the server never reads one), and asking for it makes
  // @hono/node-server build a full WHATWG Request with its AbortController on every call:
  // about a tenth of the event loop's time under a GET /predict load.
  app.use((c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : limitBody(c, next)));

  const guard: Guard = (scope, open = false) => ({ security: [{ bearer: [] }], middleware: requireScope(deps.auth, scope, open) });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: "Tokens from configuration with the scope 'predict' (predictions and reads) or 'admin' (everything)",
  });

  registerOpsRoutes(app, deps);
  registerPredictRoutes(app, deps, guard);
  registerModelRoutes(app, deps, guard);
  registerWorkflowRoutes(app, deps, guard);
  registerReportRoutes(app, deps, guard);
  registerScheduleRoutes(app, deps, guard);
  registerDocs(app, deps, createApp);
  registerConsole(app, deps);
  return app;
}
