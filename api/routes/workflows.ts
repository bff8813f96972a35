// Starting workflows (admin) and reading one (its status, result, failure, or the progress of
// its pending activities, as the Temporal UI shows them).
import { createRoute, z } from '@hono/zod-openapi';
import { WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporalUiLink } from '../../core/config.js';
import { InvalidSpecError, rootCause, UnknownPartitionError, UnknownWorkflowError } from '../../core/errors.js';
import { loadDataset } from '../../core/dataset.js';
import { openLake } from '../../storage/lake.js';
import { RAW_FORMATS } from '../../core/raw-files.js';
import type { MonitorModelInput } from '../../core/monitoring.js';
import type { EvaluateAndPromoteInput } from '../../core/promotion.js';
import { openRegistry } from '../../storage/registry.js';
import { loadSpec, type LoadedSpec } from '../../core/spec.js';
import type { BatchInferenceInput, TrainModelInput } from '../../core/types.js';
import type { Api, AppDeps, Guard } from '../app.js';
import { WorkflowRun } from '../responses.js';
import { actor, errors, json, modelName, reason } from '../schemas.js';
import { WorkflowStarter } from '../../runs/starter.js';
import { startPromotion } from './models.js';

const WorkflowStarted = z
  .object({
    workflowId: z.string(),
    runId: z.string(),
    status: z.string().openapi({ description: 'GET this to follow the run' }),
    temporalUi: z.string(),
  })
  .openapi('WorkflowStarted');

/** Why a run starts: shown in the Temporal UI and recorded with it. */
const why = reason('why, shown in the Temporal UI');

const partition = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be a partition value like 2001-03-19');

const TrainRequest = z.object({ model: modelName, reason: why.optional() }).strict().openapi('TrainRequest', { example: { model: 'flight_delay', reason: 'new data' } });
const EvaluateRequest = z
  .object({ model: modelName, version: z.number().int().min(1).max(999_999_999), actor: actor('who asks').optional(), reason: why.optional() })
  .strict()
  .openapi('EvaluateRequest', { example: { model: 'flight_delay', version: 2 } });
const BatchRequest = z
  .object({
    model: modelName,
    partitions: z.union([z.literal('new'), z.array(partition).min(1).max(520)]).openapi({ description: '"new" (not yet scored by the version) or partition values' }),
    version: z.number().int().min(1).max(999_999_999).optional().openapi({ description: 'a registered version; the champion when left out' }),
    concurrency: z.number().int().min(1).max(64).optional(),
    reason: why.optional(),
  })
  .strict()
  .openapi('BatchRequest', { example: { model: 'flight_delay', partitions: 'new' } });
const MonitorRequest = z
  .object({
    model: modelName,
    window: z
      .object({ partitions: z.array(partition).min(1).max(520).optional(), last: z.number().int().min(1).max(520).optional() })
      .strict()
      .optional()
      .openapi({ description: 'named partitions, or the newest `last`; the spec’s monitoring.windowPartitions when left out' }),
    reason: why.optional(),
  })
  .strict()
  .openapi('MonitorRequest', { example: { model: 'flight_delay', window: { last: 1 } } });

const MaterializeRequest = z
  .object({
    model: modelName,
    asOf: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$/, 'must be an instant like 2001-03-05 00:00:00')
      .optional()
      .openapi({ description: 'compute the views as of this instant (a replay, made current even when older); as of the newest row known when left out' }),
    reason: why.optional(),
  })
  .strict()
  .openapi('MaterializeRequest', { example: { model: 'flight_delay' } });

const IngestRequest = z
  .object({
    sources: z
      .array(z.string().min(1).max(1024).refine((p) => p.startsWith('/'), 'must be an absolute path or glob on the worker’s disk'))
      .min(1)
      .max(1000)
      .openapi({ description: 'CSV, TSV, JSON, NDJSON or Parquet files (paths or globs) the worker can read' }),
    format: z.enum(RAW_FORMATS).optional().openapi({ description: 'by each file’s extension when left out' }),
  })
  .strict()
  .openapi('IngestRequest', { example: { sources: ['/data/penguins.csv'] } });

