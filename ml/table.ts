// Column-oriented input for the trainer: numbers as float32 (what ONNX sees), strings
// dictionary-encoded. Readers (DuckDB, tests) produce this shape; ml/ never reads files.

export type Column =
  | { readonly name: string; readonly kind: 'numeric'; readonly values: Float32Array }
  | { readonly name: string; readonly kind: 'categorical'; readonly codes: Int32Array; readonly dictionary: readonly string[] };

export interface ColumnTable {
  readonly rows: number;
  readonly columns: readonly Column[];
}

/** A table with one 0/1 label per row (NaN where unknown). */
export interface LabeledTable {
  readonly features: ColumnTable;
  readonly labels: Float32Array;
}

/** Rows [start, end) of a table, sharing the underlying buffers. */
export function sliceTable(table: ColumnTable, start: number, end: number): ColumnTable {
  return {
    rows: end - start,
    columns: table.columns.map((c) =>
      c.kind === 'numeric' ? { ...c, values: c.values.subarray(start, end) } : { ...c, codes: c.codes.subarray(start, end) },
    ),
  };
}

/** `count` rows spread evenly over the table (all of them when it has no more), in order. */
export function spreadRows(table: ColumnTable, count: number): ColumnTable {
  if (table.rows <= count) return table;
  const picked = Int32Array.from({ length: count }, (_, i) => Math.floor((i * table.rows) / count));
  return {
    rows: count,
    columns: table.columns.map((c) =>
      c.kind === 'numeric' ? { ...c, values: Float32Array.from(picked, (r) => c.values[r]!) } : { ...c, codes: Int32Array.from(picked, (r) => c.codes[r]!) },
    ),
  };
}
