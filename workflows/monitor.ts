// MonitorModelWorkflow: compare a window of the lake with the champion's training reference
// (features, predictions, labels) and its performance with its value at promotion; write the
// report; and when the spec's thresholds are crossed, start TrainModelWorkflow by itself,
// unless one is already running for the model.
import {
  executeChild,
  log,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities/index.js';
import { ACTIVITY_RETRY } from '../core/errors.js';
import type { DriftReport, MonitorModelInput, MonitorModelResult, RetrainDecision } from '../core/monitoring.js';
import { MODEL_NAME, MODEL_VERSION, MONITOR_VERDICT } from '../core/types.js';
import { batchRun, monitorBatchWorkflowId, retrainWorkflowId, startOptions, trainRun } from './starts.js';

const quick = proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', retry: ACTIVITY_RETRY });
// Drift over millions of rows takes seconds; it heartbeats per column.
const analysis = proxyActivities<Activities>({ startToCloseTimeout: '1 hour', heartbeatTimeout: '1 minute', retry: ACTIVITY_RETRY });

export async function MonitorModelWorkflow(input: MonitorModelInput): Promise<MonitorModelResult> {
  const { workflowId, runId, startTime } = workflowInfo();
  upsertSearchAttributes([{ key: MODEL_NAME, value: input.model }]);
  const plan = await quick.planMonitor(input);
  upsertSearchAttributes([{ key: MODEL_VERSION, value: plan.version }]);

  // The champion's outputs on its reference and on the window come from batch scoring: score
  // what it has not scored yet (a child run, visible on its own in the UI).
  let batchWorkflowId: string | null = null;
  if (plan.unscored.length > 0) {
    const batch = batchRun({ model: input.model, version: plan.version, partitions: plan.unscored, reason: `monitoring ${workflowId}` }, monitorBatchWorkflowId(workflowId));
    batchWorkflowId = batch.workflowId;
    setCurrentDetails(`Scoring ${plan.unscored.length} partition(s) v${plan.version} has not scored yet (${batchWorkflowId})`);
    await executeChild(batch.workflow, startOptions(batch));
  }

  setCurrentDetails(`Comparing ${plan.window.join(', ')} with the ${plan.reference.length} partition(s) v${plan.version} was trained on`);
  const reportId = `${startTime.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${runId.slice(0, 8)}`;
  const computed = await analysis.computeDrift({ plan, reportId, workflowId, runId });
  upsertSearchAttributes([{ key: MONITOR_VERDICT, value: computed.summary.verdict }]);

  let retrain: RetrainDecision = computed.retrain;
  if (retrain.wanted) retrain = await startRetraining(input.model, computed, retrain);
  const report: DriftReport = { ...computed, retrain };
  const dir = await quick.writeReport({ report });
  setCurrentDetails(
    `${report.summary.verdict}: ${retrain.started ? `retraining started (${retrain.started.workflowId})` : retrain.skipped ?? 'no retraining needed'}. ` +
      `Report: GET /reports/${input.model}/${reportId}`,
  );
  return { model: input.model, version: plan.version, reportId, report: dir, summary: report.summary, retrain, batchWorkflowId };
}

/**
 * Start TrainModelWorkflow with the reason on the run (search attribute and memo) and let it
 * outlive this run, unless a training of the model is running already (started by anyone).
 */
async function startRetraining(model: string, report: Omit<DriftReport, 'retrain'>, decision: RetrainDecision): Promise<RetrainDecision> {
  const running = await quick.findRunningTraining({ model });
  if (running.length > 0) {
    log.info('drift wants a retraining, but one is running already', { running });
    return { ...decision, skipped: `a training of ${model} is already running (${running.join(', ')})` };
  }
  const reason = report.summary.decay && !report.summary.driftedFeatures.length && !report.summary.predictionDrift ? 'decay' : 'drift';
  const run = trainRun({ model, reason, actor: 'MonitorModelWorkflow' }, retrainWorkflowId(model));
  const { workflowId } = run;
  try {
    const child = await startChild(run.workflow, {
      ...startOptions(run),
      parentClosePolicy: ParentClosePolicy.ABANDON,
      memo: {
        trigger: {
          by: workflowInfo().workflowId,
          report: `/reports/${model}/${report.reportId}`,
          window: report.window.partitions,
          reasons: decision.reasons,
        },
      },
    });
    return { ...decision, started: { workflowId: child.workflowId, runId: child.firstExecutionRunId } };
  } catch (err) {
    // The list above can lag a just-started run; the fixed id cannot.
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { ...decision, skipped: `a training of ${model} is already running (${workflowId})` };
    throw err;
  }
}
