// Registry activities: register an immutable version with its lineage, move aliases with an
// audit trail, roll champion back, and record evaluations on cards. Every one is idempotent
// per workflow run, so a retry never logs a move twice.
import { Context } from '@temporalio/activity';
import type { Paths } from '../core/config.js';
import { NoPreviousChampionError } from '../core/errors.js';
import type { EvaluationRecord } from '../core/promotion.js';
import { CHAMPION, rollbackTarget, type AliasAction, type AliasLogEntry, openRegistry } from '../storage/registry.js';
import { gbdtParams } from '../core/spec.js';
import { runSpec } from '../storage/spec-pins.js';
import { runFilesAt } from '../storage/work.js';
import type { CrossValidation, DatasetSnapshot, ParityReport, RegisteredVersion, TrainedModel, TrainingSet, TuningTrial } from '../core/types.js';
import { outputName } from '../ml/onnx/tree-ensemble.js';

export interface RegistryDeps {
  readonly paths: Paths;
  readonly codeVersion: string;
}

export function createRegistryActivities({ paths, codeVersion }: RegistryDeps) {
  const registry = openRegistry(paths);

  async function registerVersion(input: {
    model: string;
    snapshot: DatasetSnapshot;
    trainingSet: TrainingSet;
    trained: TrainedModel;
    parity: ParityReport;
    /** Tuning: every trial and its validation metric, recorded on the card. */
    trials?: readonly { trial: TuningTrial; validation: TrainedModel['validation'] }[];
    crossValidation?: CrossValidation;
    workflowId: string;
    runId: string;
  }): Promise<RegisteredVersion> {
    const loaded = await runSpec(paths, input.model, input.snapshot.specHash);
    const { spec } = loaded;
    const params = gbdtParams(spec, input.trained.trial?.params);
    const work = runFilesAt(paths, input.trainingSet.workPrefix);
    const onnx = await work.bytes(input.trained.onnxKey);
    const trees = await work.bytes(input.trained.modelKey);
    const card = await registry.register(input.model, onnx, {
      model: spec.name,
      task: spec.task,
      description: spec.description,
      inputs: spec.features.columns,
      output: outputName(params.objective),
      ...(spec.label.classes ? { classes: spec.label.classes } : {}),
      labelColumn: spec.label.column,
      decisionThreshold: spec.decisionThreshold,
      trainer: {
        type: spec.trainer.type,
        params: { ...params },
        iterations: input.trained.iterations,
        bestIteration: input.trained.bestIteration,
        featureImportance: input.trained.importance.feature.map((feature, i) => ({
          feature,
          gain: input.trained.importance.gain[i]!,
          splits: input.trained.importance.split[i]!,
          ...(input.trained.importance.meanAbsContribution ? { meanAbsContribution: input.trained.importance.meanAbsContribution[i]! } : {}),
        })),
        ...(input.trained.importance.contributionRows ? { contributionRows: input.trained.importance.contributionRows } : {}),
        ...(input.trained.curve ? { curve: input.trained.curve } : {}),
        ...(input.trials ? { tuning: { chosen: input.trained.trial, trials: input.trials } } : {}),
      },
      metrics: {
        holdout: input.trained.holdout,
        validation: input.trained.validation,
        trainRows: input.trainingSet.trainRows,
        baseline: input.trained.baseline,
        ...(input.crossValidation ? { crossValidation: input.crossValidation } : {}),
      },
      onnx: { parity: input.parity },
      lineage: {
        dataset: {
          name: spec.dataset.name,
          snapshotHash: input.snapshot.contentHash,
          trainPartitions: input.trainingSet.trainPartitions,
          validationPartitions: input.trainingSet.validationPartitions,
          holdoutPartitions: input.trainingSet.holdoutPartitions,
          ...(input.snapshot.unusedPartitions?.length ? { unusedPartitions: input.snapshot.unusedPartitions } : {}),
          ...(input.trainingSet.split ? { split: input.trainingSet.split } : {}),
          rows: input.snapshot.rows,
        },
        featureSql: { file: spec.features.sql, sha256: loaded.featureSqlHash },
        specSha256: loaded.specHash,
        codeVersion,
        workflowId: input.workflowId,
        runId: input.runId,
      },
    }, trees);
    return { model: card.model, version: card.version };
  }

  /** Point an alias at a version (null removes it); a retry of the same run's move changes nothing. */
  async function moveAlias(input: {
    model: string;
    alias: string;
    version: number | null;
    action: AliasAction;
    actor: string;
    reason: string;
    workflowId: string;
    runId: string;
  }): Promise<AliasLogEntry> {
    const { model, alias, version, ...move } = input;
    return registry.moveAlias(model, alias, version, move);
  }

  /** Move champion back to the one before it (see rollbackTarget), through the same logged path. */
  async function rollbackChampion(input: { model: string; actor: string; reason: string; workflowId: string; runId: string }): Promise<AliasLogEntry> {
    const history = await registry.aliasHistory(input.model);
    const mine = history.findLast((e) => e.alias === CHAMPION && e.runId === input.runId && e.workflowId === input.workflowId);
    if (mine) return registry.moveAlias(input.model, CHAMPION, mine.version, { ...input, action: 'rollback' }); // a retry
    const target = rollbackTarget(history);
    if (target === null) throw new NoPreviousChampionError(input.model);
    return registry.moveAlias(input.model, CHAMPION, target, { ...input, action: 'rollback' });
  }

  async function recordEvaluation(input: { model: string; version: number; record: EvaluationRecord }): Promise<void> {
    await registry.recordEvaluation(input.model, input.version, input.record);
  }

  // ---- for TrainModelWorkflow runs that started before EvaluateAndPromoteWorkflow existed ----

  async function currentChampion(input: { model: string }): Promise<number | null> {
    return (await registry.getAlias(input.model, CHAMPION))?.version ?? null;
  }

  async function promoteVersion(input: { model: string; version: number; actor: string; reason: string; workflowId: string }): Promise<void> {
    const runId = Context.current().info.workflowExecution?.runId ?? null;
    await registry.moveAlias(input.model, CHAMPION, input.version, { ...input, action: 'promote', runId });
  }

  return { registerVersion, moveAlias, rollbackChampion, recordEvaluation, currentChampion, promoteVersion };
}
