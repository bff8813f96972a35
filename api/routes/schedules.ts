// The schedules (admin): what they are, when they run next, what they started last; and
// running one now.
import { createRoute, z } from '@hono/zod-openapi';
import { temporalUiLink } from '../../core/config.js';
import { listSchedules, SCHEDULE_ID_PATTERN, triggerSchedule } from '../../runs/schedules.js';
import type { Api, AppDeps, Guard } from '../app.js';
import { errors, json } from '../schemas.js';

const ScheduleParam = z.object({
  id: z
    .string()
    .regex(SCHEDULE_ID_PATTERN, 'must be a schedule id from GET /schedules, like batch-weekly-flight_delay')
    .openapi({ param: { name: 'id', in: 'path' }, example: 'batch-weekly-flight_delay' }),
});

export function registerScheduleRoutes(app: Api, deps: AppDeps, guard: Guard): void {
  const admin = guard('admin');
  const tags = ['schedules'];

  app.openapi(
    createRoute({
      method: 'get',
      path: '/schedules',
      tags,
      summary: 'The weekly train, batch and monitor schedules made from the specs: next runs, recent runs, links to the Temporal UI',
      ...admin,
      responses: { 200: json(z.object({ schedules: z.array(z.object({}).passthrough()) }), 'the schedules'), ...errors(401, 403, 503) },
    }),
    async (c) => c.json({ schedules: (await listSchedules(await deps.client(), deps.temporal, deps.specs)) as unknown as Record<string, unknown>[] }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/schedules/{id}/trigger',
      tags,
      summary: 'Run a schedule’s workflow now, as if it were due (409 while its previous run is still going)',
      ...admin,
      request: { params: ScheduleParam },
      responses: {
        202: json(z.object({ schedule: z.string(), workflowId: z.string(), runId: z.string(), status: z.string(), temporalUi: z.string() }), 'started'),
        ...errors(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const run = await triggerSchedule(await deps.client(), id);
      return c.json(
        { schedule: id, ...run, status: `/workflows/${encodeURIComponent(run.workflowId)}`, temporalUi: temporalUiLink(deps.temporal, run.workflowId, run.runId) },
        202,
      );
    },
  );
}
