// Monitoring reports: the list per model (newest first), each report as the self-contained
// HTML people open, and as the JSON it was drawn from.
import { createRoute, z } from '@hono/zod-openapi';
import { UnknownReportError } from '../../core/errors.js';
import type { DriftReport } from '../../core/monitoring.js';
import { openReports, REPORT_ID } from '../../storage/reports.js';
import { loadSpec } from '../../core/spec.js';
import type { Api, AppDeps, Guard } from '../app.js';
import { ReportSummary } from '../responses.js';
import { errors, json, ModelParam } from '../schemas.js';

const ReportParams = z.object({
  name: ModelParam.shape.name,
  id: z
    .string()
    .regex(REPORT_ID, 'must be a report id from GET /reports/{name}')
    .refine((v) => !v.includes('..'), 'must be a report id from GET /reports/{name}')
    .openapi({ param: { name: 'id', in: 'path' }, example: '20261202T012711Z-01a2345c' }),
});

/** Only the page's own inline styles: the report has no scripts and loads nothing. */
const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

export function registerReportRoutes(app: Api, deps: AppDeps, guard: Guard): void {
  const read = guard('predict', deps.auth.openReports);
  const tags = ['monitoring'];
  const load = async (model: string, id: string, file: 'report.json' | 'report.html'): Promise<string> => {
    await loadSpec(deps.paths, model); // 404 for an unknown model
    const text = await openReports(deps.paths).read(model, id, file).catch(() => undefined); // an invalid id is no report either
    if (text === undefined) throw new UnknownReportError(model, id);
    return text;
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reports/{name}',
      tags,
      summary: 'The model’s monitoring reports, newest first',
      ...read,
      request: { params: ModelParam },
      responses: { 200: json(z.object({ model: z.string(), reports: z.array(ReportSummary) }), 'the reports'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      await loadSpec(deps.paths, name);
      const store = openReports(deps.paths);
      const reports = [];
      for (const id of await store.ids(name)) {
        // A report is complete once its JSON is there (it is written last).
        const text = await store.read(name, id, 'report.json');
        if (!text) continue;
        const r = JSON.parse(text) as DriftReport;
        reports.push({
          id,
          createdAt: r.createdAt,
          version: r.version,
          window: [...r.window.partitions],
          verdict: r.summary.verdict,
          driftedFeatures: [...r.summary.driftedFeatures],
          decay: r.summary.decay,
          retraining: r.retrain.started?.workflowId ?? null,
          links: { html: `/reports/${name}/${id}`, json: `/reports/${name}/${id}/report.json` },
        });
      }
      return c.json({ model: name, reports }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reports/{name}/{id}',
      tags,
      summary: 'One report as a self-contained HTML page (charts per feature, verdicts, the metric over time); opens offline',
      ...read,
      request: { params: ReportParams },
      responses: { 200: { description: 'the report', content: { 'text/html': { schema: z.string() } } }, ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { name, id } = c.req.valid('param');
      const html = await load(name, id, 'report.html');
      return c.body(html, 200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': REPORT_CSP });
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reports/{name}/{id}/report.json',
      tags,
      summary: 'One report’s statistics, verdicts and decision, as JSON',
      ...read,
      request: { params: ReportParams },
      responses: { 200: json(z.object({}).passthrough(), 'the report'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { name, id } = c.req.valid('param');
      return c.json(JSON.parse(await load(name, id, 'report.json')) as Record<string, unknown>, 200);
    },
  );
}
