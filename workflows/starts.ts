// How every workflow is started, from a process (runs/starter.ts, the schedules) or from
// another workflow (the monitor's retraining and batch child, training's promotion child): its
// function, its workflow id, its search attributes and its typed arguments, in one place.
// Deterministic and pure: workflow code imports it.
import type { SearchAttributePair, Workflow } from '@temporalio/common';
import type { MonitorModelInput } from '../core/monitoring.js';
import { promotionWorkflowId, type EvaluateAndPromoteInput, type RollbackInput } from '../core/promotion.js';
import { MODEL_NAME, MODEL_VERSION, TRAIN_REASON, type BatchInferenceInput, type IngestInput, type MaterializeInput, type TrainModelInput } from '../core/types.js';
import { BatchInferenceWorkflow } from './batch.js';
import { IngestDatasetWorkflow } from './ingest.js';
import { MaterializeFeaturesWorkflow } from './materialize.js';
import { MonitorModelWorkflow } from './monitor.js';
import { EvaluateAndPromoteWorkflow, RollbackChampionWorkflow } from './promote.js';
import { TrainModelWorkflow } from './train.js';

/** A workflow to start: the function (its name is the workflow type), id, arguments and search attributes. */
export interface StartRequest<W extends Workflow> {
  readonly workflow: W;
  readonly workflowId: string;
  readonly args: Parameters<W>;
  readonly typedSearchAttributes: SearchAttributePair[];
}

/** What every start of `request` passes, from a process or a workflow: its id, arguments and search attributes. */
export function startOptions<W extends Workflow>(request: StartRequest<W>): Pick<StartRequest<W>, 'workflowId' | 'args' | 'typedSearchAttributes'> {
  return { workflowId: request.workflowId, args: request.args, typedSearchAttributes: request.typedSearchAttributes };
}

/** The kinds of run a person or a schedule starts with a fresh id. */
export type RunKind = 'train' | 'batch' | 'monitor' | 'materialize';

/**
 * A fresh id for a run started on request: `<kind>-<model>-<time>-<suffix>`. `at` and `suffix`
 * come from the caller (a process's clock and randomness; a workflow has its own).
 */
export function runWorkflowId(kind: RunKind, model: string, at: Date, suffix: string): string {
  return `${kind}-${model}-${at.toISOString().replace(/[:.]/g, '-')}-${suffix}`;
}

/** The id scheduled runs take (the server appends the scheduled time to it, one run per firing). */
export function scheduledWorkflowId(kind: RunKind, model: string): string {
  return `${kind}-scheduled-${model}`;
}

/** The id npm start trains a model under when it has no champion: one per model, so an interrupted start is followed, not repeated. */
export function firstTrainingWorkflowId(model: string): string {
  return `train-${model}-first`;
}

/** The id drift-started trainings run under: one at a time per model, whoever else trains. */
export function retrainWorkflowId(model: string): string {
  return `train-${model}-on-drift`;
}

/** The batch run a monitoring run starts for what the champion has not scored yet. */
export function monitorBatchWorkflowId(monitorWorkflowId: string): string {
  return `${monitorWorkflowId}-batch`;
}

const modelAttribute = (model: string): SearchAttributePair => ({ key: MODEL_NAME, value: model });

export function trainRun(input: TrainModelInput, workflowId: string): StartRequest<typeof TrainModelWorkflow> {
  return {
    workflow: TrainModelWorkflow,
    workflowId,
    args: [input],
    typedSearchAttributes: [modelAttribute(input.model), { key: TRAIN_REASON, value: input.reason ?? 'manual' }],
  };
}

export function batchRun(input: BatchInferenceInput, workflowId: string): StartRequest<typeof BatchInferenceWorkflow> {
  return {
    workflow: BatchInferenceWorkflow,
    workflowId,
    args: [input],
    typedSearchAttributes: [modelAttribute(input.model), ...(input.version ? [{ key: MODEL_VERSION, value: input.version }] : [])],
  };
}

export function monitorRun(input: MonitorModelInput, workflowId: string): StartRequest<typeof MonitorModelWorkflow> {
  return { workflow: MonitorModelWorkflow, workflowId, args: [input], typedSearchAttributes: [modelAttribute(input.model)] };
}

export function materializeRun(input: MaterializeInput, workflowId: string): StartRequest<typeof MaterializeFeaturesWorkflow> {
  return { workflow: MaterializeFeaturesWorkflow, workflowId, args: [input], typedSearchAttributes: [modelAttribute(input.model)] };
}

/** The materialization an ingest starts for a model over the dataset it added partitions to. */
export function ingestMaterializeWorkflowId(ingestWorkflowId: string, model: string): string {
  return `${ingestWorkflowId}-materialize-${model}`;
}

/** Promotions and rollbacks of a model share its promotion id, so moves of one model never overlap. */
export function evaluateRun(input: EvaluateAndPromoteInput): StartRequest<typeof EvaluateAndPromoteWorkflow> {
  return {
    workflow: EvaluateAndPromoteWorkflow,
    workflowId: promotionWorkflowId(input.model),
    args: [input],
    typedSearchAttributes: [modelAttribute(input.model), { key: MODEL_VERSION, value: input.version }],
  };
}

export function rollbackRun(input: RollbackInput): StartRequest<typeof RollbackChampionWorkflow> {
  return { workflow: RollbackChampionWorkflow, workflowId: promotionWorkflowId(input.model), args: [input], typedSearchAttributes: [modelAttribute(input.model)] };
}

/** An ingest of raw files into a dataset: `ingest-<dataset>-<time>-<suffix>`. */
export function ingestRun(input: IngestInput, at: Date, suffix: string): StartRequest<typeof IngestDatasetWorkflow> {
  return { workflow: IngestDatasetWorkflow, workflowId: `ingest-${input.dataset}-${at.toISOString().replace(/[:.]/g, '-')}-${suffix}`, args: [input], typedSearchAttributes: [] };
}
