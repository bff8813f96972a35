// Operations: liveness, readiness (every promoted model loaded and Temporal reachable) and the
// Prometheus metrics. Open without a token: load balancers and scrapers call them.
import { createRoute, z } from '@hono/zod-openapi';
import { errorMessage } from '../../core/errors.js';
import { listModels } from '../../core/spec.js';
import type { Api, AppDeps } from '../app.js';
import { json } from '../schemas.js';

/** How long readiness waits for Temporal before calling it unreachable. */
const TEMPORAL_CHECK_MS = 2_000;

const Readiness = z
  .object({
    ready: z.boolean(),
    temporal: z.object({ reachable: z.boolean(), address: z.string(), error: z.string().optional() }),
    models: z.array(
      z.object({
        model: z.string(),
        champion: z.number().nullable().openapi({ description: 'the version the champion alias names' }),
        serving: z.number().nullable().openapi({ description: 'the version this process answers with' }),
        loadError: z.string().optional(),
        views: z
          .array(
            z.object({
              view: z.string(),
              asOf: z.string().nullable().openapi({ description: 'the instant the served snapshot’s values are as of' }),
              materializedAt: z.string().nullable(),
              ageSeconds: z.number().nullable(),
              maxAgeSeconds: z.number(),
              stale: z.boolean().openapi({ description: 'never materialized, or materialized longer ago than the view’s maxAge: answers still come, with the view’s values as they are (or its defaults)' }),
            }),
          )
          .optional()
          .openapi({ description: 'models with feature views: the snapshot served of each' }),
      }),
    ),
  })
  .openapi('Readiness');

export function registerOpsRoutes(app: Api, deps: AppDeps): void {
  app.openapi(
    createRoute({ method: 'get', path: '/healthz', tags: ['operations'], summary: 'Liveness: the process answers', responses: { 200: json(z.object({ ok: z.boolean() }), 'alive') } }),
    (c) => c.json({ ok: true }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      tags: ['operations'],
      summary: 'Readiness: every promoted model is loaded and Temporal is reachable',
      description: 'A newer champion that failed to load shows as loadError while the older one keeps serving (still ready).',
      responses: { 200: json(Readiness, 'ready'), 503: json(Readiness, 'not ready, and why') },
    }),
    async (c) => {
      const [models, temporal] = await Promise.all([deps.predictor.readiness(await listModels(deps.paths.modelsDir)), temporalReachable(deps)]);
      const ready = temporal.reachable && models.every((m) => m.champion === null || m.serving !== null);
      return c.json({ ready, temporal, models }, ready ? 200 : 503);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      tags: ['operations'],
      summary: 'Prometheus metrics: requests and latency by route and status, predictions by model and version, batch sizes, model loads',
      responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
    }),
    async (c) => c.text(await deps.metrics.registry.metrics(), 200, { 'content-type': deps.metrics.registry.contentType }),
  );
}

async function temporalReachable(deps: AppDeps): Promise<{ reachable: boolean; address: string; error?: string }> {
  try {
    const client = await deps.client();
    await client.withDeadline(Date.now() + TEMPORAL_CHECK_MS, () => client.workflowService.getSystemInfo({}));
    return { reachable: true, address: deps.temporal.address };
  } catch (err) {
    return { reachable: false, address: deps.temporal.address, error: errorMessage(err).split('\n')[0]! };
  }
}
