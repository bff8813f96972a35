// Registry and promotion routes: read models, versions and the alias log; start an
// evaluation, approve or reject the version it waits on, roll champion back. Every alias move
// runs in the model's promotion workflow (one at a time per model), never in the API.
import {
  isGrpcDeadlineError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { Hono } from 'hono';
import { temporalUiLink, type TemporalSettings } from '../core/config.js';
import { NoPendingApprovalError, NoPreviousChampionError, PromotionInProgressError, rootCause, WorkflowNotAnsweringError } from '../core/errors.js';
import {
  decideUpdate,
  promotionWorkflowId,
  statusQuery,
  type EvaluateAndPromoteInput,
  type PromotionStatus,
  type RollbackInput,
} from '../core/promotion.js';
import { CHALLENGER, CHAMPION, Registry, rollbackTarget, type ModelCard } from '../core/registry.js';
import { listModels, loadSpec } from '../core/spec.js';
import { MODEL_NAME, MODEL_VERSION } from '../core/types.js';
import type { AppDeps } from './app.js';
import { BodyFields, parseVersion, readJsonBody } from './request.js';

/** How long approve, reject and rollback wait for the workflow to finish the move they asked for. */
const MOVE_WAIT_MS = 30_000;

/** The body of every alias-moving request: who asks, and why (both go into the alias log). */
async function readWhoAndWhy(req: Request, who: string): Promise<{ actor: string; reason: string }> {
  const fields = new BodyFields(await readJsonBody(req, '{"actor": "alice", "reason": "checked the gate results"}'), ['actor', 'reason']);
  const actor = fields.string('actor', { required: true, max: 100, hint: who });
  const reason = fields.string('reason', { required: true, max: 500, hint: 'why, recorded in the alias log' });
  fields.done();
  return { actor, reason };
}

export function registerModelRoutes(app: Hono, deps: AppDeps): void {
  const registry = new Registry(deps.paths.registryDir);
  const spec = (name: string) => loadSpec(deps.paths.modelsDir, deps.paths.sqlDir, name); // 404 for unknown names

  app.get('/models', async (c) => {
    const models = [];
    for (const name of await listModels(deps.paths.modelsDir)) {
      const { spec: s } = await spec(name);
      const versions = await registry.listVersions(name);
      models.push({
        name,
        task: s.task,
        description: s.description,
        champion: (await registry.getAlias(name, CHAMPION))?.version ?? null,
        challenger: (await registry.getAlias(name, CHALLENGER))?.version ?? null,
        versions: versions.length,
        latestVersion: versions.at(-1) ?? null,
        links: { self: `/models/${name}` },
      });
    }
    return c.json({ models });
  });

  app.get('/models/:name', async (c) => {
    const name = c.req.param('name');
    const { spec: s } = await spec(name);
    const versions = [];
    for (const v of await registry.listVersions(name)) versions.push(versionSummary(await registry.readCard(name, v)));
    return c.json({
      name,
      task: s.task,
      description: s.description,
      gate: s.gate,
      approval: s.approval,
      aliases: {
        [CHAMPION]: (await registry.getAlias(name, CHAMPION)) ?? null,
        [CHALLENGER]: (await registry.getAlias(name, CHALLENGER)) ?? null,
      },
      versions,
      links: { history: `/models/${name}/aliases/history`, promotion: `/models/${name}/promotion` },
    });
  });

  app.get('/models/:name/versions/:version', async (c) => {
    const name = c.req.param('name');
    await spec(name);
    return c.json(await registry.readCard(name, parseVersion(c.req.param('version'))));
  });

  app.get('/models/:name/aliases/history', async (c) => {
    const name = c.req.param('name');
    await spec(name);
    return c.json({ model: name, entries: await registry.aliasHistory(name) });
  });

  /** What the running promotion of the model is doing or waiting for (the workflow's `status` query). */
  app.get('/models/:name/promotion', async (c) => {
    const name = c.req.param('name');
    await spec(name);
    const running = await runningPromotion(await deps.client(), name);
    if (!running) return c.json({ model: name, running: false }, 200);
    const { handle, runId, type } = running;
    const status = type === 'EvaluateAndPromoteWorkflow' ? await answered(await deps.client(), handle.workflowId, () => handle.query(statusQuery)) : null;
    return c.json({ model: name, running: true, workflowId: handle.workflowId, type, status, temporalUi: temporalUiLink(deps.temporal, handle.workflowId, runId) });
  });

  app.post('/workflows/evaluate', async (c) => {
    const fields = new BodyFields(await readJsonBody(c.req.raw, '{"model": "flight_delay", "version": 3}'), ['model', 'version', 'actor', 'reason']);
    const model = fields.string('model', { required: true, max: 63, hint: 'the name of a model (see GET /models)' });
    const version = fields.version('version', 'the registered version to evaluate (see GET /models/:name)');
    const actor = fields.string('actor', { required: false, max: 100, hint: 'who asks for the evaluation' });
    const reason = fields.string('reason', { required: false, max: 500, hint: 'why' });
    fields.done();
    await spec(model);
    await registry.readCard(model, version); // 404 for an unknown version
    const client = await deps.client();
    const input: EvaluateAndPromoteInput = { model, version, actor: actor ?? 'api', ...(reason ? { reason } : {}) };
    const handle = await startPromotionWorkflow(client, deps.temporal, model, 'EvaluateAndPromoteWorkflow', [input], version);
    return c.json(
      {
        workflowId: handle.workflowId,
        runId: handle.firstExecutionRunId,
        status: `/workflows/${encodeURIComponent(handle.workflowId)}`,
        promotion: `/models/${model}/promotion`,
        temporalUi: temporalUiLink(deps.temporal, handle.workflowId, handle.firstExecutionRunId),
      },
      202,
    );
  });

  for (const action of ['approve', 'reject'] as const) {
    app.post(`/models/:name/versions/:version/${action}`, async (c) => {
      const name = c.req.param('name');
      const version = parseVersion(c.req.param('version'));
      const { actor, reason } = await readWhoAndWhy(c.req.raw, `who ${action}s`);
      await spec(name);
      await registry.readCard(name, version);
      const client = await deps.client();
      const running = await runningPromotion(client, name);
      if (!running || running.type !== 'EvaluateAndPromoteWorkflow') {
        throw new NoPendingApprovalError(name, version, running ? `a ${running.type} is running` : 'no promotion is running');
      }
      try {
        await answered(client, running.handle.workflowId, () =>
          running.handle.executeUpdate(decideUpdate, { args: [{ version, approve: action === 'approve', actor, reason }] }),
        );
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) {
          throw new NoPendingApprovalError(name, version, rootCause(err).message);
        }
        throw err;
      }
      // The decision is recorded; what follows it (the alias move) is reported, not re-thrown:
      // a client that retried after an error here would only be told nothing waits any more.
      const result = await settle(running.handle).catch((err: unknown) => ({ failed: rootCause(err) }));
      return c.json({ model: name, version, decision: action, workflowId: running.handle.workflowId, result });
    });
  }

  app.post('/models/:name/rollback', async (c) => {
    const name = c.req.param('name');
    const { actor, reason } = await readWhoAndWhy(c.req.raw, 'who rolls back');
    await spec(name);
    // Answered here when plainly impossible; the workflow decides again under the model's lock.
    if (rollbackTarget(await registry.aliasHistory(name)) === null) throw new NoPreviousChampionError(name);
    const input: RollbackInput = { model: name, actor, reason };
    const handle = await startPromotionWorkflow(await deps.client(), deps.temporal, name, 'RollbackChampionWorkflow', [input]);
    try {
      return c.json({ model: name, workflowId: handle.workflowId, moved: await settle(handle) });
    } catch (err) {
      if (err instanceof WorkflowFailedError && rootCause(err).type === 'NoPreviousChampionError') throw new NoPreviousChampionError(name);
      throw err;
    }
  });
}

