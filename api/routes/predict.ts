// Predictions from the champion: GET /predict for one row (query string), POST /predict for up
// to MLOPS_PREDICT_MAX_ROWS rows (JSON). Each request is validated against its model's spec
// before it joins a micro-batch, so one bad request never fails another.
//
// These two are the hot path: they validate with the zod schemas synchronously in the handler
// (the schemas also generate their documentation), not through the async validator middleware,
// which costs more than the prediction itself.
import { z } from '@hono/zod-openapi';
import { InvalidRequestError } from '../../core/errors.js';
import type { RequestValue } from '../../core/features.js';
import { requestColumns, type LoadedSpec, type ModelSpec } from '../../core/spec.js';
import type { Api, AppDeps, Guard } from '../app.js';
import type { PredictionBatch } from '../predictor.js';
import { TASK_NAMES, type Task } from '../../tasks/index.js';
import { checkedModel, errors, explainFlag, explainParam, json, modelName, parseOrThrow, predictQuerySchema, rowSchema } from '../schemas.js';

const PredictionFields = {
  model: z.string(),
  version: z.number().int().openapi({ description: 'the champion version that answered (also in the x-model-version header)' }),
  task: z.enum(TASK_NAMES as [Task, ...Task[]]),
  labelColumn: z.string(),
  snapshots: z
    .array(
      z.object({
        view: z.string(),
        asOf: z.string().nullable().openapi({ description: 'the instant the view’s values are as of; null before its first materialization' }),
        snapshot: z.string().nullable(),
        materializedAt: z.string().nullable(),
      }),
    )
    .optional()
    .openapi({ description: 'models with feature views: the snapshot of each view the features were joined from' }),
};
/** One output's value, or (multiclass) one per class. */
const PerOutput = z.union([z.number(), z.record(z.string(), z.number())]);
const Explanation = z
  .object({
    link: z.enum(['logit', 'softmax', 'identity']).openapi({ description: 'how the raw score becomes the answer: the probability is the sigmoid of it (logit), the softmax over classes, or the value itself' }),
    expected: PerOutput.openapi({ description: 'the raw score with no feature known (the average over the training rows)' }),
    raw: PerOutput.openapi({ description: 'this row’s raw score: expected plus every contribution' }),
    contributions: z
      .array(z.object({ feature: z.string(), value: z.union([z.string(), z.number(), z.null()]), contribution: PerOutput }))
      .openapi({ description: 'each feature with the value the model saw and what it added to the raw score (TreeSHAP), largest first' }),
  })
  .openapi('Explanation');
const RowAnswer = z
  .object({
    probability: z.number().optional().openapi({ description: 'binary: probability of the positive label' }),
    label: z.union([z.boolean(), z.string()]).optional().openapi({ description: 'binary: at or above the threshold; multiclass: the most probable class' }),
    threshold: z.number().optional(),
    probabilities: z.record(z.string(), z.number()).optional().openapi({ description: 'multiclass: probability per class' }),
    prediction: z.number().optional().openapi({ description: 'regression: the predicted value' }),
    features: z.record(z.string(), z.union([z.string(), z.number(), z.null()])).openapi({ description: 'the features the model saw, from the model’s feature SQL' }),
    views: z
      .record(z.string(), z.object({ missing: z.boolean(), stale: z.boolean() }))
      .optional()
      .openapi({ description: 'models with feature views, per view: the entity had no value (the view’s default was used), or the value is older than the view’s maxAge at the row’s time' }),
    explanation: Explanation.optional().openapi({ description: 'with explain=true: what each feature contributed to this answer' }),
  })
  .openapi('PredictedRow');
const Prediction = z.object({ ...PredictionFields }).extend(RowAnswer.shape).openapi('Prediction');
const Predictions = z.object({ ...PredictionFields, predictions: z.array(RowAnswer) }).openapi('Predictions');

/** The request schemas of one model, built once per spec file content. */
interface ModelSchemas {
  readonly query: z.ZodType<Record<string, RequestValue | undefined>>;
  readonly body: z.ZodType<{ model: string; rows: Record<string, RequestValue | undefined>[] }>;
}

/** What GET /predict answers with, whichever path answered it (Hono here, node:http in api/server.ts). */
export interface QueryAnswer {
  readonly version: number;
  readonly body: Record<string, unknown>;
}

type PredictDeps = Pick<AppDeps, 'predictor' | 'limits' | 'metrics'>;

/** The request schemas of each model, built once per spec file content. */
function schemaCache(deps: PredictDeps): (loaded: LoadedSpec) => ModelSchemas {
  const schemas = new Map<string, ModelSchemas>();
  return (loaded) => {
    let s = schemas.get(loaded.specHash);
    if (!s) {
      const row = rowSchema(loaded.spec, true);
      s = {
        query: z.object({ model: modelName }).extend(rowSchema(loaded.spec, false).shape).strict() as unknown as ModelSchemas['query'],
        body: z
          .object({
            model: modelName,
            rows: z
              .array(row)
              .min(1, 'must hold at least one row')
              .max(deps.limits.maxPredictRows, `must hold at most ${deps.limits.maxPredictRows} rows`),
          })
          .strict() as unknown as ModelSchemas['body'],
      };
      schemas.set(loaded.specHash, s);
    }
    return s;
  };
}

