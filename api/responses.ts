// What the registry, promotion and workflow routes answer, as zod schemas: the handlers are
// type-checked against them, /openapi.json documents them, and the typed client (client/) is
// generated from that document. Nested records whose shape belongs to the trainer or the gate
// stay open objects (their keys are documented on the card), so a new metric never breaks a caller.
import { z } from '@hono/zod-openapi';
import { TASK_NAMES } from '../tasks/index.js';

const Open = z.record(z.string(), z.unknown());
const version = z.number().int();

export const Links = z.record(z.string(), z.string()).openapi('Links');

export const ModelSummary = z
  .object({
    name: z.string(),
    task: z.enum(TASK_NAMES).optional(),
    description: z.string().optional(),
    champion: version.nullable().optional(),
    challenger: version.nullable().optional(),
    versions: z.number().int().optional(),
    latestVersion: version.nullable().optional(),
    error: z.string().optional().openapi({ description: 'why the spec does not load (then only name and links are given)' }),
    links: Links,
  })
  .openapi('ModelSummary');

export const AliasRecord = z
  .object({
    model: z.string(),
    alias: z.string(),
    version: version.nullable(),
    previousVersion: version.nullable(),
    updatedAt: z.string(),
    action: z.string(),
    actor: z.string(),
    reason: z.string(),
    workflowId: z.string().nullable(),
    runId: z.string().nullable(),
  })
  .openapi('AliasRecord');

export const VersionSummary = z
  .object({
    version,
    createdAt: z.string(),
    holdout: Open.openapi({ description: 'the holdout metrics (auc, logLoss, accuracy, rmse, ... by task)' }),
    lastEvaluation: z
      .object({ outcome: z.string(), evaluatedAt: z.string(), gate: Open, decision: Open.optional(), workflowId: z.string(), runId: z.string() })
      .nullable(),
    lineage: z.object({
      snapshotHash: z.string(),
      trainPartitions: z.array(z.string()),
      holdoutPartitions: z.array(z.string()),
      featureSqlSha256: z.string(),
      codeVersion: z.string(),
      workflowId: z.string(),
      runId: z.string(),
    }),
    links: Links,
  })
  .openapi('VersionSummary');

export const ModelDetail = z
  .object({
    name: z.string(),
    task: z.enum(TASK_NAMES),
    description: z.string(),
    gate: Open,
    approval: z.object({ required: z.boolean(), timeoutSeconds: z.number() }),
    monitoring: Open,
    schedules: Open,
    aliases: z.record(z.string(), z.union([AliasRecord, z.null()])),
    versions: z.array(VersionSummary),
    links: Links,
  })
  .openapi('ModelDetail');

export const ModelCard = z
  .object({
    model: z.string(),
    version,
    createdAt: z.string(),
    task: z.enum(TASK_NAMES),
    description: z.string(),
    inputs: z.array(z.object({ name: z.string(), kind: z.enum(['numeric', 'categorical']) })),
    output: z.string(),
    classes: z.array(z.string()).optional(),
    labelColumn: z.string(),
    decisionThreshold: z.number(),
    trainer: Open,
    metrics: z.object({ holdout: Open, trainRows: z.number() }).passthrough(),
    onnx: Open,
    trees: z.object({ sha256: z.string(), bytes: z.number() }).optional(),
    evaluations: z.array(Open).optional(),
    lineage: Open,
  })
  .passthrough()
  .openapi('ModelCard');

export const Promotion = z
  .object({
    model: z.string(),
    running: z.boolean(),
    workflowId: z.string().optional(),
    type: z.string().optional(),
    status: Open.nullable().optional().openapi({ description: 'the promotion’s status query: stage, version, approval deadline' }),
    temporalUi: z.string().optional(),
  })
  .openapi('Promotion');

const Failure = z.object({ message: z.string(), type: z.string().nullable() }).openapi('Failure');

export const DecisionResult = z
  .object({
    model: z.string(),
    version,
    decision: z.enum(['approve', 'reject']),
    workflowId: z.string(),
    result: z.unknown().openapi({ description: 'the promotion’s result, {failed} when it failed, or {pending, status} when it has not finished yet' }),
  })
  .openapi('DecisionResult');

export const RollbackResult = z
  .object({
    model: z.string(),
    workflowId: z.string(),
    moved: z.unknown().openapi({ description: 'the alias move, or {pending, status} when it has not finished yet' }),
  })
  .openapi('RollbackResult');

export const PendingActivity = z
  .object({
    activity: z.string().nullable(),
    attempt: z.number().int(),
    progress: z.unknown().openapi({ description: 'the activity’s last heartbeat: stage, rows, iteration of numIterations, ...' }),
    lastFailure: z.string().nullable(),
  })
  .openapi('PendingActivity');

export const WorkflowRun = z
  .object({
    workflowId: z.string(),
    runId: z.string(),
    type: z.string(),
    status: z.enum(['RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT', 'PAUSED', 'UNKNOWN', 'UNSPECIFIED']),
    startTime: z.string(),
    closeTime: z.string().nullable(),
    temporalUi: z.string(),
    result: z.unknown().optional().openapi({ description: 'when COMPLETED' }),
    pendingActivities: z.array(PendingActivity).optional().openapi({ description: 'when RUNNING' }),
    failure: Failure.nullable().optional().openapi({ description: 'otherwise: the innermost cause' }),
  })
  .openapi('WorkflowRun');

type Writable<T> = T extends (infer U)[] | readonly (infer U)[] ? Writable<U>[] : T extends object ? { -readonly [K in keyof T]: Writable<T[K]> } : T;

/**
 * A domain value as the JSON a handler answers: the same value, its readonly marks dropped (JSON
 * has none), so the route's response schema still checks every field's type.
 */
export const asJson = <T>(value: T): Writable<T> => value as Writable<T>;

/** One monitoring report, as GET /reports/{name} lists it. */
export const ReportSummary = z
  .object({
    id: z.string(),
    createdAt: z.string(),
    version: z.number(),
    window: z.array(z.string()),
    verdict: z.string(),
    driftedFeatures: z.array(z.string()),
    decay: z.boolean(),
    retraining: z.string().nullable(),
    links: z.object({ html: z.string(), json: z.string() }),
  })
  .openapi('ReportSummary');
