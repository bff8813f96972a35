// Rows for `mlops predict`: read from a CSV, JSON (an array, or {"rows": [...]}) or NDJSON file
// (or stdin as '-'), and answers written as JSON or as CSV (the row's fields, then the version
// and the model's answer columns).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { Schemas } from '../client/index.js';

export type Row = Record<string, string | number | boolean | null>;

/** A problem with the input file, naming it (and the line or row); the CLI's usage exit code. */
export class RowsError extends Error {
  override readonly name = 'RowsError';
}

async function readInput(file: string): Promise<string> {
  if (file !== '-') return readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new RowsError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function checkedRow(value: unknown, where: string): Row {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RowsError(`${where}: must be an object of field values, like {"field": "value"}`);
  for (const [field, v] of Object.entries(value)) {
    if (v !== null && !['string', 'number', 'boolean'].includes(typeof v)) throw new RowsError(`${where}: field '${field}' must be a string, number, boolean or null`);
  }
  return value as Row;
}

/** The rows of a file, by its extension (.csv, .tsv, .json, .ndjson, .jsonl), or by its first character for stdin. */
export async function readRows(file: string): Promise<Row[]> {
  const text = await readInput(file);
  const name = file === '-' ? 'stdin' : file;
  const ext = path.extname(file).toLowerCase();
  const json = ext === '.json' || (file === '-' && /^\s*[[{]/.test(text) && !/^\s*\{[^\n]*\}\s*\n\s*\{/.test(text));
  const ndjson = ext === '.ndjson' || ext === '.jsonl' || (file === '-' && !json && /^\s*\{/.test(text));
  let rows: Row[];
  if (json) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new RowsError(`${name} is not JSON: ${(err as Error).message}`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { rows?: unknown } | null)?.rows;
    if (!Array.isArray(list)) throw new RowsError(`${name}: must be an array of rows or {"rows": [...]}`);
    rows = list.map((r, i) => checkedRow(r, `${name} row ${i + 1}`));
  } else if (ndjson) {
    rows = text.split('\n').flatMap((line, i) => {
      if (!line.trim()) return [];
      try {
        return [checkedRow(JSON.parse(line), `${name} line ${i + 1}`)];
      } catch (err) {
        throw err instanceof RowsError ? err : new RowsError(`${name} line ${i + 1} is not JSON: ${(err as Error).message}`);
      }
    });
  } else if (ext === '.csv' || ext === '.tsv' || file === '-') {
    try {
      // Empty cells are missing values (null), as the API reads them for nullable columns.
      rows = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true, delimiter: ext === '.tsv' ? '\t' : ',', cast: (v) => (v === '' ? null : v) }) as Row[];
    } catch (err) {
      throw new RowsError(`${name} is not CSV: ${(err as Error).message}`);
    }
  } else {
    throw new RowsError(`${name}: unknown file type '${ext || '(none)'}' (use .csv, .tsv, .json, .ndjson or .jsonl)`);
  }
  if (rows.length === 0) throw new RowsError(`${name} holds no rows`);
  return rows;
}

type Answer = Schemas['Predictions']['predictions'][number];

/** The answer columns of a prediction, in a stable order: label, then probability, probabilities per class, or the prediction. */
function answerColumns(answer: Answer): [string, unknown][] {
  const cols: [string, unknown][] = [];
  if (answer.label !== undefined) cols.push(['label', answer.label]);
  if (answer.probability !== undefined) cols.push(['probability', answer.probability]);
  for (const [cls, p] of Object.entries(answer.probabilities ?? {})) cols.push([`probability_${cls}`, p]);
  if (answer.prediction !== undefined) cols.push(['prediction', answer.prediction]);
  return cols;
}

/** CSV of the rows and their answers: each row's fields, `version`, then the answer's columns. */
export function answersCsv(rows: readonly Row[], answers: readonly { version: number; answer: Answer }[]): string {
  const fieldNames = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const answerNames = [...new Set(answers.flatMap((a) => answerColumns(a.answer).map(([k]) => k)))];
  const header = [...fieldNames, 'version', ...answerNames];
  const records = rows.map((row, i) => {
    const a = answers[i]!;
    const byName = new Map(answerColumns(a.answer));
    return [...fieldNames.map((f) => row[f] ?? ''), a.version, ...answerNames.map((n) => byName.get(n) ?? '')];
  });
  return stringify([header, ...records]);
}
