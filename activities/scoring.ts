// Batch scoring activities: plan which lake partitions a version scores, score one partition
// in a worker thread (heartbeating rows done), and record what a run did in its manifest.
// Scoring is idempotent per (version, partition): the output has one fixed key, is stored whole
// and then marked scored, and a partition marked scored is never scored again.
import { Context } from '@temporalio/activity';
import path from 'node:path';
import type { Paths } from '../core/config.js';
import { parquetSource, quoteIdent } from '../core/duckdb.js';
import { FeatureRowCountError, InvalidSpecError, namingSqlFile, NoChampionError, UnknownPartitionError } from '../core/errors.js';
import { featureColumns, featureQuery, keyedFeatures } from '../core/features.js';
import { ROWS_PER_RUN } from '../core/inference.js';
import { historySource, nameInDataset, openLake } from '../storage/lake.js';
import { FEATURES_COLUMN, MODEL_VERSION_COLUMN, openPredictions, SOURCE_FILE, SOURCE_ROW } from '../storage/predictions.js';
import { withScratch } from '../storage/work.js';
import { CHAMPION, openRegistry } from '../storage/registry.js';
import { loadSpec, requestColumns } from '../core/spec.js';
import type { BatchInferenceInput, BatchPlan, PartitionToScore, ScoredPartition } from '../core/types.js';
import { modelTask } from '../tasks/index.js';
import { siblingModule } from '../ml/threads.js';
import type { ScoringJob, ScoringMessage } from './scoring-thread.js';
import { ThreadPool } from './thread-activity.js';

export interface ScoringDeps {
  readonly paths: Paths;
}

const threadFile = siblingModule(import.meta.url, 'scoring-thread');

