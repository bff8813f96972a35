// Data activities: pin a snapshot of the lake, check it against the model's contract, and
// build the training set with DuckDB. Each is idempotent: a retry redoes the same work on
// the same pinned files and overwrites its own outputs atomically.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Paths } from '../core/config.js';
import { openDuckDB, parquetRowCounts, parquetSource, quoteIdent, quoteLiteral, queryRows } from '../core/duckdb.js';
import { DataContractViolation, namingSqlFile } from '../core/errors.js';
import { checkViews, featureQuery, LABEL_COLUMN, labelQuery, rawFeatureQuery } from '../core/features.js';
import { sha256, type DatasetColumn, type SplitSpec } from '../core/spec.js';
import { historySource, openLake } from '../storage/lake.js';
import { runFiles } from '../storage/work.js';
import { pinSpec, runSpec } from '../storage/spec-pins.js';
import { sideRows, splitQuery } from '../core/split.js';
import type { DatasetSnapshot, PartitionSnapshot, TrainingSet, ValidationReport } from '../core/types.js';

export interface DataDeps {
  readonly paths: Paths;
}

/** Integer and floating types are accepted for each other's family; others must match exactly. */
const TYPE_FAMILIES: Record<string, string> = {
  TINYINT: 'integer', SMALLINT: 'integer', INTEGER: 'integer', BIGINT: 'integer', HUGEINT: 'integer',
  UTINYINT: 'integer', USMALLINT: 'integer', UINTEGER: 'integer', UBIGINT: 'integer',
  FLOAT: 'float', DOUBLE: 'float', 'TIMESTAMP_NS': 'timestamp', 'TIMESTAMP_MS': 'timestamp', TIMESTAMP: 'timestamp',
  'TIMESTAMP WITH TIME ZONE': 'timestamp', DATE: 'date', VARCHAR: 'string', BOOLEAN: 'boolean',
};

function compatible(declared: string, actual: string): boolean {
  return declared === actual || (TYPE_FAMILIES[declared] ?? declared) === (TYPE_FAMILIES[actual] ?? actual);
}