/** What GET /models/:name says about each version: enough to choose, with links to the rest. */
function versionSummary(card: ModelCard) {
  const last = card.evaluations?.at(-1);
  return {
    version: card.version,
    createdAt: card.createdAt,
    holdout: card.metrics.holdout,
    lastEvaluation: last
      ? {
          outcome: last.outcome,
          evaluatedAt: last.report.evaluatedAt,
          gate: last.report.gate,
          ...(last.decision ? { decision: last.decision } : {}),
          workflowId: last.workflowId,
        }
      : null,
    lineage: {
      snapshotHash: card.lineage.dataset.snapshotHash,
      trainPartitions: card.lineage.dataset.trainPartitions,
      holdoutPartitions: card.lineage.dataset.holdoutPartitions,
      featureSqlSha256: card.lineage.featureSql.sha256,
      codeVersion: card.lineage.codeVersion,
      workflowId: card.lineage.workflowId,
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

/** Start a workflow under the model's promotion id; a running one there is a 409 saying what it does. */
async function startPromotionWorkflow(
  client: Client,
  temporal: TemporalSettings,
  model: string,
  type: 'EvaluateAndPromoteWorkflow' | 'RollbackChampionWorkflow',
  args: unknown[],
  version?: number,
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const workflowId = promotionWorkflowId(model);
  try {
    return await client.workflow.start(type, {
      taskQueue: temporal.taskQueue,
      workflowId,
      args,
      typedSearchAttributes: [{ key: MODEL_NAME, value: model }, ...(version ? [{ key: MODEL_VERSION, value: version }] : [])],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const running = await runningPromotion(client, model);
    let doing = running?.type ?? 'finishing';
    if (running?.type === 'EvaluateAndPromoteWorkflow') {
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