export function createScoringActivities({ paths }: ScoringDeps) {
  const registry = openRegistry(paths);
  const lakeStore = openLake(paths);
  const predictions = openPredictions(paths);
  /** Partitions of a batch run, one after another on the same few threads (about 0.5 s saved each). */
  const scoringThreads = new ThreadPool(threadFile);

  /** The version to use (the champion unless named) and the partitions it will score, with their files and rows. */
  async function planBatch(input: BatchInferenceInput): Promise<BatchPlan> {
    const { spec } = await loadSpec(paths, input.model);
    const version = input.version ?? (await registry.getAlias(input.model, CHAMPION))?.version;
    if (version === undefined) throw new NoChampionError(input.model);
    const card = await registry.readCard(input.model, version); // UnknownVersionError when it is not registered
    const reserved = new Set([SOURCE_FILE, SOURCE_ROW, FEATURES_COLUMN, MODEL_VERSION_COLUMN, ...modelTask(card).predictionColumns]);
    const clash = requestColumns(spec).find((c) => reserved.has(c.name));
    if (clash) {
      const at = spec.dataset.columns.indexOf(clash);
      throw new InvalidSpecError(`datasets/${spec.dataset.name}.json`, `columns[${at}].name`, `'${clash.name}' is the name of a prediction output column of model '${spec.name}': rename it`);
    }

    const { name: dataset, partitionKey } = spec.dataset;
    const lake = await lakeStore.partitions(dataset, partitionKey);
    let chosen = lake;
    if (input.partitions === 'new') {
      const scored = await predictions.scoredPartitions(input.model, partitionKey, version);
      chosen = lake.filter((p) => !scored.has(p.value));
    } else {
      chosen = [...new Set(input.partitions)].map((value) => {
        const found = lake.find((p) => p.value === value);
        if (!found) throw new UnknownPartitionError(dataset, `${partitionKey}=${value}`, lake.map((p) => p.value));
        return found;
      });
    }
    const rows = await lakeStore.rowCounts(chosen.flatMap((p) => p.files));
    return {
      model: input.model,
      version,
      partitionKey,
      partitions: chosen.map((p) => ({ value: p.value, files: p.files, rows: p.files.reduce((s, f) => s + (rows.get(f.key) ?? 0), 0) })),
      concurrency: input.concurrency ?? spec.batch.concurrency,
      threads: input.threads ?? spec.batch.threads,
    };
  }

  /** Score one partition with one version into its predictions file; a complete file is left as it is. */
  async function scorePartition(input: {
    model: string;
    version: number;
    partitionKey: string;
    partition: PartitionToScore;
    threads: number;
  }): Promise<ScoredPartition> {
    const ctx = Context.current();
    const started = Date.now();
    const { model, version, partitionKey, partition } = input;
    const loaded = await loadSpec(paths, model);
    const { spec } = loaded;
    const card = await registry.readCard(model, version);
    const target = predictions.fileKey(model, partitionKey, partition.value, version);

    // Same version, same partition, same object: an earlier run or attempt already stored it whole.
    const scoredRows = await predictions.scoredRows(model, partitionKey, partition.value, version);
    if (scoredRows === partition.rows) {
      return { partition: partition.value, rowsIn: partition.rows, rowsOut: scoredRows, file: target, skipped: true, seconds: (Date.now() - started) / 1000 };
    }
    return withScratch('score', async (scratch) => {
      const task = modelTask(card);
      const raw = requestColumns(spec).map((c) => `k.${quoteIdent(c.name)}`);
      const locals = await lakeStore.localFiles(partition.files);
      // Each row's views as of its own time, from the lake's history up to this partition.
      const history = await historySource(lakeStore, loaded, [partition.value]);
      const keyed = keyedFeatures(loaded, partition.files.map((f, i) => ({ local: locals[i]!, name: nameInDataset(f) })), false, history);
      // The model's inputs are stored with each prediction (as a struct), so monitoring reads the
      // exact features the model saw instead of computing them again.
      const featureStruct = `struct_pack(${spec.features.columns.map((f) => `${quoteIdent(f.name)} := f.${quoteIdent(f.name)}`).join(', ')})`;
      const job: ScoringJob = {
        modelBytes: await registry.readVerifiedModel(card),
        modelKey: `${card.model} v${card.version} ${card.onnx.sha256}`,
        output: card.output,
        width: task.width,
        threads: input.threads,
        featuresSql: featureQuery(loaded, parquetSource(locals), false, history),
        features: featureColumns(spec),
        outputSql:
          `SELECT ${keyed.sourceFile} AS ${SOURCE_FILE}, ${keyed.sourceRow} AS ${SOURCE_ROW}, ${raw.join(', ')}, ${featureStruct} AS ${FEATURES_COLUMN}, ` +
          `CAST(${version} AS INTEGER) AS ${MODEL_VERSION_COLUMN}, ${task.predictionExpressions().join(', ')}\n` +
          `FROM ${keyed.from} POSITIONAL JOIN scores`,
        expectedRows: partition.rows,
        outputFile: path.join(scratch, `v${version}.parquet`),
        batchRows: ROWS_PER_RUN,
      };
      let details: Record<string, unknown> = { stage: 'starting', partition: partition.value, rows: 0, of: partition.rows, attempt: ctx.info.attempt };
      const done = await namingSqlFile(spec.features.sql, () => scoringThreads.run<ScoringMessage>(job, {
        details: () => details,
        onMessage(m) {
          details = { ...details, stage: m.stage, rows: m.rows };
        },
      }));
      if (done.rowsOut === null) throw new FeatureRowCountError(spec.features.sql, partition.value, partition.rows, done.featureRows);
      const stored = Date.now();
      await predictions.publish(model, partitionKey, partition.value, version, job.outputFile, done.rowsOut);
      return {
        partition: partition.value,
        rowsIn: partition.rows,
        rowsOut: done.rowsOut,
        file: target,
        skipped: false,
        seconds: (Date.now() - started) / 1000,
        stages: { ...done.stages, storing: (Date.now() - stored) / 1000 },
      };
    });
  }

  /** What a batch run did, in one JSON file per run beside the predictions. */
  async function writeBatchManifest(input: {
    plan: BatchPlan;
    requested: BatchInferenceInput['partitions'];
    reason?: string;
    results: readonly ScoredPartition[];
    workflowId: string;
    runId: string;
    startedAt: string;
  }): Promise<string> {
    const manifest = {
      model: input.plan.model,
      version: input.plan.version,
      workflowId: input.workflowId,
      runId: input.runId,
      requested: input.requested,
      reason: input.reason ?? null,
      startedAt: input.startedAt,
      finishedAt: new Date().toISOString(),
      rowsIn: input.results.reduce((s, r) => s + r.rowsIn, 0),
      rowsOut: input.results.reduce((s, r) => s + r.rowsOut, 0),
      partitions: input.results,
    };
    return predictions.writeRunManifest(input.plan.model, input.workflowId, manifest);
  }

  return { planBatch, scorePartition, writeBatchManifest };
}
