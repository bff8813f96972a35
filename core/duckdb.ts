// Small helpers over @duckdb/node-api: opening an in-process database, quoting, and reading
// query results into columnar typed arrays without building a JS object per row.
import {
  DuckDBInstance,
  DuckDBMaterializedResult,
  DuckDBTypeId,
  type DuckDBConnection,
  type DuckDBDataChunk,
  type DuckDBResult,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { Column, ColumnTable } from '../ml/table.js';
import { CategoryCoder, copyFloats } from './category-codes.js';

export interface OpenDuckDB {
  readonly instance: DuckDBInstance;
  readonly connection: DuckDBConnection;
  close(): void;
}

/** An in-memory database; `threads` bounds DuckDB's own worker threads (the machine has 2 cores). */
export async function openDuckDB(options: { threads?: number } = {}): Promise<OpenDuckDB> {
  const config: Record<string, string> = {};
  if (options.threads) config.threads = String(options.threads);
  const instance = await DuckDBInstance.create(':memory:', config);
  const connection = await instance.connect();
  return {
    instance,
    connection,
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** Quote an identifier (column or relation name) for SQL text. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quote a string literal for SQL text. Used only for paths the project itself listed. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** `read_parquet([...])` over exactly these files (a pinned snapshot, never a glob). */
export function parquetSource(files: readonly string[]): string {
  return `SELECT * FROM read_parquet([${files.map(quoteLiteral).join(', ')}], hive_partitioning = true)`;
}

/**
 * Run a query and return its rows as plain JSON-able objects (for small results). `types` give
 * the parameters' types where inferring them from the JS values would guess wrong (a list of
 * doubles that starts with a whole number is not a list of integers).
 */
export async function queryRows(
  connection: DuckDBConnection,
  sql: string,
  values?: DuckDBValue[],
  types?: DuckDBType[],
): Promise<Record<string, unknown>[]> {
  const reader = await connection.runAndReadAll(sql, values, types);
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}

/** Rows per Parquet file, from the files' metadata (no data is read). */
export async function parquetRowCounts(connection: DuckDBConnection, files: readonly string[]): Promise<Map<string, number>> {
  if (files.length === 0) return new Map();
  const rows = await queryRows(
    connection,
    `SELECT file_name, sum(num_rows)::BIGINT AS n FROM parquet_file_metadata([${files.map(quoteLiteral).join(', ')}]) GROUP BY file_name`,
  );
  return new Map(rows.map((r) => [String(r.file_name), Number(r.n)]));
}

export interface ColumnRequest {
  readonly name: string;
  readonly kind: 'numeric' | 'categorical';
}

/**
 * The chunks of a result. A streamed result fetches each on DuckDB's thread pool (one round
 * trip each, plus one to learn there is no more); a materialized one (`run()`) already holds
 * them all and hands them over synchronously, which saves small queries (a micro-batch of
 * GET /predict) two of their three round trips.
 */
async function* chunksOf(result: DuckDBResult): AsyncGenerator<DuckDBDataChunk> {
  if (result instanceof DuckDBMaterializedResult) {
    for (let i = 0; i < result.chunkCount; i++) yield result.getChunk(i);
    return;
  }
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) return;
    yield chunk;
  }
}

/**
 * Read a result (streamed or materialized) chunk by chunk into typed arrays. Numeric values
 * are rounded to float32 on the way in so training, export and serving all see the same
 * numbers; NULL becomes NaN (numeric) or code -1 (categorical). `onRows` reports progress.
 */
export async function readColumns(
  result: DuckDBResult,
  requested: readonly ColumnRequest[],
  onRows?: (rowsSoFar: number) => void,
): Promise<ColumnTable> {
  const names = result.columnNames();
  const indexes = requested.map((c) => {
    const i = names.indexOf(c.name);
    if (i < 0) throw new Error(`query result has no column '${c.name}' (columns: ${names.join(', ')})`);
    return i;
  });
  const numericParts: Float32Array[][] = requested.map(() => []);
  const codeParts: Int32Array[][] = requested.map(() => []);
  // VARCHAR categories are coded and FLOAT numbers copied from DuckDB's memory; other columns
  // (a BOOLEAN or INTEGER category, a DOUBLE number) go through their JS values.
  const varchar = indexes.map((i) => result.columnTypeId(i) === DuckDBTypeId.VARCHAR);
  const float = indexes.map((i) => result.columnTypeId(i) === DuckDBTypeId.FLOAT);
  const coders = requested.map(() => new CategoryCoder());
  let rows = 0;
  for await (const chunk of chunksOf(result)) {
    const n = chunk.rowCount;
    if (n === 0) continue;
    requested.forEach((col, k) => {
      if (varchar[k] && col.kind === 'categorical') {
        const out = new Int32Array(n);
        coders[k]!.codeVarchar(chunk, indexes[k]!, n, out);
        codeParts[k]!.push(out);
        return;
      }
      if (float[k] && col.kind === 'numeric') {
        numericParts[k]!.push(copyFloats(chunk, indexes[k]!, n));
        return;
      }
      const vector = chunk.getColumnVector(indexes[k]!);
      if (col.kind === 'numeric') {
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const v = vector.getItem(i);
          out[i] = v === null ? Number.NaN : toNumber(v, col.name);
        }
        numericParts[k]!.push(out);
      } else {
        const coder = coders[k]!;
        const out = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          const v = vector.getItem(i);
          out[i] = v === null ? -1 : coder.code(typeof v === 'string' ? v : String(v));
        }
        codeParts[k]!.push(out);
      }
    });
    rows += n;
    onRows?.(rows);
  }
  const columns = requested.map((col, k): Column => {
    if (col.kind === 'numeric') return { name: col.name, kind: 'numeric', values: concat(numericParts[k]!, Float32Array, rows) };
    return { name: col.name, kind: 'categorical', codes: concat(codeParts[k]!, Int32Array, rows), dictionary: coders[k]!.dictionary };
  });
  return { rows, columns };
}

function toNumber(v: unknown, column: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new Error(`column '${column}' is declared numeric but holds ${typeof v} values`);
}

function concat<T extends Float32Array | Int32Array>(
  parts: T[],
  Ctor: { new (n: number): T },
  total: number,
): T {
  const out = new Ctor(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
