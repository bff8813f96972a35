// Drafts from the data: a dataset declaration from a raw file, and a model spec with its feature
// SQL from a dataset in the lake. Both are profiled with DuckDB and written as files a person
// reads and edits; neither is ever required, and both load and train as they are.
import path from 'node:path';
import type { Paths } from '../core/config.js';
import { isValidColumnName, suggestName, type DatasetSpec, type Partitioning } from '../core/dataset.js';
import { openDuckDB, quoteIdent, quoteLiteral } from '../core/duckdb.js';
import { openLake } from '../storage/lake.js';
import { profileColumns, type ColumnProfile } from '../core/profile.js';
import { formatOf, readRawFile, ROW_COLUMN, type RawFormat } from '../core/raw-files.js';
import type { Task } from '../ml/metrics.js';

/** A dataset declaration for the columns of `file`, every header kept as the column's source. */
export async function draftDataset(file: string, name: string, partitioning: Partitioning | undefined, format?: RawFormat): Promise<Record<string, unknown>> {
  const db = await openDuckDB({ threads: 1 });
  try {
    const headers = await readRawFile(db.connection, file, formatOf(file, format), 'raw', { typed: true });
    const profiles = await profileColumns(db.connection, 'raw', [ROW_COLUMN]);
    const used = new Set<string>();
    const columns = headers.map((header, i) => {
      const p = profiles[i]!;
      let colName = isValidColumnName(header) ? header : suggestName(header);
      for (let n = 2; used.has(colName); n++) colName = `${suggestName(header)}_${n}`;
      used.add(colName);
      return {
        name: colName,
        ...(colName !== header ? { source: header } : {}),
        type: p.type,
        ...(p.nulls > 0 ? { nullable: true } : {}),
        ...(p.example !== undefined ? { example: p.example } : {}),
      };
    });
    const byName = (raw: string) => columns.find((c) => c.name === raw || c.source === raw)?.name ?? raw;
    const part: Partitioning = !partitioning
      ? { by: 'arrival' }
      : partitioning.by === 'arrival'
        ? partitioning
        : { ...partitioning, column: byName(partitioning.column) };
    return {
      name,
      description: `Drafted from ${path.basename(file)} (${profiles[0]?.rows ?? 0} rows): check the types, which columns may be missing (nullable) and which a request cannot know (knownAtPrediction: false).`,
      columns,
      partitioning: part,
      contract: { maxNullRate: 0, minRowsPerPartition: 1, maxVolumeDrop: 1 },
    };
  } finally {
    db.close();
  }
}

/** `time:<column>:<grain>`, `key:<column>` or `arrival`, as given on the command line. */
export function parsePartitioning(text: string): Partitioning {
  const [by, column, grain] = text.split(':');
  if (by === 'arrival' && column === undefined) return { by };
  if (by === 'key' && column) return { by, column };
  if (by === 'time' && column && (grain === 'day' || grain === 'week' || grain === 'month' || grain === 'year')) return { by, column, grain };
  throw new Error(`--partition-by ${text}: expected time:<column>:<day|week|month|year>, key:<column> or arrival`);
}

export interface SpecDraft {
  readonly spec: Record<string, unknown>;
  readonly featureSql: string;
  readonly task: Task;
  readonly rows: number;
  readonly notes: readonly string[];
}

/** Most distinct values a text label may have to be drafted as multiclass. */
const MAX_CLASSES = 20;

/**
 * A model spec over a dataset in the lake: the task from the label's profile, features from the
 * other columns a request knows, a split and trainer sized to the rows, a gate that fits the
 * holdout's size.
 */
