// Request and response schemas (zod): they validate requests and they are what /openapi.json
// is generated from, so the documentation cannot drift from what the API accepts. Problems
// are reported field by field, every one at once.
import { z } from '@hono/zod-openapi';
import { InvalidRequestError } from '../core/errors.js';
import { isNumericType, isValidName, MODEL_NAME_PATTERN, requestColumns, type ColumnType, type DatasetColumn, type ModelSpec } from '../core/spec.js';

/** Every problem of a failed parse, each naming its field (unknown fields by name). */
export function problemsOf(error: z.ZodError, where?: string): { field: string; problem: string }[] {
  const out: { field: string; problem: string }[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: base ? `${base}.${key}` : key, problem: `is not a field of this request${where ? ` ${where}` : ''}` });
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      out.push({ field: base || '(body)', problem: issue.message.startsWith('is required') ? issue.message : 'is required' });
    } else {
      out.push({ field: base || '(body)', problem: issue.message });
    }
  }
  return out;
}

/** Parse or throw InvalidRequestError (HTTP 400) naming each bad field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, where?: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidRequestError(problemsOf(result.error, where));
  return result.data;
}

// ---- shared pieces ---------------------------------------------------------------------------

export const ErrorBody = z
  .object({
    error: z.object({
      type: z.string().openapi({ example: 'InvalidRequestError' }),
      message: z.string(),
      fields: z.array(z.object({ field: z.string(), problem: z.string() })).optional(),
      requestId: z.string().optional(),
    }),
  })
  .openapi('Error');

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request: every bad field is named',
  401: 'No token, or not a valid one',
  403: 'The token lacks the scope this route needs',
  404: 'Not found',
  409: 'Conflicts with what is running now',
  413: 'Body too large',
  422: 'A spec or dataset declaration is broken: the file and field are named',
  503: 'Unavailable: no champion, or Temporal unreachable',
};

/** The error responses a route documents. */
export function errors(...codes: (keyof typeof STATUS_TEXT)[]) {
  return Object.fromEntries(codes.map((code) => [code, { description: STATUS_TEXT[code]!, content: { 'application/json': { schema: ErrorBody } } }]));
}

/** A JSON response with a schema, for createRoute. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

export const modelName = z
  .string()
  .regex(MODEL_NAME_PATTERN, 'must be a model name: lower-case letters, digits and _ (see GET /models)')
  .openapi({ example: 'flight_delay' });

export const ModelParam = z.object({ name: modelName.openapi({ param: { name: 'name', in: 'path' } }) });

/** A version in a path: a positive whole number of at most nine digits. */
export const VERSION_PATTERN = /^[1-9][0-9]{0,8}$/;

export const version = z
  .string()
  .regex(VERSION_PATTERN, 'must be a positive whole number')
  .transform(Number)
  .openapi({ param: { name: 'version', in: 'path' }, example: '1', type: 'string' });

export const ModelVersionParams = z.object({ name: ModelParam.shape.name, version });

const text = (max: number, hint: string) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? `is required: ${hint}` : `must be a string (${hint})`) })
    .trim()
    .min(1, `must not be empty (${hint})`)
    .max(max, `must be at most ${max} characters (${hint})`)
    // eslint-disable-next-line no-control-regex
    .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters');

export const actor = (hint: string) => text(100, hint).openapi({ example: 'alice' });
export const reason = (hint: string) => text(500, hint).openapi({ example: 'checked the gate results' });

export const WhoAndWhy = z.object({ actor: actor('who decides'), reason: reason('why, recorded in the alias log') }).strict().openapi('Decision');

// ---- prediction requests ---------------------------------------------------------------------

const MAX_TEXT = 64;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?)?$/;

