// Raw files a user brings (CSV, TSV, JSON, NDJSON, Parquet), read with DuckDB's readers into a
// table with each row's number in its file, so every problem can name the file, row and column.
import { open as openFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent, quoteLiteral, queryRows } from './duckdb.js';
import { errorMessage, IngestError } from './errors.js';

export const RAW_FORMATS = ['csv', 'tsv', 'json', 'ndjson', 'parquet'] as const;
export type RawFormat = (typeof RAW_FORMATS)[number];

/** Output column of readRawFile: the row's number among the file's data rows, from 1. */
export const ROW_COLUMN = '__row';

export function formatOf(file: string, declared?: RawFormat): RawFormat {
  if (declared) return declared;
  const ext = path.extname(file).toLowerCase().replace(/^\./, '');
  if (ext === 'csv' || ext === 'txt') return 'csv';
  if (ext === 'tsv' || ext === 'tab') return 'tsv';
  if (ext === 'json') return 'json';
  if (ext === 'ndjson' || ext === 'jsonl') return 'ndjson';
  if (ext === 'parquet' || ext === 'pq') return 'parquet';
  throw new IngestError(file, `cannot tell its format from the extension '.${ext}': name it .csv, .tsv, .json, .ndjson or .parquet, or pass --format`);
}

/** The files a path or glob names, sorted; none is an error naming the pattern. */
export async function expandSources(connection: DuckDBConnection, patterns: readonly string[]): Promise<string[]> {
  const files = new Set<string>();
  for (const pattern of patterns) {
    const found = (await queryRows(connection, `SELECT file FROM glob(${quoteLiteral(pattern)})`)).map((r) => path.resolve(String(r.file)));
    if (found.length === 0) throw new IngestError(pattern, 'no file matches it');
    for (const f of found) files.add(f);
  }
  return [...files].sort();
}

/** DuckDB's names for a header: a repeated header gets _1, _2 ... as DuckDB's CSV reader names it. */
export function dedupeHeaders(headers: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return headers.map((h) => {
    const base = h.trim() === '' ? 'column' : h;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  });
}

/** The header of a delimited file: its first record's fields, quotes honoured; UTF-8 checked. */
async function readHeader(file: string, delimiter: string): Promise<string[]> {
  const handle = await openFile(file, 'r');
  let text: string;
  try {
    const buffer = Buffer.alloc(256 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead === 0) throw new IngestError(file, 'is empty: no header and no rows');
    let bytes = buffer.subarray(0, bytesRead);
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    const end = bytes.indexOf(0x0a);
    const line = end < 0 ? bytes : bytes.subarray(0, end);
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(line).replace(/\r$/, '');
    } catch {
      throw new IngestError(file, 'is not UTF-8 text (line 1, the header): save it as UTF-8', { row: 0 });
    }
  } finally {
    await handle.close();
  }
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return dedupeHeaders(fields);
}

/**
 * Read one raw file into `table` (replacing it): its columns under their raw names, all as the
 * reader types them (delimited files as text), plus ROW_COLUMN. A file DuckDB cannot read fails
 * with an IngestError naming the file and, where DuckDB says, the line.
 */
export async function readRawFile(connection: DuckDBConnection, file: string, format: RawFormat, table: string, options: { typed?: boolean } = {}): Promise<string[]> {
  if ((await stat(file)).size === 0) throw new IngestError(file, 'is empty: no header and no rows');
  let reader: string;
  let columns: string[] | undefined;
  if (format === 'csv' || format === 'tsv') {
    const delimiter = format === 'csv' ? ',' : '\t';
    columns = await readHeader(file, delimiter);
    const typedOrText = options.typed
      ? `auto_detect = true, header = true, delim = ${quoteLiteral(delimiter)}, quote = '"', escape = '"', names = [${columns.map(quoteLiteral).join(', ')}]`
      : `auto_detect = false, header = true, delim = ${quoteLiteral(delimiter)}, quote = '"', escape = '"', strict_mode = true, null_padding = false, ` +
        `columns = {${columns.map((c, i) => `${quoteLiteral(`c${i}`)}: 'VARCHAR'`).join(', ')}}`;
    reader = `read_csv(${quoteLiteral(file)}, ${typedOrText})`;
    const select = options.typed ? '*' : columns.map((c, i) => `c${i} AS ${quoteIdent(c)}`).join(', ');
    reader = `(SELECT ${select} FROM ${reader})`;
  } else if (format === 'json' || format === 'ndjson') {
    reader = `read_json(${quoteLiteral(file)}, format = ${format === 'json' ? "'auto'" : "'newline_delimited'"})`;
  } else {
    reader = `read_parquet(${quoteLiteral(file)})`;
  }
  try {
    // One thread keeps the rows in file order, so row numbers are the file's.
    await connection.run(`SET threads = 1`);
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${quoteIdent(table)} AS SELECT row_number() OVER () AS ${ROW_COLUMN}, * FROM ${reader}`);
  } catch (err) {
    throw new IngestError(file, readerProblem(errorMessage(err)));
  }
  const described = await queryRows(connection, `DESCRIBE ${quoteIdent(table)}`);
  return described.map((r) => String(r.column_name)).filter((c) => c !== ROW_COLUMN);
}

/** DuckDB's reader error, cut to what a person needs: the line and what is wrong there. */
function readerProblem(message: string): string {
  const line = /CSV Error on Line: (\d+)/.exec(message);
  const lines = message.split('\n').map((l) => l.trim());
  const expected = lines.find((l) => l.startsWith('Expected Number of Columns'));
  if (line && expected) return `line ${line[1]}: ${expected.replace('Expected Number of Columns: ', 'expected ').replace(' Found: ', ' fields, found ')} (a ragged row)`;
  if (line && /Invalid unicode/.test(message)) return `line ${line[1]}: is not UTF-8 text: save the file as UTF-8`;
  if (line) return `line ${line[1]}: ${lines.find((l) => l && !l.startsWith('Invalid Input Error') && !l.startsWith('Original Line')) ?? lines[0]}`;
  return lines.slice(0, 2).join(' ');
}
