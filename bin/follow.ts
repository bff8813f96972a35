// Following a workflow from a terminal: print its progress (the pending activity and its
// heartbeat details, as the Temporal UI shows them) each time it changes, until it ends.
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { promotionWorkflowId, statusQuery } from '../core/promotion.js';
import type { TrainModelResult } from '../core/types.js';
import { EvaluateAndPromoteWorkflow } from '../workflows/promote.js';

const PROGRESS_EVERY_MS = 10_000;

/** A progress line with its numbers blanked: equal when only the counts moved. */
const withoutCounts = (line: string) => line.replace(/\d+/g, '#');

/**
 * Wait for a run's result while printing its progress through `say`. When the run itself has
 * nothing pending (it waits on a child), `whenIdle` may say what the child does.
 */
export async function follow<T>(
  client: Client,
  workflowId: string,
  say: (line: string) => void,
  options: { readonly runId?: string; readonly whenIdle?: () => Promise<string | undefined> } = {},
): Promise<T> {
  const handle = client.workflow.getHandle(workflowId, options.runId);
  const result = handle.result() as Promise<T>;
  let done = false;
  void result.finally(() => (done = true)).catch(() => {});
  let last = '';
  let saidAt = 0;
  while (!done) {
    const line = pendingLine(await handle.describe().catch(() => undefined)) ?? (await options.whenIdle?.());
    // A new activity, stage or attempt is said at once; mere progress (its counts) at most
    // every PROGRESS_EVERY_MS, so a long activity does not print a line a second.
    if (line && line !== last && (withoutCounts(line) !== withoutCounts(last) || Date.now() - saidAt >= PROGRESS_EVERY_MS)) {
      say(`  ${line}`);
      last = line;
      saidAt = Date.now();
    }
    await Promise.race([result.catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
  }
  return result;
}

/** A training run's progress: its activities, then its promotion child's (with the approve command when it waits). */
export function followTraining(
  client: Client,
  model: string,
  workflowId: string,
  api: { readonly url: string; readonly adminToken: string },
  say: (line: string) => void,
): Promise<TrainModelResult> {
  const promotion = client.workflow.getHandle(promotionWorkflowId(model));
  return follow<TrainModelResult>(client, workflowId, say, {
    async whenIdle() {
      const child = await promotion.describe().catch(() => undefined);
      if (child?.status.name !== 'RUNNING' || child.type !== EvaluateAndPromoteWorkflow.name) return undefined;
      const status = await promotion.query(statusQuery).catch(() => undefined);
      return status?.stage === 'awaiting-approval'
        ? `v${status.version} passed the gate and waits for approval until ${status.approval?.deadline}:\n` +
            `    curl -X POST ${api.url}/models/${model}/versions/${status.version}/approve -H 'authorization: Bearer ${api.adminToken}' -H 'content-type: application/json' -d '{"actor":"you","reason":"why"}'`
        : pendingLine(child);
    },
  });
}

/** The first pending activity of a run, with its heartbeat details and attempt. */
export function pendingLine(d: WorkflowExecutionDescription | undefined): string | undefined {
  const pending = d?.raw.pendingActivities?.[0];
  if (!pending) return undefined;
  const details = pending.heartbeatDetails?.payloads?.[0]?.data;
  return `${pending.activityType?.name}${details ? ` ${Buffer.from(details).toString()}` : ''}${(pending.attempt ?? 1) > 1 ? ` (attempt ${pending.attempt})` : ''}`;
}
