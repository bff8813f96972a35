// TrainModelWorkflow: snapshot -> validate -> training set -> train -> verify ONNX ->
// register -> promote when the gate passes. Deterministic orchestration only: every side
// effect is an activity, every activity is idempotent, so a crash anywhere resumes safely.
import { proxyActivities, upsertSearchAttributes, workflowInfo, log } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../core/errors.js';
import { MODEL_NAME, MODEL_VERSION, TRAIN_REASON, type TrainModelInput, type TrainModelResult } from '../core/types.js';

const retry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 5,
  nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
};

// Short steps: no heartbeat needed.
const quick = proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', retry });

// Long steps heartbeat: a dead worker is noticed within heartbeatTimeout and the step is
// retried on another (or the restarted) worker, resuming from its checkpoint.
const long = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '20 seconds',
  retry,
});

export async function TrainModelWorkflow(input: TrainModelInput): Promise<TrainModelResult> {
  const { workflowId, runId } = workflowInfo();
  const model = input.model;
  upsertSearchAttributes([
    { key: MODEL_NAME, value: model },
    { key: TRAIN_REASON, value: input.reason ?? 'manual' },
  ]);

  const snapshot = await quick.snapshotDataset({ model });
  await quick.validateDataset({ model, snapshot });
  const trainingSet = await quick.buildTrainingSet({ model, snapshot, workflowId, runId });
  const trained = await long.trainModel({ model, trainingSet });
  const parity = await long.verifyOnnx({ model, trained, trainingSet });
  const registered = await quick.registerVersion({ model, snapshot, trainingSet, trained, parity, workflowId, runId });
  upsertSearchAttributes([{ key: MODEL_VERSION, value: registered.version }]);

  let champion = await quick.currentChampion({ model });
  let promoted = false;
  if (registered.gate.passed) {
    await quick.promoteVersion({
      model,
      version: registered.version,
      actor: input.actor ?? 'TrainModelWorkflow',
      reason: `passed gate: ${registered.gate.checks.map((c) => c.name).join('; ')}`,
      workflowId,
    });
    champion = registered.version;
    promoted = true;
  } else {
    const failed = registered.gate.checks.filter((c) => !c.passed);
    log.warn('candidate did not pass the gate; champion unchanged', { version: registered.version, failed });
  }
  await quick.cleanupRun({ model, workflowId, runId });
  return {
    model,
    version: registered.version,
    promoted,
    champion,
    holdout: trained.holdout,
    gate: registered.gate,
    snapshot: { rows: snapshot.rows, contentHash: snapshot.contentHash, partitions: snapshot.partitions.length },
    training: { epochs: trained.epochs, resumedFromEpoch: trained.resumedFromEpoch, seconds: trained.seconds },
  };
}