/** A row's values in request-column order; a nullable column left out is null. */
const rowValues = (spec: ModelSpec, row: Record<string, RequestValue | undefined>): RequestValue[] => requestColumns(spec).map((c) => row[c.name] ?? null);

/** Rows predicted, by model and the version that answered. */
function countPredictions(deps: PredictDeps, batch: PredictionBatch): void {
  deps.metrics.predictions.inc({ model: batch.model, version: String(batch.version) }, batch.rows.length);
}

/**
 * GET /predict's work from its query string (without the '?'): every field given once, the
 * model's schema, one row through the micro-batcher, counted by model and version. Throws the
 * API's errors (400 naming each field, 404, 503).
 */
export function predictQueryHandler(deps: PredictDeps, schemasOf = schemaCache(deps)): (queryString: string) => Promise<QueryAnswer> {
  return async (queryString) => {
    // No prototype: a field named 'constructor' or '__proto__' is just an unknown field.
    const query: Record<string, string> = Object.create(null) as Record<string, string>;
    const repeated: { field: string; problem: string }[] = [];
    for (const [key, value] of new URLSearchParams(queryString)) {
      if (key in query) {
        if (!repeated.some((r) => r.field === key)) repeated.push({ field: key, problem: 'must be given once' });
      } else {
        query[key] = value;
      }
    }
    if (repeated.length) throw new InvalidRequestError(repeated);
    const explain = explainFlag(query.explain);
    delete query.explain;
    const loaded = await deps.predictor.spec(checkedModel(query.model));
    const values = parseOrThrow(schemasOf(loaded).query, query, `for model '${loaded.spec.name}'`);
    const batch = await deps.predictor.predict(loaded.spec.name, [rowValues(loaded.spec, values)], { explain });
    countPredictions(deps, batch);
    return {
      version: batch.version,
      body: { model: batch.model, version: batch.version, task: batch.task, labelColumn: batch.labelColumn, ...(batch.views ? { snapshots: batch.views } : {}), ...batch.rows[0]! },
    };
  };
}

/** A row of any declared model, for the document: each model's row schema, one of which a row must match. */
function anyRowOf(specs: readonly ModelSpec[]): z.ZodType {
  const rows = specs.map((spec) => rowSchema(spec, true).openapi({ title: `a row for ${spec.name}` }));
  const [first, second, ...rest] = rows;
  if (!first) return z.object({}).passthrough();
  return second ? z.union([first, second, ...rest]) : first;
}

export function registerPredictRoutes(app: Api, deps: AppDeps, guard: Guard): void {
  const schemasOf = schemaCache(deps);
  const answerQuery = predictQueryHandler(deps, schemasOf);
  const access = guard('predict', deps.auth.openPredict);

  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/predict',
    tags: ['predictions'],
    summary: 'Predict one row with the champion',
    description: "The request's raw fields go through the model's own feature SQL, then its champion's ONNX session.",
    ...(deps.auth.openPredict ? {} : { security: access.security }),
    request: { query: predictQuerySchema(deps.specs) },
    responses: { 200: json(Prediction, 'the prediction and the features it was made from'), ...errors(400, 401, 403, 404, 503) },
  });
  app.get('/predict', access.middleware, async (c) => {
    const q = c.req.url.indexOf('?');
    const { version, body } = await answerQuery(q < 0 ? '' : c.req.url.slice(q + 1));
    c.header('x-model-version', String(version)); // also in the body: for proxies and logs
    return c.json(body);
  });

  const firstSpec = deps.specs[0];
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/predict',
    tags: ['predictions'],
    summary: `Predict up to ${deps.limits.maxPredictRows} rows with the champion, in one micro-batch or more`,
    ...(deps.auth.openPredict ? {} : { security: access.security }),
    request: {
      query: z.object({ explain: explainParam }),
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z
              .object({ model: modelName, rows: z.array(anyRowOf(deps.specs)).min(1).max(deps.limits.maxPredictRows) })
              .openapi('PredictRequest', {
                example: firstSpec
                  ? { model: firstSpec.name, rows: [Object.fromEntries(requestColumns(firstSpec).map((col) => [col.name, col.example ?? '']))] }
                  : undefined,
              }),
          },
        },
      },
    },
    responses: { 200: json(Predictions, 'one answer per row, in order, all from the same version'), ...errors(400, 401, 403, 404, 413, 503) },
  });
  app.post('/predict', access.middleware, async (c) => {
    const explain = explainFlag(c.req.query('explain'));
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new InvalidRequestError([{ field: '(body)', problem: 'must be JSON: {"model": "...", "rows": [{...}]}' }]);
    }
    const loaded = await deps.predictor.spec(checkedModel((body as { model?: unknown } | null)?.model));
    const { rows } = parseOrThrow(schemasOf(loaded).body, body, `for model '${loaded.spec.name}'`);
    const batch = await deps.predictor.predict(loaded.spec.name, rows.map((r) => rowValues(loaded.spec, r)), { explain });
    countPredictions(deps, batch);
    c.header('x-model-version', String(batch.version));
    return c.json({ model: batch.model, version: batch.version, task: batch.task, labelColumn: batch.labelColumn, ...(batch.views ? { snapshots: batch.views } : {}), predictions: batch.rows });
  });
}
