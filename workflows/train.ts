// TrainModelWorkflow: snapshot -> validate -> training set -> train (or tune: N trials in
// parallel, the best validation metric wins) -> verify ONNX -> register -> evaluate and
// promote (EvaluateAndPromoteWorkflow as a child). Deterministic orchestration only: every
// side effect is an activity, every activity is idempotent, so a crash anywhere resumes safely.
import {
  executeChild,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities/index.js';
import { ACTIVITY_RETRY } from '../core/errors.js';
import type { EvaluateAndPromoteInput, EvaluateAndPromoteResult } from '../core/promotion.js';
import { bestTrial } from '../core/tuning.js';
import type { GateDecision } from '../core/gate.js';
import {
  MODEL_NAME,
  MODEL_VERSION,
  TRAIN_REASON,
  trainingTaskQueue,
  type RegisteredVersion,
  type TrainedModel,
  type TrainModelInput,
  type TrainModelResult,
} from '../core/types.js';
import { evaluateRun, startOptions } from './starts.js';

// Short steps: no heartbeat needed.
const quick = proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', retry: ACTIVITY_RETRY });

// Long steps heartbeat: a dead worker is noticed within heartbeatTimeout and the step is
// retried on another (or the restarted) worker, resuming from its checkpoint.
const long = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '20 seconds',
  retry: ACTIVITY_RETRY,
});
/** Training itself goes to the run's training task queue, which trainers poll (maybe on other machines). */
function trainingActivities(mainTaskQueue: string) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '20 seconds',
    retry: ACTIVITY_RETRY,
    taskQueue: trainingTaskQueue(mainTaskQueue),
  });
}

export async function TrainModelWorkflow(input: TrainModelInput): Promise<TrainModelResult> {
  const { workflowId, runId, taskQueue } = workflowInfo();
  const model = input.model;
  const training = trainingActivities(taskQueue);
  upsertSearchAttributes([
    { key: MODEL_NAME, value: model },
    { key: TRAIN_REASON, value: input.reason ?? 'manual' },
  ]);

  const snapshot = await quick.snapshotDataset({ model });
  await quick.validateDataset({ model, snapshot });
  const trainingSet = await quick.buildTrainingSet({ model, snapshot, workflowId, runId });
  const plan = await quick.planTraining({ model, ...(snapshot.specHash ? { specHash: snapshot.specHash } : {}) });
  let trained: TrainedModel;
  let trials: TrainedModel[] = [];
  if (plan.trials.length === 0) {
    trained = await training.trainModel({ model, trainingSet });
  } else {
    // Each trial is its own activity (visible in the UI with its parameters); `parallelism`
    // lanes take the next trial as they finish.
    trials = new Array<TrainedModel>(plan.trials.length);
    let next = 0;
    const lane = async () => {
      while (next < plan.trials.length) {
        const trial = plan.trials[next++]!;
        trials[trial.index] = await training.trainModel({ model, trainingSet, trial });
      }
    };
    await Promise.all(Array.from({ length: Math.min(plan.parallelism, plan.trials.length) }, lane));
    trained = bestTrial(trials);
    log.info('tuning done', { chosen: trained.trial, validation: trained.validation });
  }
  // Small data: k-fold cross-validation of the chosen parameters, reported with its spread.
  const crossValidation = plan.folds ? await training.crossValidate({ model, trainingSet, trained, folds: plan.folds }) : undefined;
  const parity = await long.verifyOnnx({ model, trained, trainingSet });
  const registered = await quick.registerVersion({
    model,
    snapshot,
    trainingSet,
    trained,
    parity,
    ...(trials.length ? { trials: trials.map((t) => ({ trial: t.trial!, validation: t.validation })) } : {}),
    ...(crossValidation ? { crossValidation } : {}),
    workflowId,
    runId,
  });
  upsertSearchAttributes([{ key: MODEL_VERSION, value: registered.version }]);

  const base = {
    model,
    version: registered.version,
    holdout: trained.holdout,
    snapshot: { rows: snapshot.rows, contentHash: snapshot.contentHash, partitions: snapshot.partitions.length },
    training: {
      iterations: trained.iterations,
      bestIteration: trained.bestIteration,
      resumedFromIteration: trained.resumedFromIteration,
      ...(trained.attempt !== undefined ? { attempt: trained.attempt } : {}),
      seconds: trained.seconds,
      rows: { train: trainingSet.trainRows, validation: trainingSet.validationRows, holdout: trainingSet.holdoutRows },
      ...(trials.length ? { trials: trials.map((t) => ({ trial: t.trial!, validation: t.validation, chosen: t === trained })) } : {}),
      ...(crossValidation ? { crossValidation } : {}),
    },
  };
  // Runs that passed this point before promotion became a child workflow moved champion in
  // place; their histories must replay the same steps (patched() is false only for them).
  if (!patched(PROMOTION_CHILD_PATCH)) return promoteInPlace(input, registered, base);

  await quick.cleanupRun({ model, workflowId, runId });
  const promotion = await evaluateAndPromote({
    model,
    version: registered.version,
    actor: input.actor ?? 'TrainModelWorkflow',
    reason: `trained by ${workflowId} (${input.reason ?? 'manual'})`,
  });
  return {
    ...base,
    promoted: promotion.result.outcome === 'promoted',
    champion: promotion.result.champion,
    promotion: { workflowId: promotion.workflowId, outcome: promotion.result.outcome, gate: promotion.result.gate },
  };
}

const PROMOTION_CHILD_PATCH = 'evaluate-and-promote-child';

/** The steps of runs started before EvaluateAndPromoteWorkflow: the gate decided at registration. */
async function promoteInPlace(
  input: TrainModelInput,
  registered: RegisteredVersion,
  base: Omit<TrainModelResult, 'promoted' | 'champion' | 'promotion'>,
): Promise<TrainModelResult> {
  const { workflowId, runId } = workflowInfo();
  const gate = (registered as RegisteredVersion & { gate?: GateDecision }).gate ?? { passed: false, checks: [] };
  let champion = await quick.currentChampion({ model: input.model });
  if (gate.passed) {
    await quick.promoteVersion({
      model: input.model,
      version: registered.version,
      actor: input.actor ?? 'TrainModelWorkflow',
      reason: `passed gate: ${gate.checks.map((c) => c.name).join('; ')}`,
      workflowId,
    });
    champion = registered.version;
  }
  await quick.cleanupRun({ model: input.model, workflowId, runId });
  return { ...base, promoted: gate.passed, champion, promotion: { workflowId, outcome: gate.passed ? 'promoted' : 'failed-gate', gate } };
}

/**
 * Run EvaluateAndPromoteWorkflow as a child under the model's promotion id. Another promotion
 * of the model (maybe waiting for a person) holds the id: wait for it, backing off, visibly.
 */
async function evaluateAndPromote(input: EvaluateAndPromoteInput): Promise<{ workflowId: string; result: EvaluateAndPromoteResult }> {
  const run = evaluateRun(input);
  const { workflowId } = run;
  for (let waitMs = 5_000; ; waitMs = Math.min(waitMs * 2, 30 * 60_000)) {
    try {
      setCurrentDetails(`Evaluating v${input.version} in child workflow ${workflowId}`);
      return { workflowId, result: await executeChild(run.workflow, startOptions(run)) };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      log.info('another promotion of this model is running; waiting for it to finish', { workflowId, retryInMs: waitMs });
      setCurrentDetails(`Waiting for ${workflowId} (another promotion of ${input.model}) to finish before evaluating v${input.version}`);
      await sleep(waitMs, { summary: `waiting for ${workflowId} to finish` });
    }
  }
}
