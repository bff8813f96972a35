// The one path from raw rows to model inputs. Training, ONNX verification, batch scoring and
// GET /predict all call featureQuery(); only the `source` relation differs (lake files or a
// request's raw fields), so the features cannot drift between them.
import type { LabeledTable } from '../ml/table.js';
import { openDuckDB, parquetSource, quoteIdent, quoteLiteral, readColumns, type ColumnRequest } from './duckdb.js';
import type { LoadedSpec, ModelSpec } from './spec.js';
import { taskKind } from '../tasks/index.js';
import { checkViewSql, joinViews, missingColumn, staleColumn, type ViewSource } from './views.js';
import { InvalidSpecError } from './errors.js';

/** Output column holding the label in training queries. */
export const LABEL_COLUMN = '__label';

/**
 * Wrap the model's feature SQL: bind `source`, join its views' values (from `views`: the
 * dataset's history offline, snapshots online), then cast every declared feature to what the
 * ONNX graph takes (categorical -> VARCHAR, numeric -> FLOAT), plus the label when asked, as
 * the task's number (TaskKind.labelSql: the value, or a class's index). With `viewFlags`, per
 * view whether the row's entity was missing and whether its value was stale (viewFlagColumns).
 */
export function featureQuery(loaded: LoadedSpec, sourceSql: string, withLabel: boolean, views?: ViewSource, viewFlags = false): string {
  const { spec } = loaded;
  const projections = spec.features.columns.map((f) =>
    f.kind === 'categorical'
      ? `CAST(${quoteIdent(f.name)} AS VARCHAR) AS ${quoteIdent(f.name)}`
      : `CAST(${quoteIdent(f.name)} AS FLOAT) AS ${quoteIdent(f.name)}`,
  );
  if (withLabel) projections.push(`${labelExpression(spec)} AS ${LABEL_COLUMN}`);
  let rows = rawFeatureQuery(loaded, sourceSql);
  if (spec.features.views.length > 0) {
    if (!views) throw new Error(`${spec.name} has feature views: its feature query needs their history or snapshots`);
    rows = joinViews(spec.features.views, loaded.viewTexts, rows, spec.features.time!, views, viewFlags);
    if (viewFlags) projections.push(...viewFlagColumns(spec).map((c) => quoteIdent(c.name)));
  }
  return `SELECT ${projections.join(', ')}\nFROM (\n${rows}\n) AS features`;
}

/** The columns featureQuery adds with viewFlags, after the features (1 or 0 each). */
export function viewFlagColumns(spec: ModelSpec): ColumnRequest[] {
  return spec.features.views.flatMap((v) => [
    { name: missingColumn(v), kind: 'numeric' as const },
    { name: staleColumn(v), kind: 'numeric' as const },
  ]);
}

/** The model's feature SQL over `source`, with its own column names and types. */
export function rawFeatureQuery(loaded: LoadedSpec, sourceSql: string): string {
  const body = loaded.featureSql.trim().replace(/;\s*$/, '');
  return `WITH source AS (${sourceSql})\n${body}`;
}

/** The label of each row of the feature SQL over `source` (LABEL_COLUMN): what label checks read, without the views. */
export function labelQuery(loaded: LoadedSpec, sourceSql: string): string {
  return `SELECT ${labelExpression(loaded.spec)} AS ${LABEL_COLUMN} FROM (${rawFeatureQuery(loaded, sourceSql)}) AS features`;
}

function labelExpression(spec: ModelSpec): string {
  return taskKind(spec.task).labelSql(spec.label.column, spec.label.classes);
}

/** The feature columns to read from a feature query's result, in spec order. */
export function featureColumns(spec: ModelSpec): ColumnRequest[] {
  return spec.features.columns.map((f) => ({ name: f.name, kind: f.kind }));
}

/** Separates the values of one request column in the text its parameter binds (see requestSource). */
export const REQUEST_VALUE_SEPARATOR = '\x1f';
/** Stands for a missing value (a nullable column sent as null or left out) in that text. */
export const REQUEST_NULL = '\x1e';

/** One raw request value: text, or null for a nullable column left missing. */
export type RequestValue = string | null;

/**
 * The parameters of requestSource for `rows` (each row's raw values in requestColumns order):
 * one text per request column, its values joined by REQUEST_VALUE_SEPARATOR. A value holding
 * the separator (a control character, which request validation refuses) would split a row in
 * two, so it is refused here too.
 */
export function requestParameters(rows: readonly (readonly RequestValue[])[], columns: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < columns; k++) {
    let text = '';
    for (let r = 0; r < rows.length; r++) {
      const value = rows[r]![k] ?? REQUEST_NULL;
      if (value !== REQUEST_NULL && (value.includes(REQUEST_VALUE_SEPARATOR) || value.includes(REQUEST_NULL))) {
        throw new Error(`request value ${JSON.stringify(value)} holds a control character`);
      }
      text = r === 0 ? value : text + REQUEST_VALUE_SEPARATOR + value;
    }
    out.push(text);
  }
  return out;
}

/**
 * `source` for prediction requests: one row per request row, every dataset column present with
 * its declared type; columns not known at prediction time are NULL. Parameter $k is the text of
 * request column k (requestParameters): its values, split and cast by DuckDB, never spliced
 * into the SQL text, and one prepared statement serves any number of rows. One VARCHAR per
 * column, not a LIST of them: binding a list builds a DuckDB value per element, which cost
 * more than the query itself for a micro-batch.
 */
