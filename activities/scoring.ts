// Batch scoring activities: plan which lake partitions a version scores, score one partition
// in a worker thread (heartbeating rows done), and record what a run did in its manifest.
// Scoring is idempotent per (version, partition): the output has one fixed name, is written
// whole under a temporary name and renamed, and a complete output is never rewritten.
import { Context } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Paths } from '../core/config.js';
import { replaceDurably } from '../storage/durable.js';
import { openDuckDB, parquetRowCounts, parquetSource, quoteIdent } from '../core/duckdb.js';
import { FeatureRowCountError, InvalidSpecError, namingSqlFile, NoChampionError, UnknownPartitionError } from '../core/errors.js';
import { featureColumns, featureQuery, keyedFeatures } from '../core/features.js';
import { ROWS_PER_RUN } from '../core/inference.js';
import { exists } from '../core/local-files.js';
import { nameInDataset, openLake } from '../storage/lake.js';
import {
  FEATURES_COLUMN,
  manifestDir,
  MODEL_VERSION_COLUMN,
  predictionFile,
  scoredPartitions,
  SOURCE_FILE,
  SOURCE_ROW,
} from '../core/predictions.js';
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
      const scored = await scoredPartitions(paths, input.model, partitionKey, version);
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
    const target = predictionFile(paths, model, partitionKey, partition.value, version);
    const dir = path.dirname(target);
    await mkdir(dir, { recursive: true });

    // Same version, same partition, same file: an earlier run or attempt already wrote it whole.
    if (await exists(target)) {
      const rowsOut = (await rowCounts([target])).get(target) ?? 0;
      if (rowsOut === partition.rows) {
        return { partition: partition.value, rowsIn: partition.rows, rowsOut, file: target, skipped: true, seconds: (Date.now() - started) / 1000 };
      }
    }
    await removeAbandonedTemps(dir, version);

    const task = modelTask(card);
    const raw = requestColumns(spec).map((c) => `k.${quoteIdent(c.name)}`);
    const locals = await lakeStore.localFiles(partition.files);
    const keyed = keyedFeatures(loaded, partition.files.map((f, i) => ({ local: locals[i]!, name: nameInDataset(f) })), false);
    // The model's inputs are stored with each prediction (as a struct), so monitoring reads the
    // exact features the model saw instead of computing them again.
    const featureStruct = `struct_pack(${spec.features.columns.map((f) => `${quoteIdent(f.name)} := f.${quoteIdent(f.name)}`).join(', ')})`;
    const job: ScoringJob = {
      modelBytes: await registry.readVerifiedModel(card),
      modelKey: `${card.model} v${card.version} ${card.onnx.sha256}`,
      output: card.output,
      width: task.width,
      threads: input.threads,
      featuresSql: featureQuery(loaded, parquetSource(locals), false),
      features: featureColumns(spec),
      outputSql:
        `SELECT ${keyed.sourceFile} AS ${SOURCE_FILE}, ${keyed.sourceRow} AS ${SOURCE_ROW}, ${raw.join(', ')}, ${featureStruct} AS ${FEATURES_COLUMN}, ` +
        `CAST(${version} AS INTEGER) AS ${MODEL_VERSION_COLUMN}, ${task.predictionExpressions().join(', ')}\n` +
        `FROM ${keyed.from} POSITIONAL JOIN scores`,
      expectedRows: partition.rows,
      tempFile: path.join(dir, `.v${version}.${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}.tmp`),
      targetFile: target,
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
    return {
      partition: partition.value,
      rowsIn: partition.rows,
      rowsOut: done.rowsOut,
      file: target,
      skipped: false,
      seconds: (Date.now() - started) / 1000,
      stages: done.stages,
    };
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
    const dir = manifestDir(paths, input.plan.model);
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${input.workflowId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
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
      partitions: input.results.map((r) => ({ ...r, file: path.relative(paths.predictionsDir, r.file) })),
    };
    await replaceDurably(file, JSON.stringify(manifest, null, 2));
    return file;
  }

  return { planBatch, scorePartition, writeBatchManifest };
}

/** Rows per Parquet file, read from the files' metadata. */
async function rowCounts(files: readonly string[]): Promise<Map<string, number>> {
  const db = await openDuckDB({ threads: 1 });
  try {
    return await parquetRowCounts(db.connection, files);
  } finally {
    db.close();
  }
}

/**
 * Temporary files of writers on this host that are gone (a killed worker): never read (they
 * are dot-named), removed so they do not pile up. A live writer's file is left alone.
 */
async function removeAbandonedTemps(dir: string, version: number): Promise<void> {
  const prefix = `.v${version}.${hostname()}-`;
  for (const name of await readdir(dir)) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && !isAlive(pid)) await rm(path.join(dir, name), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