const DatasetParam = z.object({ name: modelName.openapi({ param: { name: 'name', in: 'path' }, example: 'flights' }) });

export function registerWorkflowRoutes(app: Api, deps: AppDeps, guard: Guard): void {
  const admin = guard('admin');
  const tags = ['workflows'];
  const spec = (name: string) => loadSpec(deps.paths, name); // 404 for an unknown model
  /** Named partitions must be in the lake: 404 naming the first one that is not, before a run starts. */
  const checkPartitions = async (loaded: LoadedSpec, values: readonly string[] | undefined) => {
    if (!values) return;
    const { name: dataset, partitionKey } = loaded.spec.dataset;
    const lake = (await openLake(deps.paths).partitions(dataset, partitionKey)).map((p) => p.value);
    const missing = values.find((v) => !lake.includes(v));
    if (missing !== undefined) throw new UnknownPartitionError(dataset, `${partitionKey}=${missing}`, lake);
  };
  const started = (workflowId: string, runId: string) => ({
    workflowId,
    runId,
    status: `/workflows/${encodeURIComponent(workflowId)}?runId=${runId}`,
    temporalUi: temporalUiLink(deps.temporal, workflowId, runId),
  });
  const starter = async () => new WorkflowStarter(await deps.client(), deps.temporal.taskQueue);
  const startRoute = <S extends z.ZodType>(path: string, summary: string, schema: S, extra: (400 | 404 | 409 | 422 | 503)[] = []) =>
    createRoute({
      method: 'post',
      path,
      tags,
      summary,
      ...admin,
      request: { body: { required: true, content: { 'application/json': { schema } } } },
      responses: { 202: json(WorkflowStarted, 'started'), ...errors(400, 401, 403, 404, 413, 503, ...extra) },
    });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/datasets/{name}/ingest',
      tags: ['datasets'],
      summary: 'Start IngestDatasetWorkflow: check raw files against the dataset’s declaration and publish them as lake partitions (the same files twice change nothing)',
      ...admin,
      request: { params: DatasetParam, body: { required: true, content: { 'application/json': { schema: IngestRequest } } } },
      responses: { 202: json(WorkflowStarted, 'started'), ...errors(400, 401, 403, 404, 413, 422, 503) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const body = c.req.valid('json');
      await loadDataset(deps.paths.datasetsDir, name); // 404 for an undeclared dataset, 422 for a broken declaration
      const handle = await (await starter()).ingest({ dataset: name, sources: body.sources, ...(body.format ? { format: body.format } : {}), actor: c.get('principal') });
      return c.json(started(handle.workflowId, handle.firstExecutionRunId), 202);
    },
  );

  app.openapi(startRoute('/workflows/train', 'Start TrainModelWorkflow: snapshot, validate, train, verify, register, evaluate and promote', TrainRequest), async (c) => {
    const body = c.req.valid('json');
    await spec(body.model);
    const input: TrainModelInput = { model: body.model, reason: body.reason ?? 'api', actor: c.get('principal') };
    const handle = await (await starter()).train(input);
    return c.json(started(handle.workflowId, handle.firstExecutionRunId), 202);
  });

  app.openapi(
    startRoute('/workflows/evaluate', 'Start EvaluateAndPromoteWorkflow for a registered version (409 while another promotion of the model runs)', EvaluateRequest, [409]),
    async (c) => {
      const body = c.req.valid('json');
      await spec(body.model);
      await openRegistry(deps.paths).readCard(body.model, body.version); // 404 for an unknown version
      const input: EvaluateAndPromoteInput = { model: body.model, version: body.version, actor: body.actor ?? c.get('principal'), ...(body.reason ? { reason: body.reason } : {}) };
      const handle = await startPromotion(deps, body.model, (starter) => starter.evaluate(input));
      return c.json({ ...started(handle.workflowId, handle.firstExecutionRunId), promotion: `/models/${body.model}/promotion` }, 202);
    },
  );

  app.openapi(startRoute('/workflows/batch', 'Start BatchInferenceWorkflow: score lake partitions with the champion (or a version)', BatchRequest), async (c) => {
    const body = c.req.valid('json');
    await checkPartitions(await spec(body.model), body.partitions === 'new' ? undefined : body.partitions);
    const input: BatchInferenceInput = { ...body, reason: body.reason ?? 'api' };
    const handle = await (await starter()).batch(input);
    return c.json(started(handle.workflowId, handle.firstExecutionRunId), 202);
  });

  app.openapi(
    startRoute('/workflows/materialize', 'Start MaterializeFeaturesWorkflow: compute the model’s feature views and make each the current snapshot of the online store', MaterializeRequest, [422]),
    async (c) => {
      const body = c.req.valid('json');
      const loaded = await spec(body.model);
      if (loaded.spec.features.views.length === 0) throw new InvalidSpecError(loaded.shownFile, 'features.views', `${body.model} declares no feature views: there is nothing to materialize`);
      const handle = await (await starter()).materialize({ ...body, reason: body.reason ?? 'api' });
      return c.json(started(handle.workflowId, handle.firstExecutionRunId), 202);
    },
  );

  app.openapi(startRoute('/workflows/monitor', 'Start MonitorModelWorkflow: drift and performance of a window against the champion’s training reference', MonitorRequest), async (c) => {
    const body = c.req.valid('json');
    await checkPartitions(await spec(body.model), body.window?.partitions);
    const input: MonitorModelInput = { ...body, reason: body.reason ?? 'api' };
    const handle = await (await starter()).monitor(input);
    return c.json(started(handle.workflowId, handle.firstExecutionRunId), 202);
  });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/workflows/{id}',
      tags,
      summary: 'A run’s status: the result when completed, the innermost failure when failed, pending activities with their progress while running',
      ...guard('predict'),
      request: {
        params: z.object({
          id: z
            .string()
            .regex(/^[A-Za-z0-9_.:@+-]{1,255}$/, 'must be a workflow id (letters, digits and _ . : @ + -)')
            .openapi({ param: { name: 'id', in: 'path' }, example: 'train-flight_delay-first' }),
        }),
        // Ids are reused (promote-<model>, schedules): runId names one run; the latest without it.
        query: z
          .object({
            runId: z
              .string()
              .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a run id (a UUID, as in the runId of a start answer)')
              .optional()
              .openapi({ param: { name: 'runId', in: 'query' }, description: 'one run of the id; its latest run when left out' }),
          })
          .strict(),
      },
      responses: { 200: json(WorkflowRun, 'the run'), ...errors(400, 401, 403, 404, 503) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { runId } = c.req.valid('query');
      const handle = (await deps.client()).workflow.getHandle(id, runId);
      let description;
      try {
        description = await handle.describe();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new UnknownWorkflowError(id, runId);
        throw err;
      }
      const status = description.status.name;
      const base = {
        workflowId: id,
        runId: description.runId,
        type: description.type,
        status,
        startTime: description.startTime.toISOString(),
        closeTime: description.closeTime?.toISOString() ?? null,
        temporalUi: temporalUiLink(deps.temporal, id, description.runId),
      };
      if (status === 'COMPLETED') return c.json({ ...base, result: (await handle.result()) as unknown }, 200);
      if (status === 'RUNNING') {
        const pending = (description.raw.pendingActivities ?? []).map((a) => ({
          activity: a.activityType?.name ?? null,
          attempt: a.attempt ?? 1,
          progress: a.heartbeatDetails?.payloads?.[0] ? (defaultPayloadConverter.fromPayload(a.heartbeatDetails.payloads[0]) as unknown) : null,
          lastFailure: a.lastFailure?.message ?? null,
        }));
        return c.json({ ...base, pendingActivities: pending }, 200);
      }
      const failure = await handle.result().then(
        () => null,
        (err: unknown) => rootCause(err),
      );
      return c.json({ ...base, failure }, 200);
    },
  );
}