export function createDataActivities({ paths }: DataDeps) {
  const lake = openLake(paths);

  /** Local copies of a snapshot's files (DuckDB reads paths), and the name of each for messages. */
  async function localFiles(partitions: readonly PartitionSnapshot[]): Promise<{ files: string[]; names: Map<string, string> }> {
    const keys = partitions.flatMap((p) => p.files);
    const files = await lake.localFiles(keys);
    return { files, names: new Map(files.map((f, i) => [f, `${lake.store.location}/${keys[i]!.key}`])) };
  }

  /** The files the run will use: the newest train + validation + holdout partitions, with row counts and hashes. */
  async function snapshotDataset(input: { model: string }): Promise<DatasetSnapshot> {
    const loaded = await pinSpec(paths, input.model);
    const { spec, specHash } = loaded;
    await namingSqlFile(spec.features.sql, () => checkViews(loaded));
    const all = await lake.partitions(spec.dataset.name, spec.dataset.partitionKey);
    const datasetDir = lake.location(spec.dataset.name);
    const { least, need, why } = partitionsNeeded(spec.split, all.length);
    if (all.length < least) {
      throw new DataContractViolation('empty', `need at least ${least} partition${least === 1 ? '' : 's'} (${why}), found ${all.length}`, datasetDir);
    }
    const window = all.slice(all.length - need);
    const files = await lake.localFiles(window.flatMap((p) => p.files));
    const db = await openDuckDB();
    let rowsByFile: Map<string, number>;
    try {
      rowsByFile = await parquetRowCounts(db.connection, files);
    } finally {
      db.close();
    }
    const partitions: PartitionSnapshot[] = [];
    let i = 0;
    for (const p of window) {
      const snapFiles = [];
      for (const file of p.files) {
        snapFiles.push({ key: file.key, rows: rowsByFile.get(files[i++]!) ?? 0, bytes: file.bytes, sha256: await lake.sha256(file) });
      }
      partitions.push({ value: p.value, files: snapFiles, rows: snapFiles.reduce((s, f) => s + f.rows, 0) });
    }
    const contentHash = sha256(partitions.flatMap((p) => p.files.map((f) => `${f.key}:${f.sha256}`)).join('\n'));
    return {
      model: input.model,
      dataset: spec.dataset.name,
      partitions,
      unusedPartitions: all.slice(0, all.length - need).map((p) => p.value),
      rows: partitions.reduce((s, p) => s + p.rows, 0),
      contentHash,
      specHash,
      takenAt: new Date().toISOString(),
    };
  }

  /** Check schema, null rates, volume and label balance; a violation names the file and column. */
  async function validateDataset(input: { model: string; snapshot: DatasetSnapshot }): Promise<ValidationReport> {
    const loaded = await runSpec(paths, input.model, input.snapshot.specHash);
    return namingSqlFile(loaded.spec.features.sql, async () => {
      const { spec } = loaded;
      const contract = spec.dataset.contract;
      const { files, names } = await localFiles(input.snapshot.partitions);
      const nameOf = (file: string) => names.get(file) ?? file;
      const checks: string[] = [];
      const db = await openDuckDB();
      try {
        // 1. Schema, file by file, before anything reads them together.
        for (const file of files) {
          const described = await queryRows(
            db.connection,
            `DESCRIBE SELECT * FROM read_parquet(${quoteLiteral(file)}, hive_partitioning = false)`,
          );
          const types = new Map(described.map((r) => [String(r.column_name), String(r.column_type)]));
          for (const col of spec.dataset.columns) checkColumn(nameOf(file), col, types);
        }
        checks.push(`schema: ${spec.dataset.columns.length} columns present with compatible types in ${files.length} files`);

        // 2. Rows and null rates per file.
        const counts = spec.dataset.columns.map((c) => `count(${quoteIdent(c.name)})::BIGINT AS ${quoteIdent(c.name)}`).join(', ');
        const perFile = await queryRows(
          db.connection,
          `SELECT filename, count(*)::BIGINT AS __rows, ${counts}
           FROM read_parquet([${files.map(quoteLiteral).join(', ')}], filename = true, hive_partitioning = false)
           GROUP BY filename`,
        );
        const nullRates: Record<string, number> = {};
        for (const row of perFile) {
          const n = Number(row.__rows);
          for (const col of spec.dataset.columns) {
            const rate = n === 0 ? 0 : 1 - Number(row[col.name]) / n;
            nullRates[col.name] = Math.max(nullRates[col.name] ?? 0, rate);
            if (!col.nullable && rate > contract.maxNullRate) {
              throw new DataContractViolation(
                'nulls',
                `${(rate * 100).toFixed(2)}% NULL, more than the ${(contract.maxNullRate * 100).toFixed(2)}% allowed`,
                nameOf(String(row.filename)),
                col.name,
              );
            }
          }
        }
        checks.push(`nulls: every column not declared nullable at most ${(contract.maxNullRate * 100).toFixed(2)}% NULL in every file`);

        // 3. Volume: no partition too small, none far below the window's median.
        const sizes = input.snapshot.partitions.map((p) => p.rows).sort((a, b) => a - b);
        const median = sizes[Math.floor(sizes.length / 2)] ?? 0;
        for (const p of input.snapshot.partitions) {
          const where = p.files[0] ? `${lake.store.location}/${p.files[0].key}` : undefined;
          if (p.rows < contract.minRowsPerPartition) {
            throw new DataContractViolation('volume', `partition ${p.value} has ${p.rows} rows, fewer than ${contract.minRowsPerPartition}`, where);
          }
          if (p.rows < (1 - contract.maxVolumeDrop) * median) {
            throw new DataContractViolation(
              'volume',
              `partition ${p.value} has ${p.rows} rows, more than ${(contract.maxVolumeDrop * 100).toFixed(0)}% below the median partition (${median})`,
              where,
            );
          }
        }
        checks.push(`volume: ${input.snapshot.partitions.length} partitions of ${sizes[0]}..${sizes.at(-1)} rows`);

        // 4. Label balance, computed by the model's own feature SQL.
        let labelRate: number | null = null;
        const expectedRate = spec.label.rate;
        if (expectedRate) {
          const [row] = await queryRows(
            db.connection,
            `SELECT avg(${LABEL_COLUMN}) AS rate, count(${LABEL_COLUMN})::BIGINT AS labelled FROM (${labelQuery(loaded, parquetSource(files))})`,
          );
          labelRate = Number(row?.rate);
          if (!(labelRate >= expectedRate.min && labelRate <= expectedRate.max)) {
            throw new DataContractViolation(
              'label',
              `positive rate ${labelRate.toFixed(4)} outside [${expectedRate.min}, ${expectedRate.max}]`,
              lake.location(spec.dataset.name),
              spec.label.column,
            );
          }
          checks.push(`label: positive rate ${labelRate.toFixed(4)} within [${expectedRate.min}, ${expectedRate.max}]`);
        }
        if (spec.label.classes) {
          const classes = spec.label.classes;
          const unknown = await queryRows(
            db.connection,
            `SELECT DISTINCT CAST(${quoteIdent(spec.label.column)} AS VARCHAR) AS value FROM (${rawFeatureQuery(loaded, parquetSource(files))})
             WHERE ${quoteIdent(spec.label.column)} IS NOT NULL AND NOT list_contains([${classes.map(quoteLiteral).join(', ')}], CAST(${quoteIdent(spec.label.column)} AS VARCHAR))
             ORDER BY value LIMIT 5`,
          );
          if (unknown.length > 0) {
            throw new DataContractViolation(
              'label',
              `values that are not declared classes: ${unknown.map((u) => `'${String(u.value)}'`).join(', ')} (classes: ${classes.join(', ')})`,
              lake.location(spec.dataset.name),
              spec.label.column,
            );
          }
          checks.push(`label: every value is one of ${classes.length} declared classes`);
        }
        return { files: files.length, rows: input.snapshot.rows, labelRate, nullRates, checks };
      } finally {
        db.close();
      }
    });
  }

  /**
   * Run the feature SQL over the pinned files and write the training, validation (early
   * stopping) and holdout (judging) sets as Parquet. Rows without a label cannot teach or
   * judge anything and are left out.
   */
  async function buildTrainingSet(input: { model: string; snapshot: DatasetSnapshot; workflowId: string; runId: string }): Promise<TrainingSet> {
    const loaded = await runSpec(paths, input.model, input.snapshot.specHash);
    return namingSqlFile(loaded.spec.features.sql, async () => {
      const parts = input.snapshot.partitions;
      const split = loaded.spec.split;
      const local = new Map<PartitionSnapshot, string[]>();
      for (const p of parts) local.set(p, (await localFiles([p])).files);
      const filesOf = (partitions: readonly PartitionSnapshot[]) => partitions.flatMap((p) => local.get(p)!);
      const run = runFiles(paths, input.model, input.workflowId, input.runId);
      const scratch = await mkdtemp(path.join(tmpdir(), 'mlops-trainingset-'));
      const db = await openDuckDB({ threads: 2 });
      try {
        // Written here, then stored whole under the run's key: the trainer may be on another host.
        const write = async (name: string, rows: string) => {
          const local = path.join(scratch, name);
          await db.connection.run(`COPY (${rows}) TO ${quoteLiteral(local)} (FORMAT parquet)`);
          const [row] = await queryRows(db.connection, `SELECT count(*)::BIGINT AS n FROM read_parquet(${quoteLiteral(local)})`);
          return { key: await run.putFile(name, local), rows: Number(row?.n) };
        };
        // Views are computed from the lake's history up to each side's newest partition, never later.
        const history = (partitions: readonly PartitionSnapshot[]) => historySource(lake, loaded, partitions.map((p) => p.value));
        const labelled = async (partitions: readonly PartitionSnapshot[]) =>
          `SELECT * FROM (${featureQuery(loaded, parquetSource(filesOf(partitions)), true, await history(partitions))}) WHERE ${LABEL_COLUMN} IS NOT NULL`;
        let sides: { train: readonly PartitionSnapshot[]; validation: readonly PartitionSnapshot[]; holdout: readonly PartitionSnapshot[] };
        let t, v, h;
        if (split.by === 'partition') {
          const n = parts.length;
          sides = {
            holdout: parts.slice(n - split.holdoutPartitions),
            validation: parts.slice(n - split.holdoutPartitions - split.validationPartitions, n - split.holdoutPartitions),
            train: parts.slice(0, n - split.holdoutPartitions - split.validationPartitions),
          };
          t = await write('train.parquet', await labelled(sides.train));
          v = sides.validation.length > 0 ? await write('validation.parquet', await labelled(sides.validation)) : null;
          h = await write('holdout.parquet', await labelled(sides.holdout));
        } else {
          // Every side comes from every partition: the split table is built once, then cut.
          sides = { train: parts, validation: split.validation > 0 ? parts : [], holdout: parts };
          await db.connection.run(`CREATE TEMP TABLE split_rows AS ${await splitQuery(paths.sqlDir, loaded, filesOf(parts), split, await history(parts))}`);
          t = await write('train.parquet', sideRows('split_rows', 'train'));
          v = split.validation > 0 ? await write('validation.parquet', sideRows('split_rows', 'validation')) : null;
          h = await write('holdout.parquet', sideRows('split_rows', 'holdout'));
        }
        if (t.rows === 0 || h.rows === 0 || v?.rows === 0) {
          throw new DataContractViolation(
            'empty',
            `the feature SQL returned ${t.rows} training, ${v?.rows ?? 0} validation and ${h.rows} holdout rows with a label`,
            loaded.spec.features.sql,
          );
        }
        return {
          workPrefix: run.prefix,
          trainKey: t.key,
          validationKey: v?.key ?? null,
          holdoutKey: h.key,
          trainPartitions: sides.train.map((p) => p.value),
          validationPartitions: sides.validation.map((p) => p.value),
          holdoutPartitions: sides.holdout.map((p) => p.value),
          split,
          specHash: loaded.specHash,
          trainRows: t.rows,
          validationRows: v?.rows ?? 0,
          holdoutRows: h.rows,
        };
      } finally {
        db.close();
        await rm(scratch, { recursive: true, force: true });
      }
    });
  }

  /** Remove what a finished run stored in the work area (training sets, checkpoints, trained models). */
  async function cleanupRun(input: { model: string; workflowId: string; runId: string }): Promise<void> {
    await runFiles(paths, input.model, input.workflowId, input.runId).remove();
  }

  return { snapshotDataset, validateDataset, buildTrainingSet, cleanupRun };
}

/** How many partitions a split reads (the newest), and the fewest it can work with. */
export function partitionsNeeded(split: SplitSpec, available: number): { least: number; need: number; why: string } {
  if (split.by === 'random') {
    return { least: 1, need: split.partitions === 'all' ? available : Math.min(available, split.partitions), why: 'a random split takes its sides from the rows of each' };
  }
  const least = split.holdoutPartitions + split.validationPartitions + 1;
  const need = split.trainPartitions === 'all' ? Math.max(least, available) : split.trainPartitions + split.validationPartitions + split.holdoutPartitions;
  return {
    least,
    need: Math.min(need, Math.max(available, least)),
    why: `${split.holdoutPartitions} to hold out, ${split.validationPartitions} to validate on, 1 to train on`,
  };
}

function checkColumn(file: string, col: DatasetColumn, types: Map<string, string>): void {
  const actual = types.get(col.name);
  if (actual === undefined) {
    throw new DataContractViolation('schema', `column is missing (the file has: ${[...types.keys()].join(', ')})`, file, col.name);
  }
  if (!compatible(col.type, actual)) {
    throw new DataContractViolation('schema', `type is ${actual}, the spec declares ${col.type}`, file, col.name);
  }
}