/** Why a raw value cannot be a column of this type, or undefined when it can. */
export function checkValue(type: ColumnType, value: string): string | undefined {
  switch (type) {
    case 'TIMESTAMP':
    case 'DATE': {
      const m = TIMESTAMP.exec(value);
      if (!m || (type === 'DATE' && m[4] !== undefined)) {
        return type === 'DATE' ? 'must be a date like 2001-06-12' : 'must be a date-time like 2001-06-12T08:30';
      }
      // A date alone would be read as midnight: a silent guess at the hour a model may use.
      if (type === 'TIMESTAMP' && m[4] === undefined) return 'needs a time of day: a date-time like 2001-06-12T08:30';
      const [y, mo, d, h = '0', mi = '0', s = '0'] = m.slice(1).map((x) => x ?? '0');
      const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
      if (date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d)) return 'is not a calendar date';
      if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return 'has an invalid time of day';
      return undefined;
    }
    case 'BIGINT':
    case 'INTEGER': {
      if (!/^-?\d{1,15}$/.test(value)) return 'must be a whole number of at most 15 digits';
      if (type === 'INTEGER' && Math.abs(Number(value)) > 2_147_483_647) return 'is out of range';
      return undefined;
    }
    case 'DOUBLE':
    case 'FLOAT':
      return /^-?\d{1,15}(\.\d{1,15})?([eE][-+]?\d{1,3})?$/.test(value) && Number.isFinite(Number(value)) ? undefined : 'must be a finite number';
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

const TYPE_HINT: Record<ColumnType, string> = {
  TIMESTAMP: 'date-time, e.g. 2001-06-12T08:30',
  DATE: 'date, e.g. 2001-06-12',
  BIGINT: 'whole number',
  INTEGER: 'whole number',
  DOUBLE: 'number',
  FLOAT: 'number',
  VARCHAR: `text of 1 to ${MAX_TEXT} characters`,
  BOOLEAN: 'true or false',
};

/** What the spec allows of a column beyond its type (min, max, pattern), in words. */
function constraintHint(col: DatasetColumn): string {
  const parts = [
    col.min !== undefined ? `at least ${col.min}` : '',
    col.max !== undefined ? `at most ${col.max}` : '',
    col.pattern !== undefined ? `matching ${col.pattern}` : '',
  ].filter(Boolean);
  return parts.length ? ` ${parts.join(', ')}` : '';
}

/** Why a raw value cannot be this column (its type, then the spec's min, max and pattern). */
export function columnValueChecker(col: DatasetColumn): (value: string) => string | undefined {
  const pattern = col.pattern === undefined ? undefined : new RegExp(col.pattern, 'u');
  return (value) => {
    const problem = checkValue(col.type, value);
    if (problem) return problem;
    if (col.min !== undefined && Number(value) < col.min) return `must be at least ${col.min}`;
    if (col.max !== undefined && Number(value) > col.max) return `must be at most ${col.max}`;
    if (pattern && !pattern.test(value)) return `must match ${col.pattern}`;
    return undefined;
  };
}

/** A column's documentation: its type, its constraints and its description. */
const columnHint = (col: DatasetColumn) => `${TYPE_HINT[col.type]}${constraintHint(col)}${col.description ? `: ${col.description}` : ''}`;

/**
 * One raw column of a prediction request, as text (query strings) or as JSON (numbers and
 * booleans allowed where the type is one). Either way the value goes to DuckDB as text, bound.
 */
export function columnSchema(col: DatasetColumn, jsonBody: boolean): z.ZodType<string> {
  const numeric = isNumericType(col.type);
  const base = jsonBody && numeric ? z.union([z.string(), z.number()]) : jsonBody && col.type === 'BOOLEAN' ? z.union([z.string(), z.boolean()]) : z.string();
  const check = columnValueChecker(col);
  return base
    .transform((v, ctx) => {
      const value = String(v).trim();
      const problem = check(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
      return value;
    })
    .openapi({
      type: 'string',
      description: columnHint(col),
      ...(col.pattern !== undefined ? { pattern: col.pattern } : {}),
      ...(col.example !== undefined ? { example: col.example } : {}),
    }) as unknown as z.ZodType<string>;
}

/**
 * A column a request may leave missing (declared nullable): null, an empty value or no field at
 * all stand for a missing value, which the model routes as training saw missing values routed.
 */
export function nullableColumnSchema(col: DatasetColumn, jsonBody: boolean): z.ZodType<string | null | undefined> {
  return z
    .preprocess((v) => (v === '' ? null : v), columnSchema(col, jsonBody).nullable().optional())
    .openapi({ description: `${columnHint(col)}; may be missing (null or left out)` }) as unknown as z.ZodType<string | null | undefined>;
}

/** The schema of one request column: required, or nullable when the dataset says it may be missing. */
export function requestColumnSchema(col: DatasetColumn, jsonBody: boolean): z.ZodType<string | null | undefined> {
  return col.nullable ? nullableColumnSchema(col, jsonBody) : columnSchema(col, jsonBody);
}

/** One row of raw fields for a model: exactly its request columns, no others. */
export function rowSchema(spec: ModelSpec, jsonBody: boolean) {
  return z.object(Object.fromEntries(requestColumns(spec).map((c) => [c.name, requestColumnSchema(c, jsonBody)]))).strict();
}

/** The query of GET /predict: the model, and every request column any declared model takes. */
export function predictQuerySchema(specs: readonly ModelSpec[]) {
  const columns = new Map<string, { col: DatasetColumn; models: string[] }>();
  for (const spec of specs) {
    for (const col of requestColumns(spec)) {
      const entry = columns.get(col.name) ?? { col, models: [] };
      entry.models.push(spec.name);
      columns.set(col.name, entry);
    }
  }
  const shape: Record<string, z.ZodType> = {
    model: modelName.openapi({ description: `the model to ask: ${specs.map((s) => s.name).join(', ')}` }),
    explain: explainParam,
  };
  for (const [name, { col, models }] of columns) {
    shape[name] = requestColumnSchema(col, false)
      .optional()
      .openapi({ description: `${columnHint(col)} (needed by ${models.join(', ')})` });
  }
  return z.object(shape).strict();
}

/** ?explain=true on GET and POST /predict. */
export const explainParam = z
  .enum(['true', 'false'])
  .optional()
  .openapi({ example: 'false', description: "true: each answer also carries each feature's TreeSHAP contribution to the raw score (exact for the served trees; expected + contributions = raw). Costs a few ms a row, in a thread of its own." });

/** The explain flag of a request (absent: false); anything but true or false is a 400 naming it. */
export function explainFlag(value: string | undefined): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw new InvalidRequestError([{ field: 'explain', problem: `must be true or false (got ${JSON.stringify(value)})` }]);
}

/** A model name from a request, checked before it is used anywhere. */
export function checkedModel(name: unknown): string {
  if (typeof name !== 'string' || !isValidName(name)) {
    throw new InvalidRequestError([{ field: 'model', problem: 'must be a model name: lower-case letters, digits and _ (see GET /models)' }]);
  }
  return name;
}
