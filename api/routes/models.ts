// Registry and promotion routes: read models, versions and the alias log; see what a running
// promotion waits for; approve or reject the version it waits on; roll champion back. Every
// alias move runs in the model's promotion workflow (one at a time per model), never here.
import { createRoute, z } from '@hono/zod-openapi';
import {
  isGrpcDeadlineError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { temporalUiLink } from '../../core/config.js';
import { NoPendingApprovalError, NoPreviousChampionError, PromotionInProgressError, rootCause, WorkflowNotAnsweringError } from '../../core/errors.js';
import { decideUpdate, promotionWorkflowId, statusQuery, type RollbackInput } from '../../core/promotion.js';
import { CHALLENGER, CHAMPION, rollbackTarget, type ModelCard, openRegistry } from '../../storage/registry.js';
import { loadAllSpecs, loadSpec } from '../../core/spec.js';
import { WorkflowStarter } from '../../runs/starter.js';
import { EvaluateAndPromoteWorkflow } from '../../workflows/promote.js';
import type { Api, AppDeps, Guard } from '../app.js';
import { AliasRecord, asJson, DecisionResult, ModelCard as CardSchema, ModelDetail, ModelSummary, Promotion, RollbackResult } from '../responses.js';
import { errors, json, ModelParam, ModelVersionParams, WhoAndWhy } from '../schemas.js';

/** How long approve, reject and rollback wait for the workflow to finish the move they asked for. */
const MOVE_WAIT_MS = 30_000;

export function registerModelRoutes(app: Api, deps: AppDeps, guard: Guard): void {
  const registry = openRegistry(deps.paths);
  const spec = (name: string) => loadSpec(deps.paths, name); // 404 for unknown names
  const read = guard('predict');
  const admin = guard('admin');
  const tags = ['models'];

  app.openapi(
    createRoute({
      method: 'get',
      path: '/models',
      tags,
      summary: 'Declared models with their champion, challenger and version count (a spec that does not load: its error)',
      ...read,
      responses: { 200: json(z.object({ models: z.array(ModelSummary) }), 'the models'), ...errors(401, 403) },
    }),
    async (c) => {
      const models = [];
      for (const { name, spec: s, error } of await loadAllSpecs(deps.paths)) {
        if (!s) {
          // One broken spec file must not hide the others: it is listed with what is wrong with it.
          deps.log.warn('spec_invalid', { model: name, error });
          models.push({ name, error, links: { self: `/models/${name}`, reports: `/reports/${name}` } });
          continue;
        }
        const versions = await registry.listVersions(name);
        models.push({
          name,
          task: s.task,
          description: s.description,
          champion: (await registry.getAlias(name, CHAMPION))?.version ?? null,
          challenger: (await registry.getAlias(name, CHALLENGER))?.version ?? null,
          versions: versions.length,
          latestVersion: versions.at(-1) ?? null,
          links: { self: `/models/${name}`, reports: `/reports/${name}` },
        });
      }
      return c.json({ models }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/models/{name}',
      tags,
      summary: 'Gate and approval policy, aliases, and every version with its metrics, last evaluation and lineage',
      ...read,
      request: { params: ModelParam },
      responses: { 200: json(ModelDetail, 'the model'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const { spec: s } = await spec(name);
      const versions = [];
      for (const v of await registry.listVersions(name)) versions.push(asJson(versionSummary(await registry.readCard(name, v))));
      return c.json(
        {
          name,
          task: s.task,
          description: s.description,
          gate: s.gate,
          approval: s.approval,
          monitoring: s.monitoring,
          schedules: s.schedules,
          aliases: { [CHAMPION]: (await registry.getAlias(name, CHAMPION)) ?? null, [CHALLENGER]: (await registry.getAlias(name, CHALLENGER)) ?? null },
          versions,
          links: { history: `/models/${name}/aliases/history`, promotion: `/models/${name}/promotion`, reports: `/reports/${name}` },
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/models/{name}/versions/{version}',
      tags,
      summary: 'The full model card: lineage, trainer, parity, every evaluation',
      ...read,
      request: { params: ModelVersionParams },
      responses: { 200: json(CardSchema, 'the card'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { name, version } = c.req.valid('param');
      await spec(name);
      return c.json(asJson(await registry.readCard(name, version)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/models/{name}/aliases/history',
      tags,
      summary: 'The audit log: every alias move with time, from, to, action, actor, reason, workflow and run',
      ...read,
      request: { params: ModelParam },
      responses: { 200: json(z.object({ model: z.string(), entries: z.array(AliasRecord) }), 'the log, oldest first'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      await spec(name);
      return c.json({ model: name, entries: asJson(await registry.aliasHistory(name)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/models/{name}/promotion',
      tags,
      summary: 'What the running promotion of the model does or waits for (its status query)',
      ...read,
      request: { params: ModelParam },
      responses: { 200: json(Promotion, 'running: false, or the workflow and its status'), ...errors(400, 401, 403, 404, 503) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      await spec(name);
      const client = await deps.client();
      const running = await runningPromotion(client, name);
      if (!running) return c.json({ model: name, running: false }, 200);
      const { handle, runId, type } = running;
      const status = type === EvaluateAndPromoteWorkflow.name ? await answered(client, handle.workflowId, () => handle.query(statusQuery)) : null;
      return c.json({ model: name, running: true, workflowId: handle.workflowId, type, status, temporalUi: temporalUiLink(deps.temporal, handle.workflowId, runId) }, 200);
    },
  );

  for (const action of ['approve', 'reject'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/models/{name}/versions/{version}/${action}`,
        tags,
        summary: `${action === 'approve' ? 'Approve' : 'Reject'} the version the running promotion waits on (update \`decide\`)`,
        ...admin,
        request: { params: ModelVersionParams, body: { required: true, content: { 'application/json': { schema: WhoAndWhy } } } },
        responses: { 200: json(DecisionResult, 'the decision and the workflow’s result'), ...errors(400, 401, 403, 404, 409, 503) },
      }),
      async (c) => {
        const { name, version } = c.req.valid('param');
        const { actor, reason } = c.req.valid('json');
        await spec(name);
        await registry.readCard(name, version);
        const client = await deps.client();
        const running = await runningPromotion(client, name);
        if (!running || running.type !== EvaluateAndPromoteWorkflow.name) {
          throw new NoPendingApprovalError(name, version, running ? `a ${running.type} is running` : 'no promotion is running');
        }
        try {
          await answered(client, running.handle.workflowId, () => running.handle.executeUpdate(decideUpdate, { args: [{ version, approve: action === 'approve', actor, reason }] }));
        } catch (err) {
          if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) throw new NoPendingApprovalError(name, version, rootCause(err).message);
          throw err;
        }
        // The decision is recorded; what follows it (the alias move) is reported, not re-thrown:
        // a client that retried after an error here would only be told nothing waits any more.
        const result = await settle(running.handle).catch((err: unknown) => ({ failed: rootCause(err) }));
        return c.json({ model: name, version, decision: action, workflowId: running.handle.workflowId, result }, 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/models/{name}/rollback',
      tags,
      summary: 'Move champion back to the one before it (RollbackChampionWorkflow)',
      ...admin,
      request: { params: ModelParam, body: { required: true, content: { 'application/json': { schema: WhoAndWhy } } } },
      responses: { 200: json(RollbackResult, 'the alias move'), ...errors(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const { actor, reason } = c.req.valid('json');
      await spec(name);
      // Answered here when plainly impossible; the workflow decides again under the model's lock.
      if (rollbackTarget(await registry.aliasHistory(name)) === null) throw new NoPreviousChampionError(name);
      const input: RollbackInput = { model: name, actor, reason };
      const handle = await startPromotion(deps, name, (starter) => starter.rollback(input));
      try {
        return c.json({ model: name, workflowId: handle.workflowId, moved: await settle(handle) }, 200);
      } catch (err) {
        if (err instanceof WorkflowFailedError && rootCause(err).type === 'NoPreviousChampionError') throw new NoPreviousChampionError(name);
        throw err;
      }
    },
  );
}

/** What GET /models/:name says about each version: enough to choose, with links to the rest. */
function versionSummary(card: ModelCard) {
  const last = card.evaluations?.at(-1);
  return {
    version: card.version,
    createdAt: card.createdAt,
    holdout: card.metrics.holdout,
    lastEvaluation: last
      ? { outcome: last.outcome, evaluatedAt: last.report.evaluatedAt, gate: last.report.gate, ...(last.decision ? { decision: last.decision } : {}), workflowId: last.workflowId, runId: last.runId }
      : null,
    lineage: {
      snapshotHash: card.lineage.dataset.snapshotHash,
      trainPartitions: card.lineage.dataset.trainPartitions,
      holdoutPartitions: card.lineage.dataset.holdoutPartitions,
      featureSqlSha256: card.lineage.featureSql.sha256,
      codeVersion: card.lineage.codeVersion,
      workflowId: card.lineage.workflowId,
      runId: card.lineage.runId,
    },
    links: { self: `/models/${card.model}/versions/${card.version}` },
  };
}

async function runningPromotion(client: Client, model: string): Promise<{ handle: WorkflowHandle; runId: string; type: string } | undefined> {
  try {
    const d = await client.workflow.getHandle(promotionWorkflowId(model)).describe();
    // Pinned to the run described, so an update or result never reaches a newer run by accident.
    return d.status.name === 'RUNNING' ? { handle: client.workflow.getHandle(d.workflowId, d.runId), runId: d.runId, type: d.type } : undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Start a workflow under the model's promotion id (`start`); a running one there is a 409 saying what it does. */
export async function startPromotion<H>(deps: Pick<AppDeps, 'client' | 'temporal'>, model: string, start: (starter: WorkflowStarter) => Promise<H>): Promise<H> {
  const client = await deps.client();
  try {
    return await start(new WorkflowStarter(client, deps.temporal.taskQueue));
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const workflowId = promotionWorkflowId(model);
    const running = await runningPromotion(client, model);
    let doing = running?.type ?? 'finishing';
    if (running?.type === EvaluateAndPromoteWorkflow.name) {
      const s = await answered(client, workflowId, () => running.handle.query(statusQuery)).catch(() => undefined);
      if (s) doing = s.stage === 'awaiting-approval' ? `v${s.version} is waiting for approval until ${s.approval?.deadline}` : `${s.stage} v${s.version}`;
    }
    throw new PromotionInProgressError(model, workflowId, doing);
  }
}

/** A query or update, which needs a worker to answer: bounded, so a request never hangs on a stopped worker. */
async function answered<T>(client: Client, workflowId: string, call: () => Promise<T>): Promise<T> {
  try {
    return await client.withDeadline(Date.now() + MOVE_WAIT_MS, call);
  } catch (err) {
    if (isGrpcDeadlineError(err) || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) throw new WorkflowNotAnsweringError(workflowId, MOVE_WAIT_MS / 1000);
    throw err;
  }
}

/** The workflow's result if it finishes soon (it has one quick step left), else a pointer to follow it. */
async function settle(handle: WorkflowHandle): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ pending: true; status: string }>((resolve) => {
    timer = setTimeout(() => resolve({ pending: true, status: `/workflows/${encodeURIComponent(handle.workflowId)}` }), MOVE_WAIT_MS);
  });
  try {
    return await Promise.race([handle.result(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
