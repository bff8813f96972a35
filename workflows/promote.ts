// EvaluateAndPromoteWorkflow: evaluate a registered version against the champion and the
// naive baseline -> apply the spec's gate -> wait for a person when the spec asks (update
// `decide`, with a deadline) -> move champion. RollbackChampionWorkflow: move champion back.
// Both run under the model's promotion id (promotionWorkflowId), so moves of one model never
// overlap; every move goes through the logged moveAlias activity.
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { CHALLENGER, CHAMPION, type AliasLogEntry } from '../core/aliases.js';
import { ACTIVITY_RETRY } from '../core/errors.js';
import {
  decideUpdate,
  statusQuery,
  type ApprovalDecision,
  type EvaluateAndPromoteInput,
  type EvaluateAndPromoteResult,
  type EvaluationRecord,
  type PromotionOutcome,
  type PromotionStatus,
  type RollbackInput,
} from '../core/promotion.js';
import { MODEL_NAME, MODEL_VERSION } from '../core/types.js';

const quick = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: ACTIVITY_RETRY });
// An alias move may have logged its line before failing: it is retried until it completes
// (it is idempotent), so the log and the alias file never stay apart.
const moves = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { ...ACTIVITY_RETRY, maximumAttempts: Number.POSITIVE_INFINITY, maximumInterval: '1 minute' } });
// Scoring two models on a holdout week heartbeats per batch; a dead worker is noticed quickly.
const scoring = proxyActivities<Activities>({ startToCloseTimeout: '30 minutes', heartbeatTimeout: '30 seconds', retry: ACTIVITY_RETRY });

export async function EvaluateAndPromoteWorkflow(input: EvaluateAndPromoteInput): Promise<EvaluateAndPromoteResult> {
  const { workflowId, runId } = workflowInfo();
  const { model, version } = input;
  upsertSearchAttributes([
    { key: MODEL_NAME, value: model },
    { key: MODEL_VERSION, value: version },
  ]);
  let status: PromotionStatus = { model, version, stage: 'evaluating' };
  let decision: (ApprovalDecision & { at: string }) | undefined;
  let approvalWindow: EvaluationRecord['approval'];
  /** True only while the approval timer runs: a decision arriving as it expires is refused, not half-applied. */
  let waiting = false;
  setHandler(statusQuery, () => status);
  setHandler(
    decideUpdate,
    (d) => {
      decision = { ...d, at: new Date().toISOString() };
      return status;
    },
    {
      // Rejected before it reaches history: a decision only counts for the version being waited on.
      validator: (d) => {
        if (status.stage !== 'awaiting-approval' || !waiting) throw new Error(`v${version} is not waiting for approval (stage: ${status.stage})`);
        if (d.version !== version) throw new Error(`this promotion is waiting for v${version}, not v${d.version}`);
        if (decision) throw new Error(`v${version} was already ${decision.approve ? 'approved' : 'rejected'} by ${decision.actor}`);
      },
    },
  );
  setCurrentDetails(`Evaluating v${version} of ${model} against the champion and the naive baseline`);

  const { report, approval } = await scoring.evaluateVersion({ model, version });
  const previousChampion = report.champion?.version ?? null;
  status = { ...status, champion: previousChampion, gate: report.gate };
  const record = (outcome: EvaluationRecord['outcome']) =>
    quick.recordEvaluation({
      model,
      version,
      record: { workflowId, runId, report, outcome, ...(approvalWindow ? { approval: approvalWindow } : {}), ...(decision ? { decision } : {}) },
    });
  const finish = async (outcome: PromotionOutcome, champion: number | null): Promise<EvaluateAndPromoteResult> => {
    await record(outcome);
    status = { ...status, stage: 'done', champion, outcome };
    setCurrentDetails(`v${version}: ${outcome}; champion is ${champion === null ? 'none' : `v${champion}`}`);
    await condition(allHandlersFinished);
    return { model, version, outcome, champion, previousChampion, gate: report.gate, report, ...(decision ? { decision } : {}) };
  };
  const move = (alias: string, to: number | null, action: AliasLogEntry['action'], actor: string, reason: string) =>
    moves.moveAlias({ model, alias, version: to, action, actor, reason, workflowId, runId });

  if (!report.gate.passed) {
    log.warn('candidate did not pass the gate; champion unchanged', { version, failed: report.gate.checks.filter((c) => !c.passed) });
    return finish('failed-gate', previousChampion);
  }
  if (previousChampion === version) return finish('already-champion', previousChampion);

  const requester = input.actor ?? 'EvaluateAndPromoteWorkflow';
  let reason = `passed the gate (${report.gate.checks.map((c) => c.name).join('; ')})${input.reason ? `: ${input.reason}` : ''}`;
  if (approval.required) {
    const deadline = new Date(Date.now() + approval.timeoutSeconds * 1000).toISOString();
    await move(CHALLENGER, version, 'await-approval', requester, `${reason}; waiting for approval until ${deadline}`);
    approvalWindow = { required: true, deadline };
    await record('awaiting-approval');
    status = {
      ...status,
      stage: 'awaiting-approval',
      approval: {
        deadline,
        approve: `POST /models/${model}/versions/${version}/approve`,
        reject: `POST /models/${model}/versions/${version}/reject`,
      },
    };
    setCurrentDetails(
      `Waiting for approval of v${version} (champion: ${previousChampion === null ? 'none' : `v${previousChampion}`}) until ${deadline}.\n` +
        `Approve or reject with POST /models/${model}/versions/${version}/approve|reject {"actor": ..., "reason": ...}.`,
    );
    waiting = true;
    try {
      await condition(() => decision !== undefined, approval.timeoutSeconds * 1000, {
        summary: `approval of ${model} v${version}, until ${deadline}`,
      });
    } catch (err) {
      // Cancelled while waiting (directly, or with the training run that started it): take
      // the challenger back and say so on the card before the cancellation ends the run.
      if (isCancellation(err)) {
        await CancellationScope.nonCancellable(async () => {
          await move(CHALLENGER, null, 'clear', 'EvaluateAndPromoteWorkflow', 'promotion cancelled while waiting for approval');
          await record('cancelled');
        });
      }
      throw err;
    } finally {
      waiting = false;
    }
    // The decision, not the timer, says what happened: an update accepted in the same
    // activation as the timer's expiry still counts.
    const outcome = decision === undefined ? 'expired' : decision.approve ? null : 'rejected';
    const who = decision?.actor ?? 'EvaluateAndPromoteWorkflow';
    const why = decision
      ? `${decision.approve ? 'approved' : 'rejected'} by ${decision.actor}: ${decision.reason}`
      : `no decision by ${deadline}: expired`;
    await move(CHALLENGER, null, 'clear', who, why);
    if (outcome) return finish(outcome, previousChampion);
    reason = `${reason}; ${why}`;
  }
  status = { ...status, stage: 'promoting' };
  await move(CHAMPION, version, 'promote', decision?.actor ?? requester, reason);
  return finish('promoted', version);
}

export async function RollbackChampionWorkflow(input: RollbackInput): Promise<AliasLogEntry> {
  const { workflowId, runId } = workflowInfo();
  upsertSearchAttributes([{ key: MODEL_NAME, value: input.model }]);
  const moved = await moves.rollbackChampion({ ...input, workflowId, runId });
  setCurrentDetails(`Champion of ${input.model} rolled back from v${moved.previousVersion} to v${moved.version} by ${input.actor}`);
  return moved;
}