export async function draftModelSpec(paths: Paths, dataset: DatasetSpec, options: { label: string; task?: Task; name: string }): Promise<SpecDraft> {
  const labelColumn = dataset.columns.find((c) => c.name === options.label);
  if (!labelColumn) throw new Error(`--label ${options.label}: not a column of dataset '${dataset.name}' (columns: ${dataset.columns.map((c) => c.name).join(', ')})`);
  const lake = openLake(paths);
  const partitions = await lake.partitions(dataset.name, dataset.partitionKey);
  const files = await lake.localFiles(partitions.flatMap((p) => p.files));
  if (files.length === 0) throw new Error(`dataset '${dataset.name}' has no data in the lake yet: ingest a file first (npm run lake -- ingest <file> --dataset ${dataset.name})`);
  const db = await openDuckDB({ threads: 2 });
  let profiles: ColumnProfile[];
  try {
    profiles = await profileColumns(db.connection, `read_parquet([${files.map(quoteLiteral).join(', ')}], hive_partitioning = false)`);
  } finally {
    db.close();
  }
  const profileOf = (name: string) => profiles.find((p) => p.name === name)!;
  const label = profileOf(labelColumn.name);
  const rows = label.rows - label.nulls;
  const notes: string[] = [];
  const numericLabel = labelColumn.type === 'BIGINT' || labelColumn.type === 'INTEGER' || labelColumn.type === 'DOUBLE' || labelColumn.type === 'FLOAT';
  const task: Task =
    options.task ??
    (label.distinct <= 2 || labelColumn.type === 'BOOLEAN'
      ? 'binary'
      : !numericLabel && label.distinct <= MAX_CLASSES
        ? 'multiclass'
        : numericLabel && labelColumn.type === 'BIGINT' && label.distinct <= 10
          ? 'multiclass'
          : 'regression');
  if (task !== 'regression' && label.distinct > MAX_CLASSES) throw new Error(`--task ${task}: the label '${label.name}' has about ${label.distinct} distinct values; a class label has at most ${MAX_CLASSES}`);
  notes.push(`task ${task}: label '${label.name}' is ${labelColumn.type} with about ${label.distinct} distinct values in ${label.rows} rows`);

  // Features: every other column a request knows, numbers as numbers, the rest as categories;
  // dates give their day of the week (and hour), never the date itself (a model cannot learn
  // from dates it will never see again); an identifier (a distinct text a row) is left out.
  const select: string[] = [];
  const features: { name: string; kind: 'numeric' | 'categorical' }[] = [];
  const taken = new Set<string>();
  const add = (expr: string, name: string, kind: 'numeric' | 'categorical') => {
    if (taken.has(name)) return;
    taken.add(name);
    select.push(`  ${expr} AS ${quoteIdent(name)}`);
    features.push({ name, kind });
  };
  for (const col of dataset.columns) {
    if (col.name === labelColumn.name || !col.knownAtPrediction) continue;
    const p = profileOf(col.name);
    const c = quoteIdent(col.name);
    if (col.type === 'DATE' || col.type === 'TIMESTAMP') {
      add(`isodow(${c})`, `${col.name}_day_of_week`, 'categorical');
      if (col.type === 'TIMESTAMP') add(`hour(${c})`, `${col.name}_hour`, 'categorical');
      notes.push(`'${col.name}': day of the week${col.type === 'TIMESTAMP' ? ' and hour' : ''}, not the date itself`);
    } else if (col.type === 'VARCHAR') {
      if (p.distinct >= 0.9 * p.rows && p.rows > 20) {
        notes.push(`'${col.name}' left out: about ${p.distinct} distinct values in ${p.rows} rows, an identifier`);
        continue;
      }
      add(c, col.name, 'categorical');
    } else if (col.type === 'BOOLEAN') {
      add(`CAST(${c} AS VARCHAR)`, col.name, 'categorical');
    } else {
      add(c, col.name, 'numeric');
    }
  }
  if (features.length === 0) throw new Error(`dataset '${dataset.name}' has no column besides the label that a request knows: nothing to learn from`);

  let labelExpr = quoteIdent(labelColumn.name);
  let classes: string[] | undefined;
  let positiveRate: number | undefined;
  if (task === 'binary' && labelColumn.type !== 'BOOLEAN') {
    // The rarer value is the positive class: what a binary model usually looks for.
    const [common, rare] = label.top;
    if (!rare) throw new Error(`--label ${label.name}: only one value (${common?.value}) in the lake; a binary label needs two`);
    labelExpr = `${quoteIdent(labelColumn.name)} = ${quoteLiteral(rare.value)}`;
    positiveRate = rare.count / rows;
    notes.push(`positive class: ${labelColumn.name} = '${rare.value}' (${(positiveRate * 100).toFixed(1)}% of labelled rows)`);
  } else if (task === 'binary') {
    positiveRate = (label.top.find((t) => t.value === 'true')?.count ?? 0) / rows;
  } else if (task === 'multiclass') {
    classes = label.top.map((t) => t.value).sort();
  }
  const labelName = `${labelColumn.name}_label`;
  select.push(`  ${labelExpr} AS ${quoteIdent(labelName)}`);

  // The split: by partition when the lake has many partitions of real size; otherwise random.
  const perPartition = rows / Math.max(1, partitions.length);
  const byPartition = dataset.partitioning.by === 'time' && partitions.length >= 6 && perPartition >= 1000;
  const holdoutRows = byPartition ? perPartition : Math.round(rows * 0.2);
  const split = byPartition
    ? { trainPartitions: 'all', validationPartitions: 1, holdoutPartitions: 1 }
    : { by: 'random', validation: 0.15, holdout: 0.2, seed: 7, ...(task !== 'regression' ? { stratify: true } : {}), ...(rows < 5_000 ? { folds: 5 } : {}) };
  notes.push(
    byPartition
      ? `split by partition: ${partitions.length} ${dataset.partitionKey}s of about ${Math.round(perPartition)} rows; the newest judges`
      : `random split (seeded, stratified for classes): 20% holdout (about ${holdoutRows} rows), 15% to stop early on${rows < 5_000 ? '; 5-fold cross-validation reported on the card (small data)' : ''}`,
  );
  // Small data: small trees, more regularisation, a slower rate with more rounds.
  const params =
    rows < 2_000
      ? { numIterations: 400, learningRate: 0.05, numLeaves: 7, minDataInLeaf: Math.max(3, Math.round(rows / 100)), lambdaL2: 5, earlyStoppingRounds: 40, seed: 7 }
      : rows < 50_000
        ? { numIterations: 400, learningRate: 0.05, numLeaves: 15, minDataInLeaf: 20, lambdaL2: 2, earlyStoppingRounds: 30, seed: 7 }
        : { numIterations: 300, learningRate: 0.1, numLeaves: 63, minDataInLeaf: 100, lambdaL2: 1, earlyStoppingRounds: 20, seed: 7 };
  // The champion comparison allows what the holdout's size leaves to chance (about one standard error).
  const noise = Math.min(0.05, Math.max(0.002, Number((1 / Math.sqrt(Math.max(1, holdoutRows))).toFixed(3))));
  const gate =
    task === 'binary'
      ? { metric: 'auc', mustBeatBaseline: true, champion: { tolerance: noise }, calibration: { maxEce: Math.max(0.05, Number((2 * noise).toFixed(3))), bins: holdoutRows < 500 ? 5 : 10 }, latency: { p99Ms: 20 } }
      : task === 'multiclass'
        ? { metric: 'logLoss', mustBeatBaseline: true, champion: { tolerance: Number((4 * noise).toFixed(3)) }, latency: { p99Ms: 20 } }
        : { metric: 'rmse', mustBeatBaseline: true, latency: { p99Ms: 20 } };
  if (task === 'regression') notes.push('gate: beats the mean; add "champion": {"tolerance": <in label units>} once you know the noise');
  const spec: Record<string, unknown> = {
    name: options.name,
    description: `Predicts ${labelColumn.name} of dataset ${dataset.name} (${task}). Drafted by npm run spec -- init from ${rows} labelled rows: edit freely.`,
    notes: notes.join('; '),
    task,
    dataset: dataset.name,
    features: { sql: `features/${options.name}.sql`, columns: features },
    label: {
      column: labelName,
      ...(classes ? { classes } : {}),
      ...(positiveRate !== undefined && positiveRate > 0 ? { rate: { min: Number((positiveRate / 3).toFixed(4)), max: Number(Math.min(1, positiveRate * 3).toFixed(4)) } } : {}),
    },
    split,
    trainer: { type: 'gbdt', checkpointEvery: 25, params },
    gate,
    approval: { required: false },
  };
  const featureSql =
    `-- Features and label of model ${options.name}, drafted from dataset ${dataset.name} by npm run spec -- init.\n` +
    `-- Runs over \`source\`: lake partitions in training and batch scoring, a request's fields in /predict.\n` +
    `SELECT\n${select.join(',\n')}\nFROM source\n`;
  return { spec, featureSql, task, rows, notes };
}
