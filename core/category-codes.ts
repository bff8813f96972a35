// Dictionary codes for DuckDB VARCHAR columns, and FLOAT columns as float32 arrays, read
// straight from the vectors' memory.
//
// Reading a category through @duckdb/node-api's getItem() decodes each value into a new JS
// string (a Uint8Array view and a TextDecoder call per value) before it can be looked up:
// about 200 ms of the 250 ms it took to read one week of flights' features (116,000 rows,
// 5 categorical columns), which the batch scoring of every partition paid. Categories are
// short and repeat. DuckDB stores a string of up to 12 bytes inside its 16-byte slot,
// zero-padded, so such a value is identified by its length and three 32-bit words, and only
// a category's first appearance is decoded. The chunks come from @duckdb/node-api and are read
// with the C API wrapper it is built on: package.json pins both to one version, so they are
// one native module.
import duckdb from '@duckdb/node-bindings';
import type { DuckDBDataChunk } from '@duckdb/node-api';

/** DuckDB's string_t: 4 bytes of length, then 12 bytes inline or 4 of prefix and a pointer. */
const SLOT_BYTES = 16;
const INLINE_BYTES = 12;
/** DuckDB writes lengths in the machine's byte order. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const decoder = new TextDecoder();

/** A vector's validity mask (a bit per row, 0 for NULL), or null when no row is NULL. */
function validityOf(vector: duckdb.Vector, rows: number): Uint8Array | null {
  return duckdb.vector_get_validity(vector, Math.ceil(rows / 64) * 8);
}

function isNull(validity: Uint8Array | null, row: number): boolean {
  return validity !== null && ((validity[row >> 3]! >> (row & 7)) & 1) === 0;
}

/**
 * The `rows` values of FLOAT column `column` of `chunk` (a result's chunk: flat vectors), NULL as
 * NaN: one copy instead of a getItem() call per value, which took about 10 of the 65 ms that
 * reading a week of flights' features for batch scoring took.
 */
export function copyFloats(chunk: DuckDBDataChunk, column: number, rows: number): Float32Array {
  const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
  const data = duckdb.vector_get_data(vector, rows * Float32Array.BYTES_PER_ELEMENT);
  const out = new Float32Array(rows);
  out.set(new Float32Array(data.buffer, data.byteOffset, rows));
  const validity = validityOf(vector, rows);
  if (validity) {
    for (let i = 0; i < rows; i++) if (isNull(validity, i)) out[i] = Number.NaN;
  }
  return out;
}

/** Codes in order of first appearance; `dictionary[code]` is the category. */
export class CategoryCoder {
  readonly dictionary: string[] = [];
  /** Inline values of up to 4 bytes, by `first word * 16 + length`. */
  private readonly upTo4 = new Map<number, number>();
  /** Inline values of 5 to 12 bytes, by `first word * 16 + length`, then the second and third words. */
  private readonly upTo12 = new Map<number, Map<number, Map<number, number>>>();
  /** Values over 12 bytes (stored behind a pointer), or every value of a non-VARCHAR column, by their text. */
  private readonly byText = new Map<string, number>();

  /**
   * Codes of the `rows` values of VARCHAR column `column` of `chunk` into `out` (NULL as -1).
   * The chunk must be one of a result's (flat vectors), as @duckdb/node-api itself assumes.
   */
  codeVarchar(chunk: DuckDBDataChunk, column: number, rows: number, out: Int32Array): void {
    const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
    const data = duckdb.vector_get_data(vector, rows * SLOT_BYTES);
    const validity = validityOf(vector, rows);
    const view = new DataView(data.buffer, data.byteOffset, rows * SLOT_BYTES);
    for (let i = 0; i < rows; i++) {
      if (isNull(validity, i)) {
        out[i] = -1;
        continue;
      }
      const at = i * SLOT_BYTES;
      const length = view.getUint32(at, LITTLE_ENDIAN);
      if (length > INLINE_BYTES) {
        out[i] = this.code(decoder.decode(duckdb.get_data_from_pointer(data.buffer as ArrayBuffer, data.byteOffset + at + 8, length)));
        continue;
      }
      const head = view.getUint32(at + 4, LITTLE_ENDIAN) * 16 + length;
      if (length <= 4) {
        out[i] = this.upTo4.get(head) ?? this.add(this.inline(data, at, length), (code) => this.upTo4.set(head, code));
        continue;
      }
      const second = view.getUint32(at + 8, LITTLE_ENDIAN);
      const third = view.getUint32(at + 12, LITTLE_ENDIAN);
      let bySecond = this.upTo12.get(head);
      if (!bySecond) this.upTo12.set(head, (bySecond = new Map()));
      let byThird = bySecond.get(second);
      if (!byThird) bySecond.set(second, (byThird = new Map()));
      const code = byThird.get(third);
      out[i] = code ?? this.add(this.inline(data, at, length), (c) => byThird.set(third, c));
    }
  }

  /** The code of a category given as text: a value over 12 bytes, or one of a column that is not VARCHAR. */
  code(text: string): number {
    return this.byText.get(text) ?? this.add(text, (code) => this.byText.set(text, code));
  }

  private inline(data: Uint8Array, at: number, length: number): string {
    return decoder.decode(data.subarray(at + 4, at + 4 + length));
  }

  private add(text: string, remember: (code: number) => void): number {
    const code = this.dictionary.length;
    this.dictionary.push(text);
    remember(code);
    return code;
  }
}
