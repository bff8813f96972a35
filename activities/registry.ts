// Registry activities: register an immutable version with its lineage and gate result, and
// move the champion alias to it.
import { readFile } from 'node:fs/promises';
import type { Paths } from '../core/config.js';
import { evaluateGate } from '../core/gate.js';
import { CHAMPION, Registry } from '../core/registry.js';
import { gbdtParams, loadSpec } from '../core/spec.js';
import type { DatasetSnapshot, ParityReport, PromotionResult, RegisteredVersion, TrainedModel, TrainingSet, TuningTrial } from '../core/types.js';
import { outputName } from '../ml/onnx/tree-ensemble.js';

export interface RegistryDeps {
  readonly paths: Paths;
  readonly codeVersion: string;
}

export function createRegistryActivities({ paths, codeVersion }: RegistryDeps) {
  const registry = new Registry(paths.registryDir);

  async function registerVersion(input: {
    model: string;
    snapshot: DatasetSnapshot;
    trainingSet: TrainingSet;
    trained: TrainedModel;
    parity: ParityReport;
    /** Tuning: every trial and its validation metric, recorded on the card. */
    trials?: readonly { trial: TuningTrial; validation: TrainedModel['validation'] }[];
    workflowId: string;
    runId: string;
  }): Promise<RegisteredVersion> {
    const loaded = await loadSpec(paths.modelsDir, paths.sqlDir, input.model);
    const { spec } = loaded;
    const gate = evaluateGate(spec.gate, input.trained.holdout);
    const params = gbdtParams(spec, input.trained.trial?.params);
    const onnx = await readFile(input.trained.onnxFile);
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
        })),
        ...(input.trials ? { tuning: { chosen: input.trained.trial, trials: input.trials } } : {}),
      },
      metrics: { holdout: input.trained.holdout, validation: input.trained.validation, trainRows: input.trainingSet.trainRows },
      onnx: { parity: input.parity },
      gate,
      lineage: {
        dataset: {
          name: spec.dataset.name,
          snapshotHash: input.snapshot.contentHash,
          trainPartitions: input.trainingSet.trainPartitions,
          validationPartitions: input.trainingSet.validationPartitions,
          holdoutPartitions: input.trainingSet.holdoutPartitions,
          rows: input.snapshot.rows,
        },
        featureSql: { file: spec.features.sql, sha256: loaded.featureSqlHash },
        specSha256: loaded.specHash,
        codeVersion,
        workflowId: input.workflowId,
        runId: input.runId,
      },
    });
    return { model: card.model, version: card.version, gate: card.gate };
  }

  /** Move champion to `version`; a retry of the same run finds the move done and changes nothing. */
  async function promoteVersion(input: {
    model: string;
    version: number;
    actor: string;
    reason: string;
    workflowId: string;
  }): Promise<PromotionResult> {
    const record = await registry.setAlias(input.model, CHAMPION, input.version, {
      actor: input.actor,
      reason: input.reason,
      workflowId: input.workflowId,
    });
    return { promoted: true, previousVersion: record.previousVersion, reason: input.reason };
  }

  async function currentChampion(input: { model: string }): Promise<number | null> {
    return (await registry.getAlias(input.model, CHAMPION))?.version ?? null;
  }

  return { registerVersion, promoteVersion, currentChampion };
}
