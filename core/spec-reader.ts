// Small readers for spec files: each checks one value and, when it is wrong, throws an
// InvalidSpecError that names the file and the field.
import { InvalidSpecError } from './errors.js';

export class Reader {
  constructor(readonly file: string) {}
  fail(field: string, problem: string): never {
    throw new InvalidSpecError(this.file, field, problem);
  }
  object(v: unknown, field: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'must be an object');
    return v as Record<string, unknown>;
  }
  /** An object whose keys are all in `known`: a misspelt field is an error, not a silent default. */
  strictObject(v: unknown, field: string, known: readonly string[]): Record<string, unknown> {
    const o = this.object(v, field);
    for (const key of Object.keys(o)) {
      if (!known.includes(key)) this.fail(`${field}.${key}`, `is not a field of ${field} (known: ${known.join(', ')})`);
    }
    return o;
  }
  string(v: unknown, field: string): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(field, 'must be a non-empty string');
    return v;
  }
  number(v: unknown, field: string, min: number, max = Number.POSITIVE_INFINITY): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      this.fail(field, `must be a number in [${min}, ${max}]`);
    }
    return v;
  }
  integer(v: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const n = this.number(v, field, min, max);
    if (!Number.isInteger(n)) this.fail(field, 'must be an integer');
    return n;
  }
  boolean(v: unknown, field: string): boolean {
    if (typeof v !== 'boolean') this.fail(field, 'must be true or false');
    return v;
  }
  oneOf<T extends string>(v: unknown, field: string, options: readonly T[]): T {
    if (typeof v !== 'string' || !options.includes(v as T)) this.fail(field, `must be one of ${options.join(', ')}`);
    return v as T;
  }
  array(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v) || v.length === 0) this.fail(field, 'must be a non-empty array');
    return v;
  }
}
