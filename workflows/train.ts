// TrainModelWorkflow: snapshot -> validate -> training set -> train (or tune: N trials in
// parallel, the best validation metric wins) -> verify ONNX -> register -> promote when the
// gate passes. Deterministic orchestration only: every side
// effect is an activity, every activity is idempotent, so a crash anywhere resumes safely.
import { proxyActivities, upsertSearchAttributes, workflowInfo, log } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../core/errors.js';
import { bestTrial } from '../core/tuning.js';
import { MODEL_NAME, MODEL_VERSION, TRAIN_REASON, type TrainedModel, type TrainModelInput, type TrainModelResult } from '../core/types.js';

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
  const plan = await quick.planTraining({ model });
  let trained: TrainedModel;
  let trials: TrainedModel[] = [];
  if (plan.trials.length === 0) {
    trained = await long.trainModel({ model, trainingSet });
  } else {
    // Each trial is its own activity (visible in the UI with its parameters); `parallelism`
    // lanes take the next trial as they finish.
    trials = new Array<TrainedModel>(plan.trials.length);
    let next = 0;
    const lane = async () => {
      while (next < plan.trials.length) {
        const trial = plan.trials[next++]!;
        trials[trial.index] = await long.trainModel({ model, trainingSet, trial });
      }
    };
    await Promise.all(Array.from({ length: Math.min(plan.parallelism, plan.trials.length) }, lane));
    trained = bestTrial(trials);
    log.info('tuning done', { chosen: trained.trial, validation: trained.validation });
  }
  const parity = await long.verifyOnnx({ model, trained, trainingSet });
  const registered = await quick.registerVersion({
    model,
    snapshot,
    trainingSet,
    trained,
    parity,
    ...(trials.length ? { trials: trials.map((t) => ({ trial: t.trial!, validation: t.validation })) } : {}),
    workflowId,
    runId,
  });
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
    training: {
      iterations: trained.iterations,
      bestIteration: trained.bestIteration,
      resumedFromIteration: trained.resumedFromIteration,
      seconds: trained.seconds,
      ...(trials.length ? { trials: trials.map((t) => ({ trial: t.trial!, validation: t.validation, chosen: t === trained })) } : {}),
    },
  };
}
