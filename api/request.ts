// Reading JSON request bodies: bounded in size, an object, no unknown fields, and every
// problem reported at once, each naming its field.
import { InvalidRequestError } from '../core/errors.js';

const MAX_BODY_BYTES = 16 * 1024;

export async function readJsonBody(req: Request, example: string): Promise<Record<string, unknown>> {
  const length = Number(req.headers.get('content-length') ?? 0);
  if (length > MAX_BODY_BYTES) throw new InvalidRequestError([{ field: '(body)', problem: `is larger than ${MAX_BODY_BYTES} bytes` }]);
  const text = await req.text();
  if (text.length > MAX_BODY_BYTES) throw new InvalidRequestError([{ field: '(body)', problem: `is larger than ${MAX_BODY_BYTES} bytes` }]);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidRequestError([{ field: '(body)', problem: `must be a JSON object, e.g. ${example}` }]);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError([{ field: '(body)', problem: `must be a JSON object, e.g. ${example}` }]);
  }
  return body as Record<string, unknown>;
}

/** Typed fields of a JSON body; call done() to throw every problem found. */
export class BodyFields {
  private readonly problems: { field: string; problem: string }[] = [];

  constructor(private readonly body: Record<string, unknown>, allowed: readonly string[]) {
    for (const field of Object.keys(body)) {
      if (!allowed.includes(field)) this.problems.push({ field, problem: `is not a field of this request (expected: ${allowed.join(', ')})` });
    }
  }

  string(field: string, rule: { required: true; max: number; hint: string }): string;
  string(field: string, rule: { required: false; max: number; hint: string }): string | undefined;
  string(field: string, rule: { required: boolean; max: number; hint: string }): string | undefined {
    const v = this.body[field];
    if (v === undefined) {
      if (!rule.required) return undefined;
      this.problems.push({ field, problem: `is required: ${rule.hint}` });
      return '';
    }
    if (typeof v !== 'string' || v.trim().length === 0 || v.length > rule.max) {
      this.problems.push({ field, problem: `must be a non-empty string of at most ${rule.max} characters (${rule.hint})` });
      return '';
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(v)) this.problems.push({ field, problem: 'must not contain control characters' });
    return v;
  }

  /** A positive integer, e.g. a version number. */
  version(field: string, hint: string): number {
    const v = this.body[field];
    if (!Number.isSafeInteger(v) || (v as number) < 1) {
      this.problems.push({ field, problem: `${v === undefined ? 'is required' : 'must be a positive integer'}: ${hint}` });
      return 0;
    }
    return v as number;
  }

  done(): void {
    if (this.problems.length) throw new InvalidRequestError(this.problems);
  }
}

/** A version number from a path segment: digits only, no leading zero. */
export function parseVersion(raw: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(raw)) {
    throw new InvalidRequestError([{ field: 'version', problem: `must be a positive integer, got '${raw.slice(0, 20)}'` }]);
  }
  return Number(raw);
}
