// Starting workflows from a process (the API, npm start, the worker's schedules): every start
// goes through here with a request from workflows/starts.ts, which owns the ids, search
// attributes and typed arguments. Workflow code never imports this module (it uses the client).
import { WorkflowIdConflictPolicy, type Workflow } from '@temporalio/common';
import type { Client, WorkflowHandleWithFirstExecutionRunId, WorkflowStartOptions } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import type { MonitorModelInput } from '../core/monitoring.js';
import type { EvaluateAndPromoteInput, RollbackInput } from '../core/promotion.js';
import type { BatchInferenceInput, IngestInput, MaterializeInput, TrainModelInput } from '../core/types.js';
import {
  batchRun,
  evaluateRun,
  ingestRun,
  materializeRun,
  monitorRun,
  rollbackRun,
  runWorkflowId,
  startOptions,
  trainRun,
  type RunKind,
  type StartRequest,
} from '../workflows/starts.js';

export interface StartOptions {
  /** A run already going under the same id: follow it instead of failing (e.g. npm start after an interruption). */
  readonly useExisting?: boolean;
}

export class WorkflowStarter {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  /** Start `request` on the main task queue. */
  start<W extends Workflow>(request: StartRequest<W>, options: StartOptions = {}): Promise<WorkflowHandleWithFirstExecutionRunId<W>> {
    // StartRequest<W> ties args to W; the SDK's conditional options type cannot see that for a generic W.
    const withQueue = {
      ...startOptions(request),
      taskQueue: this.taskQueue,
      ...(options.useExisting ? { workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING } : {}),
    } as unknown as WorkflowStartOptions<W>;
    return this.client.workflow.start(request.workflow, withQueue);
  }

  /** TrainModelWorkflow, under `workflowId` or a fresh id. */
  train(input: TrainModelInput, workflowId = freshId('train', input.model), options: StartOptions = {}) {
    return this.start(trainRun(input, workflowId), options);
  }

  batch(input: BatchInferenceInput, workflowId = freshId('batch', input.model)) {
    return this.start(batchRun(input, workflowId));
  }

  monitor(input: MonitorModelInput, workflowId = freshId('monitor', input.model)) {
    return this.start(monitorRun(input, workflowId));
  }

  /** MaterializeFeaturesWorkflow under a fresh id. */
  materialize(input: MaterializeInput, workflowId = freshId('materialize', input.model)) {
    return this.start(materializeRun(input, workflowId));
  }

  /** IngestDatasetWorkflow under a fresh id. */
  ingest(input: IngestInput) {
    return this.start(ingestRun(input, new Date(), randomUUID().slice(0, 8)));
  }

  /** EvaluateAndPromoteWorkflow under the model's promotion id (fails while another move of the model runs). */
  evaluate(input: EvaluateAndPromoteInput) {
    return this.start(evaluateRun(input));
  }

  /** RollbackChampionWorkflow under the model's promotion id. */
  rollback(input: RollbackInput) {
    return this.start(rollbackRun(input));
  }
}

function freshId(kind: RunKind, model: string): string {
  return runWorkflowId(kind, model, new Date(), randomUUID().slice(0, 6));
}
