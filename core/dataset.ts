// Dataset declarations: datasets/<name>.json says what a table's columns are called, where each
// comes from in the raw files (its header), their types, which may be missing, how the lake
// partitions the table and what every batch of it must satisfy. Ingestion, model specs and
// prediction requests all read the one declaration, so a name means the same thing everywhere.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, InvalidSpecError, UnknownDatasetError } from './errors.js';
import { Reader } from './spec-reader.js';

/** DuckDB column types a dataset may declare (what the lake's Parquet files hold). */
export const COLUMN_TYPES = ['TIMESTAMP', 'DATE', 'BIGINT', 'INTEGER', 'DOUBLE', 'FLOAT', 'VARCHAR', 'BOOLEAN'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

const NUMERIC_TYPES: readonly ColumnType[] = ['BIGINT', 'INTEGER', 'DOUBLE', 'FLOAT'];
export const isNumericType = (type: ColumnType): boolean => NUMERIC_TYPES.includes(type);
const TIME_TYPES: readonly ColumnType[] = ['TIMESTAMP', 'DATE'];

export interface DatasetColumn {
  /** The name requests, feature SQL and the lake use: a lower-case identifier. */
  readonly name: string;
  /** The raw header in ingested files, when it differs from `name` (e.g. "Beak Length (mm)"). */
  readonly source?: string;
  readonly type: ColumnType;
  /** May be missing: ingestion lets NULLs through and /predict accepts null or an absent field. */
  readonly nullable: boolean;
  readonly description?: string;
  /** A typical raw value, as a request would send it: shown in the API's documentation. */
  readonly example?: string;
  /** False for outcome columns (e.g. the delay) that a prediction request cannot know. */
  readonly knownAtPrediction: boolean;
  /** Numeric columns: the smallest and largest value a prediction request may send. */
  readonly min?: number;
  readonly max?: number;
  /** Text columns: a regular expression a request's whole value must match (e.g. ^[A-Z]{3}$). */
  readonly pattern?: string;
}

export interface DataContract {
  /** Largest share of NULLs allowed in a column that is not `nullable`, per file. */
  readonly maxNullRate: number;
  readonly minRowsPerPartition: number;
  /** A partition may hold at most this much fewer rows than the median partition (0.5 = half). */
  readonly maxVolumeDrop: number;
}

export const TIME_GRAINS = ['day', 'week', 'month', 'year'] as const;
export type TimeGrain = (typeof TIME_GRAINS)[number];

/**
 * How the lake cuts the table into partitions, and so what "newest" means:
 * - `time`: by a date or timestamp column at a grain (`month=2024-03-01`; weeks start on Monday);
 * - `key`: by the value of a column (`region=north`; numbers order as numbers);
 * - `arrival`: every ingest is a partition of its own (`batch=1`, `batch=2`, ...).
 */
export type Partitioning =
  | { readonly by: 'time'; readonly column: string; readonly grain: TimeGrain }
  | { readonly by: 'key'; readonly column: string }
  | { readonly by: 'arrival' };

export interface DatasetSpec {
  readonly name: string;
  readonly description: string;
  readonly columns: readonly DatasetColumn[];
  readonly partitioning: Partitioning;
  /** The folder prefix of partitions (`<key>=<value>`): the grain, the key column or `batch`. */
  readonly partitionKey: string;
  readonly contract: DataContract;
}

/** A dataset declaration as loaded, with the text its hash was taken of. */
export interface LoadedDataset {
  readonly dataset: DatasetSpec;
  readonly file: string;
  readonly text: string;
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/;
const COLUMN_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export const isValidName = (name: string): boolean => NAME.test(name);
export const isValidColumnName = (name: string): boolean => COLUMN_NAME.test(name);

/** The header a column has in raw files. */
export const sourceOf = (col: DatasetColumn): string => col.source ?? col.name;

/** A column named for people: its name, and its raw header when that differs. */
export const describeColumn = (col: DatasetColumn): string => (col.source && col.source !== col.name ? `'${col.name}' (source '${col.source}')` : `'${col.name}'`);

/** The file as a person finds it: relative to the folder above the specs' folders when it is inside it. */
export function displayPath(file: string, specsRoot: string): string {
  const rel = path.relative(specsRoot, file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? path.basename(file) : rel;
}

export async function listDatasets(datasetsDir: string): Promise<string[]> {
  const entries = await readdir(datasetsDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw new Error(`cannot read the datasets folder ${datasetsDir} (MLOPS_DATASETS_DIR): ${errorMessage(err)}`);
  });
  return entries
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .filter(isValidName)
    .sort();
}

export async function loadDataset(datasetsDir: string, name: string, referencedFrom?: { file: string; field: string }): Promise<LoadedDataset> {
  const known = await listDatasets(datasetsDir);
  if (!isValidName(name) || !known.includes(name)) {
    if (referencedFrom) {
      throw new InvalidSpecError(referencedFrom.file, referencedFrom.field, `no dataset '${name}' is declared (datasets/: ${known.join(', ') || 'none'})`);
    }
    throw new UnknownDatasetError(name, known);
  }
  const file = path.join(datasetsDir, `${name}.json`);
  const shown = displayPath(file, path.dirname(datasetsDir));
  const text = await readFile(file, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidSpecError(shown, '(file)', `not valid JSON: ${errorMessage(err)}`);
  }
  const dataset = parseDataset(raw, shown);
  if (dataset.name !== name) throw new InvalidSpecError(shown, 'name', `must equal the file name '${name}'`);
  return { dataset, file, text };
}

export function parseDataset(raw: unknown, file: string): DatasetSpec {
  const r = new Reader(file);
  const o = r.strictObject(raw, '(root)', ['name', 'description', 'columns', 'partitioning', 'contract']);
  const name = r.string(o.name, 'name');
  if (!isValidName(name)) r.fail('name', 'must match [a-z][a-z0-9_]*');
  const seenNames = new Map<string, number>();
  const seenSources = new Map<string, number>();
  const columns = r.array(o.columns, 'columns').map((c, i): DatasetColumn => {
    const field = `columns[${i}]`;
    const co = r.strictObject(c, field, ['name', 'source', 'type', 'nullable', 'description', 'example', 'knownAtPrediction', 'min', 'max', 'pattern']);
    const colName = r.string(co.name, `${field}.name`);
    if (!isValidColumnName(colName)) {
      r.fail(`${field}.name`, `must be a lower-case identifier ([a-z_][a-z0-9_]*); keep the raw header ${JSON.stringify(colName)} as "source" and name it e.g. "${suggestName(colName)}"`);
    }
    const source = co.source === undefined ? undefined : r.string(co.source, `${field}.source`);
    const header = source ?? colName;
    if (seenNames.has(colName)) r.fail(`${field}.name`, `'${colName}' is declared twice (also columns[${seenNames.get(colName)}])`);
    if (seenSources.has(header)) r.fail(`${field}.source`, `the raw column ${JSON.stringify(header)} is mapped twice (also columns[${seenSources.get(header)}])`);
    seenNames.set(colName, i);
    seenSources.set(header, i);
    const type = r.oneOf(co.type, `${field}.type`, COLUMN_TYPES);
    const bound = (key: 'min' | 'max') => {
      if (co[key] === undefined) return undefined;
      if (!isNumericType(type)) r.fail(`${field}.${key}`, `applies to numeric columns only, not ${type}`);
      return r.number(co[key], `${field}.${key}`, Number.NEGATIVE_INFINITY);
    };
    const [min, max] = [bound('min'), bound('max')];
    if (min !== undefined && max !== undefined && min > max) r.fail(`${field}.min`, `must not be above max (${max})`);
    let pattern: string | undefined;
    if (co.pattern !== undefined) {
      if (type !== 'VARCHAR') r.fail(`${field}.pattern`, `applies to VARCHAR columns only, not ${type}`);
      pattern = r.string(co.pattern, `${field}.pattern`);
      try {
        new RegExp(pattern, 'u');
      } catch (err) {
        r.fail(`${field}.pattern`, `is not a regular expression: ${errorMessage(err)}`);
      }
    }
    return {
      name: colName,
      ...(source !== undefined && source !== colName ? { source } : {}),
      type,
      nullable: co.nullable === undefined ? false : r.boolean(co.nullable, `${field}.nullable`),
      description: co.description === undefined ? undefined : r.string(co.description, `${field}.description`),
      example: co.example === undefined ? undefined : r.string(co.example, `${field}.example`),
      knownAtPrediction: co.knownAtPrediction === undefined ? true : r.boolean(co.knownAtPrediction, `${field}.knownAtPrediction`),
      ...(min !== undefined ? { min } : {}),
      ...(max !== undefined ? { max } : {}),
      ...(pattern !== undefined ? { pattern } : {}),
    };
  });

  const partitioning = parsePartitioning(r, o.partitioning, columns);
  const ct = r.strictObject(o.contract ?? {}, 'contract', ['maxNullRate', 'minRowsPerPartition', 'maxVolumeDrop']);
  const contract: DataContract = {
    maxNullRate: ct.maxNullRate === undefined ? 0 : r.number(ct.maxNullRate, 'contract.maxNullRate', 0, 1),
    minRowsPerPartition: ct.minRowsPerPartition === undefined ? 1 : r.integer(ct.minRowsPerPartition, 'contract.minRowsPerPartition', 1),
    maxVolumeDrop: ct.maxVolumeDrop === undefined ? 1 : r.number(ct.maxVolumeDrop, 'contract.maxVolumeDrop', 0, 1),
  };
  const partitionKey = partitioning.by === 'time' ? partitioning.grain : partitioning.by === 'key' ? partitioning.column : 'batch';
  const clash = partitioning.by !== 'key' ? columns.find((c) => c.name === partitionKey) : undefined;
  if (clash) r.fail('partitioning', `its partition folders are named ${partitionKey}=..., which a column of the same name would hide: rename the column`);
  return {
    name,
    description: o.description === undefined ? '' : r.string(o.description, 'description'),
    columns,
    partitioning,
    partitionKey,
    contract,
  };
}

function parsePartitioning(r: Reader, raw: unknown, columns: readonly DatasetColumn[]): Partitioning {
  const p = r.object(raw, 'partitioning');
  const by = r.oneOf(p.by, 'partitioning.by', ['time', 'key', 'arrival'] as const);
  const column = (types: readonly ColumnType[] | undefined): string => {
    const name = r.string(p.column, 'partitioning.column');
    const col = columns.find((c) => c.name === name);
    if (!col) r.fail('partitioning.column', `'${name}' is not a declared column (columns: ${columns.map((c) => c.name).join(', ')})`);
    if (types && !types.includes(col.type)) r.fail('partitioning.column', `'${name}' is ${col.type}; partitioning by time takes a ${types.join(' or ')} column`);
    if (col.nullable) r.fail('partitioning.column', `'${name}' is nullable: a row without it would have no partition`);
    return name;
  };
  switch (by) {
    case 'time':
      r.strictObject(p, 'partitioning', ['by', 'column', 'grain']);
      return { by, column: column(TIME_TYPES), grain: r.oneOf(p.grain, 'partitioning.grain', TIME_GRAINS) };
    case 'key':
      r.strictObject(p, 'partitioning', ['by', 'column']);
      return { by, column: column(undefined) };
    case 'arrival':
      r.strictObject(p, 'partitioning', ['by']);
      return { by };
  }
}

/** A lower-case identifier for a raw header: "Beak Length (mm)" -> beak_length_mm. */
export function suggestName(header: string): string {
  const ascii = header
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ß/g, 'ss')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  const name = ascii.length === 0 ? 'column' : /^[0-9]/.test(ascii) ? `c_${ascii}` : ascii;
  return name.slice(0, 63);
}

/**
 * Partition values in their type's order: whole and decimal numbers as numbers (`10` after `9`),
 * everything else (ISO dates sort as they read) as text.
 */
export function comparePartitionValues(a: string, b: string): number {
  const numeric = /^-?\d+(\.\d+)?$/;
  if (numeric.test(a) && numeric.test(b)) {
    const d = Number(a) - Number(b);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
