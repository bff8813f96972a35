// The one path from raw rows to model inputs. Training, ONNX verification, batch scoring and
// GET /predict all call featureQuery(); only the `source` relation differs (lake files or a
// request's raw fields), so the features cannot drift between them.
import { quoteIdent, type ColumnRequest } from './duckdb.js';
import type { LoadedSpec, ModelSpec } from './spec.js';

/** Output column holding the label in training queries. */
export const LABEL_COLUMN = '__label';

/**
 * Wrap the model's feature SQL: bind `source`, then cast every declared feature to what the
 * ONNX graph takes (categorical -> VARCHAR, numeric -> FLOAT), plus the label when asked.
 */
export function featureQuery(loaded: LoadedSpec, sourceSql: string, withLabel: boolean): string {
  const { spec } = loaded;
  const projections = spec.features.columns.map((f) =>
    f.kind === 'categorical'
      ? `CAST(${quoteIdent(f.name)} AS VARCHAR) AS ${quoteIdent(f.name)}`
      : `CAST(${quoteIdent(f.name)} AS FLOAT) AS ${quoteIdent(f.name)}`,
  );
  if (withLabel) projections.push(`CAST(${quoteIdent(spec.label.column)} AS DOUBLE) AS ${LABEL_COLUMN}`);
  const body = loaded.featureSql.trim().replace(/;\s*$/, '');
  return `WITH source AS (${sourceSql})\nSELECT ${projections.join(', ')}\nFROM (\n${body}\n) AS features`;
}

/** The feature columns to read from a feature query's result, in spec order. */
export function featureColumns(spec: ModelSpec): ColumnRequest[] {
  return spec.features.columns.map((f) => ({ name: f.name, kind: f.kind }));
}

/**
 * `source` for prediction requests: one row per request, every dataset column present with
 * its declared type; columns not known at prediction time are NULL. Request values are bound
 * as text parameters ($1, $2, ...) and cast by DuckDB, never spliced into the SQL text.
 */
export function requestSource(spec: ModelSpec, rowCount: number): string {
  const cols = spec.dataset.columns;
  const rows: string[] = [];
  let param = 1;
  for (let r = 0; r < rowCount; r++) {
    rows.push(
      `(${cols.map((c) => (c.knownAtPrediction ? `CAST($${param++} AS ${c.type})` : `CAST(NULL AS ${c.type})`)).join(', ')})`,
    );
  }
  return `SELECT * FROM (VALUES ${rows.join(', ')}) AS t(${cols.map((c) => quoteIdent(c.name)).join(', ')})`;
}
