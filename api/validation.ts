// Checking a prediction request's raw fields against the dataset columns its spec declares.
// Every problem is reported, each naming its field; values are passed on as text and cast
// by DuckDB as bound parameters.
import { InvalidRequestError } from '../core/errors.js';
import { requestColumns, type ColumnType, type ModelSpec } from '../core/spec.js';

const MAX_TEXT = 64;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?)?$/;

function checkValue(type: ColumnType, value: string): string | undefined {
  switch (type) {
    case 'TIMESTAMP':
    case 'DATE': {
      const m = TIMESTAMP.exec(value);
      if (!m || (type === 'DATE' && m[4] !== undefined)) {
        return type === 'DATE' ? 'must be a date like 2001-06-12' : 'must be a date-time like 2001-06-12T08:30';
      }
      const [y, mo, d, h = '0', mi = '0', s = '0'] = m.slice(1).map((x) => x ?? '0');
      const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
      if (date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d)) return 'is not a calendar date';
      if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return 'has an invalid time of day';
      return undefined;
    }
    case 'BIGINT':
    case 'INTEGER': {
      if (!/^-?\d{1,15}$/.test(value)) return 'must be a whole number';
      if (type === 'INTEGER' && Math.abs(Number(value)) > 2_147_483_647) return 'is out of range';
      return undefined;
    }
    case 'DOUBLE':
    case 'FLOAT':
      return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value) && Number.isFinite(Number(value)) ? undefined : 'must be a number';
    case 'BOOLEAN':
      return value === 'true' || value === 'false' ? undefined : 'must be true or false';
    case 'VARCHAR':
      if (value.length === 0) return 'must not be empty';
      if (value.length > MAX_TEXT) return `must be at most ${MAX_TEXT} characters`;
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u001f\u007f]/.test(value)) return 'must not contain control characters';
      return undefined;
  }
}

/**
 * The request's raw values in the spec's request-column order. `fields` is every query
 * parameter except `model`; unknown and missing fields are errors too.
 */
export function parseRequestFields(spec: ModelSpec, fields: Readonly<Record<string, string | undefined>>): string[] {
  const columns = requestColumns(spec);
  const problems: { field: string; problem: string }[] = [];
  const values: string[] = [];
  for (const col of columns) {
    const raw = fields[col.name];
    if (raw === undefined) {
      problems.push({ field: col.name, problem: `is required (${col.type}${col.description ? `: ${col.description}` : ''})` });
      continue;
    }
    const value = raw.trim();
    const problem = checkValue(col.type, value);
    if (problem) problems.push({ field: col.name, problem });
    values.push(value);
  }
  const known = new Set(columns.map((c) => c.name));
  for (const name of Object.keys(fields)) {
    if (!known.has(name)) problems.push({ field: name, problem: `is not a field of this model (expected: ${[...known].join(', ')})` });
  }
  if (problems.length) throw new InvalidRequestError(problems);
  return values;
}
