// Running exported models with onnxruntime-node: turning a ColumnTable into the graph's
// per-feature [N,1] inputs and reading the named output back.
import * as ort from 'onnxruntime-node';
import type { ColumnTable } from '../ml/table.js';

export type InferenceSession = ort.InferenceSession;

export async function loadSession(modelBytesOrPath: string | Uint8Array, threads = 1): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1 };
  return typeof modelBytesOrPath === 'string'
    ? ort.InferenceSession.create(modelBytesOrPath, options)
    : ort.InferenceSession.create(modelBytesOrPath, options);
}

/** A column as onnxruntime takes it: numbers as float32, categories as their strings. */
interface FeedColumn {
  readonly name: string;
  readonly values: Float32Array | string[];
}

function feedColumns(table: ColumnTable): FeedColumn[] {
  return table.columns.map((col) =>
    col.kind === 'numeric'
      ? { name: col.name, values: col.values }
      : // Missing categories become '', which no model has as a key: it takes the "other" branch.
        { name: col.name, values: Array.from(col.codes, (c) => (c >= 0 ? col.dictionary[c]! : '')) },
  );
}

/** Rows [start, end) of a column as an [N,1] tensor. */
function tensorOf(col: FeedColumn, start: number, end: number): ort.Tensor {
  return col.values instanceof Float32Array
    ? new ort.Tensor('float32', col.values.subarray(start, end), [end - start, 1])
    : new ort.Tensor('string', col.values.slice(start, end), [end - start, 1]);
}

/** The columns the session takes, one per input, in its input order. */
function inputColumns(session: ort.InferenceSession, table: ColumnTable): FeedColumn[] {
  const columns = feedColumns(table);
  return session.inputNames.map((name) => {
    const col = columns.find((c) => c.name === name);
    if (!col) throw new Error(`model input '${name}' has no matching feature column`);
    return col;
  });
}

/** Rows [start, end) of the session's input columns, as its feeds. */
function feedsOf(inputs: readonly FeedColumn[], start: number, end: number): Record<string, ort.Tensor> {
  return Object.fromEntries(inputs.map((c) => [c.name, tensorOf(c, start, end)]));
}

export function toFeeds(table: ColumnTable): Record<string, ort.Tensor> {
  return feedsOf(feedColumns(table), 0, table.rows);
}

async function run(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, output: string): Promise<Float32Array> {
  const out = await session.run(feeds);
  const values = out[output];
  if (!values) throw new Error(`model has no '${output}' output (it has: ${session.outputNames.join(', ')})`);
  return values.data as Float32Array;
}

/**
 * The model's `output` for every row, row-major [rows x width]. `session.run` is native and
 * blocks the event loop while it runs: keep batches bounded.
 */
export function runModel(session: ort.InferenceSession, table: ColumnTable, output: string): Promise<Float32Array> {
  return run(session, feedsOf(inputColumns(session, table), 0, table.rows), output);
}

/**
 * Rows per onnxruntime call when scoring many. Below 50 rows onnxruntime walks every tree for
 * one row before the next; from 50 on it walks each tree over blocks of 128 rows. An exported
 * row is wide (one 0/1 column per category set, ~14,000 for flight_delay: ml/onnx/tree-ensemble.ts),
 * so only the first keeps the row in cache: 21 us a flight at 16 to 48 rows, 38 at 256 and more.
 */
export const ROWS_PER_RUN = 48;

/** onnxruntime calls made in one turn of the event loop when scoring many rows (about 20 ms of work). */
const CALLS_PER_TURN = 20;

/** How often a long scoring loop reports progress and lets the event loop run. */
const PROGRESS_EVERY_MS = 50;

/**
 * Score rows [0, rows) in bounded batches with `score(start, end)` (the trainer's predict on a
 * slice, or a session), yielding to the event loop between them (so heartbeats and polls go
 * through) and reporting rows done: row-major [rows x width].
 */
export async function inBatches(
  rows: number,
  width: number,
  score: (start: number, end: number) => ArrayLike<number> | Promise<ArrayLike<number>>,
  onRows?: (rowsDone: number) => void,
  batchRows = ROWS_PER_RUN,
): Promise<Float64Array> {
  const scores = new Float64Array(rows * width);
  let reported = performance.now();
  for (let start = 0; start < rows; start += batchRows) {
    const end = Math.min(rows, start + batchRows);
    scores.set(await score(start, end), start * width);
    if (end === rows || performance.now() - reported >= PROGRESS_EVERY_MS) {
      onRows?.(end);
      await new Promise((r) => setImmediate(r));
      reported = performance.now();
    }
  }
  return scores;
}

/** The model's `output` for every row of a table of any size, through `inBatches`. */
export function scoreInBatches(
  session: ort.InferenceSession,
  table: ColumnTable,
  output: string,
  width: number,
  onRows?: (rowsDone: number) => void,
  batchRows = ROWS_PER_RUN,
): Promise<Float64Array> {
  const inputs = inputColumns(session, table); // categories turned into strings once, not once a batch
  return inBatches(
    table.rows,
    width,
    async (start, end) => {
      // onnxruntime-node starts every run() from a setImmediate. Calls made together run one
      // after the other in the same turn of the event loop; awaited one by one, each would
      // wait for a whole turn, which on a busy loop (the worker's, among other activities)
      // costs milliseconds per 48 rows.
      const calls: Promise<Float32Array>[] = [];
      for (let s = start; s < end; s += batchRows) calls.push(run(session, feedsOf(inputs, s, Math.min(end, s + batchRows)), output));
      const out = new Float32Array((end - start) * width);
      (await Promise.all(calls)).forEach((part, i) => out.set(part, i * batchRows * width));
      return out;
    },
    onRows,
    batchRows * CALLS_PER_TURN,
  );
}