export function requestSource(spec: ModelSpec): string {
  const cols = spec.dataset.columns;
  let param = 0;
  const lists: string[] = [];
  const projections = cols.map((c) => {
    if (!c.knownAtPrediction) return `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`;
    param++;
    lists.push(`unnest(string_split($${param}::VARCHAR, chr(${REQUEST_VALUE_SEPARATOR.charCodeAt(0)}))) AS v${param}`);
    return `CAST(nullif(v${param}, chr(${REQUEST_NULL.charCodeAt(0)})) AS ${c.type}) AS ${quoteIdent(c.name)}`;
  });
  return `SELECT ${projections.join(', ')} FROM (SELECT ${lists.join(', ')})`;
}

/**
 * A FROM clause joining lake files row by row (`k`: raw columns, with `filename` and
 * `file_row_number`) to the model's features over the same files (`f`), plus the expressions
 * of each row's key: the file's name in its dataset and the row number in it. Relies on the
 * feature SQL giving one row per input row in input order (batch scoring checks it).
 * `withLabel: 'only'`: `f` holds the label alone (no views computed).
 */
export function keyedFeatures(
  loaded: LoadedSpec,
  /** Each local file DuckDB reads, with the name predictions record for it (its place in the dataset). */
  files: readonly { readonly local: string; readonly name: string }[],
  withLabel: boolean | 'only',
  views?: ViewSource,
): { from: string; sourceFile: string; sourceRow: string } {
  const locals = files.map((f) => f.local);
  return {
    from:
      `read_parquet([${locals.map(quoteLiteral).join(', ')}], filename = true, file_row_number = true, hive_partitioning = false) AS k\n` +
      `POSITIONAL JOIN (${withLabel === 'only' ? labelQuery(loaded, parquetSource(locals)) : featureQuery(loaded, parquetSource(locals), withLabel, views)}) AS f`,
    sourceFile: `(CASE k.filename ${files.map((f) => `WHEN ${quoteLiteral(f.local)} THEN ${quoteLiteral(f.name)}`).join(' ')} END)`,
    sourceRow: 'k.file_row_number',
  };
}

/** Labelled rows of lake files through a model's own feature SQL; rows without a label are left out. */
export async function readLabeledFeatures(loaded: LoadedSpec, files: readonly string[], limit?: number, views?: ViewSource): Promise<LabeledTable> {
  return readLabeledRows(loaded, `SELECT * FROM (${featureQuery(loaded, parquetSource(files), true, views)}) WHERE ${LABEL_COLUMN} IS NOT NULL${limit ? ` LIMIT ${limit}` : ''}`);
}

/** The feature columns and label of a query over a model's features (featureQuery with the label). */
export async function readLabeledRows(loaded: LoadedSpec, sql: string): Promise<LabeledTable> {
  const db = await openDuckDB({ threads: 2 });
  try {
    const table = await readColumns(await db.connection.stream(sql), [...featureColumns(loaded.spec), { name: LABEL_COLUMN, kind: 'numeric' }]);
    const label = table.columns.at(-1)!;
    if (label.kind !== 'numeric') throw new Error('label column must be numeric');
    return { features: { rows: table.rows, columns: table.columns.slice(0, -1) }, labels: label.values };
  } finally {
    db.close();
  }
}

/**
 * Check a spec's views before anything runs them: each view's query reads only `events` and
 * each knownAt query only `source` (so no value can see a row known after its instant), and
 * every entity column and the row time are outputs of the feature SQL. Errors name the field.
 */
export async function checkViews(loaded: LoadedSpec): Promise<void> {
  const { spec } = loaded;
  if (spec.features.views.length === 0) return;
  const db = await openDuckDB({ threads: 1 });
  try {
    const serialize = async (sql: string) =>
      String((await db.connection.runAndReadAll(`SELECT json_serialize_sql(${quoteLiteral(sql.trim().replace(/;\s*$/, ''))})`)).getRows()[0]![0]);
    for (const [i, view] of spec.features.views.entries()) {
      const texts = loaded.viewTexts.get(view.name)!;
      checkViewSql(loaded.shownFile, `features.views[${i}].sql (${view.sql})`, await serialize(texts.sql), 'events');
      checkViewSql(loaded.shownFile, `features.views[${i}].knownAt (${view.knownAt})`, await serialize(texts.knownAt), 'source');
    }
    // The feature SQL's output columns, over an empty source of the dataset's columns.
    const empty = `SELECT ${spec.dataset.columns.map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`).join(', ')} LIMIT 0`;
    const described = await db.connection.runAndReadAll(`DESCRIBE ${rawFeatureQuery(loaded, empty)}`);
    const outputs = new Set(described.getRows().map((r) => String(r[0])));
    const time = spec.features.time!;
    if (!outputs.has(time)) throw new InvalidSpecError(loaded.shownFile, 'features.time', `'${time}' is not a column the feature SQL (${spec.features.sql}) outputs`);
    for (const [i, view] of spec.features.views.entries()) {
      for (const e of view.entity) {
        if (!outputs.has(e)) throw new InvalidSpecError(loaded.shownFile, `features.views[${i}].entity`, `'${e}' is not a column the feature SQL (${spec.features.sql}) outputs`);
      }
      for (const v of view.values) {
        if (outputs.has(v.name)) throw new InvalidSpecError(loaded.shownFile, `features.views[${i}].values.${v.name}`, `the feature SQL (${spec.features.sql}) outputs a column of that name too`);
      }
    }
  } finally {
    db.close();
  }
}
