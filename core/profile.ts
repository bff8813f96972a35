// Profiles of a table with DuckDB: each column's type, null rate, distinct values and range,
// the facts a drafted dataset declaration or model spec is built from.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ColumnType } from './dataset.js';
import { quoteIdent, queryRows } from './duckdb.js';

export interface ColumnProfile {
  readonly name: string;
  /** DuckDB's type as read (BIGINT, DOUBLE, VARCHAR, TIMESTAMP ...). */
  readonly rawType: string;
  readonly type: ColumnType;
  readonly rows: number;
  readonly nulls: number;
  readonly distinct: number;
  readonly min?: number;
  readonly max?: number;
  /** The most frequent values with their counts, most frequent first (at most 20). */
  readonly top: readonly { readonly value: string; readonly count: number }[];
  /** A typical value, as a request would send it. */
  readonly example?: string;
}

/** The declarable type for a DuckDB type. */
export function declarableType(rawType: string): ColumnType {
  const t = rawType.toUpperCase();
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/.test(t)) return 'BIGINT';
  if (/^(FLOAT|DOUBLE|REAL)$/.test(t) || t.startsWith('DECIMAL')) return 'DOUBLE';
  if (t === 'DATE') return 'DATE';
  if (t.startsWith('TIMESTAMP')) return 'TIMESTAMP';
  if (t === 'BOOLEAN') return 'BOOLEAN';
  return 'VARCHAR';
}

/** Profile every column of `relation` (a table name or a query in parentheses), skipping `skip`. */
export async function profileColumns(connection: DuckDBConnection, relation: string, skip: readonly string[] = []): Promise<ColumnProfile[]> {
  const described = (await queryRows(connection, `DESCRIBE SELECT * FROM ${relation}`)).filter((r) => !skip.includes(String(r.column_name)));
  const out: ColumnProfile[] = [];
  for (const d of described) {
    const name = String(d.column_name);
    const rawType = String(d.column_type);
    const type = declarableType(rawType);
    const c = quoteIdent(name);
    const numeric = type === 'BIGINT' || type === 'DOUBLE';
    const [s] = await queryRows(
      connection,
      `SELECT count(*)::BIGINT AS rows, (count(*) - count(${c}))::BIGINT AS nulls, approx_count_distinct(${c})::BIGINT AS distinct_values
       ${numeric ? `, min(${c})::DOUBLE AS lo, max(${c})::DOUBLE AS hi` : ''} FROM ${relation}`,
    );
    const top = await queryRows(
      connection,
      `SELECT CAST(${c} AS VARCHAR) AS value, count(*)::BIGINT AS n FROM ${relation} WHERE ${c} IS NOT NULL GROUP BY ALL ORDER BY n DESC, value LIMIT 20`,
    );
    const example = top[0]?.value === undefined ? undefined : String(top[0].value);
    out.push({
      name,
      rawType,
      type,
      rows: Number(s?.rows),
      nulls: Number(s?.nulls),
      distinct: Number(s?.distinct_values),
      ...(numeric && s?.lo !== null ? { min: Number(s?.lo), max: Number(s?.hi) } : {}),
      top: top.map((t) => ({ value: String(t.value), count: Number(t.n) })),
      ...(example !== undefined ? { example: type === 'TIMESTAMP' ? example.replace(' ', 'T').slice(0, 16) : example } : {}),
    });
  }
  return out;
}
