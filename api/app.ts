// The HTTP API (Hono): start and inspect workflows, serve predictions from the champion.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { Hono } from 'hono';
import { randomUUID } from 'node:crypto';
import { temporalUiLink, type Paths, type TemporalSettings } from '../core/config.js';
import { InvalidRequestError, rootCause, UnknownWorkflowError } from '../core/errors.js';
import { listModels, loadSpec } from '../core/spec.js';
import { MODEL_NAME, TRAIN_REASON, type TrainModelInput } from '../core/types.js';
import { errorResponse } from './errors.js';
import { registerModelRoutes } from './models.js';
import type { Predictor } from './predictor.js';
import { BodyFields, readJsonBody } from './request.js';
import { parseRequestFields } from './validation.js';

export interface AppDeps {
  readonly paths: Paths;
  readonly temporal: TemporalSettings;
  /** Connected on first use, so predictions are served even while Temporal is down. */
  readonly client: () => Promise<Client>;
  readonly predictor: Predictor;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => errorResponse(err, c));
  app.notFound((c) => c.json({ error: { type: 'NotFound', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  app.get('/healthz', (c) => c.json({ ok: true }));

  app.get('/readyz', async (c) => {
    const models = await deps.predictor.readiness(await listModels(deps.paths.modelsDir));
    // Ready when every model that has a champion serves some version of it; a newer champion
    // that failed to load shows as loadError while the older one keeps serving.
    const ready = models.every((m) => m.champion === null || m.serving !== null);
    return c.json({ ready, models }, ready ? 200 : 503);
  });

  app.post('/workflows/train', async (c) => {
    const fields = new BodyFields(await readJsonBody(c.req.raw, '{"model": "flight_delay"}'), ['model', 'reason']);
    const model = fields.string('model', { required: true, max: 63, hint: 'the name of a model spec (see GET /models)' });
    const reason = fields.string('reason', { required: false, max: 200, hint: 'why, shown in the Temporal UI' });
    fields.done();
    await loadSpec(deps.paths.modelsDir, deps.paths.sqlDir, model); // 404 for an unknown model
    const client = await deps.client();
    const input: TrainModelInput = { model, reason: reason ?? 'api', actor: 'api' };
    const workflowId = `train-${model}-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 6)}`;
    const handle = await client.workflow.start('TrainModelWorkflow', {
      taskQueue: deps.temporal.taskQueue,
      workflowId,
      args: [input],
      typedSearchAttributes: [
        { key: MODEL_NAME, value: model },
        { key: TRAIN_REASON, value: input.reason! },
      ],
    });
    return c.json(
      {
        workflowId,
        runId: handle.firstExecutionRunId,
        status: `/workflows/${encodeURIComponent(workflowId)}`,
        temporalUi: temporalUiLink(deps.temporal, workflowId, handle.firstExecutionRunId),
      },
      202,
    );
  });

  registerModelRoutes(app, deps);

  app.get('/workflows/:id', async (c) => {
    const id = c.req.param('id');
    const client = await deps.client();
    const handle = client.workflow.getHandle(id);
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new UnknownWorkflowError(id);
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
    if (status === 'COMPLETED') return c.json({ ...base, result: await handle.result() });
    if (status === 'RUNNING') {
      const pending = (description.raw.pendingActivities ?? []).map((a) => ({
        activity: a.activityType?.name ?? null,
        attempt: a.attempt ?? 1,
        progress: a.heartbeatDetails?.payloads?.[0] ? defaultPayloadConverter.fromPayload(a.heartbeatDetails.payloads[0]) : null,
        lastFailure: a.lastFailure?.message ?? null,
      }));
      return c.json({ ...base, pendingActivities: pending });
    }
    const failure = await handle.result().then(
      () => null,
      (err: unknown) => rootCause(err),
    );
    return c.json({ ...base, failure });
  });

  app.get('/predict', async (c) => {
    const query = c.req.query();
    const model = query.model;
    if (!model) throw new InvalidRequestError([{ field: 'model', problem: 'is required: the name of a model (see GET /models)' }]);
    const { spec } = await deps.predictor.spec(model);
    const { model: _model, ...fields } = query;
    const values = parseRequestFields(spec, fields);
    const prediction = await deps.predictor.predict(model, values);
    c.header('x-model-version', String(prediction.version)); // also in the body: for proxies and logs
    return c.json(prediction);
  });

  return app;
}
