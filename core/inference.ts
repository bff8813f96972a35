// Running exported models with onnxruntime-node: turning a ColumnTable into the graph's
// per-feature [N,1] inputs and reading the named output back.
import * as ort from 'onnxruntime-node';
import { sliceTable, type ColumnTable } from '../ml/table.js';

export type InferenceSession = ort.InferenceSession;

export async function loadSession(modelBytesOrPath: string | Uint8Array, threads = 1): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1 };
  return typeof modelBytesOrPath === 'string'
    ? ort.InferenceSession.create(modelBytesOrPath, options)
    : ort.InferenceSession.create(modelBytesOrPath, options);
}

export function toFeeds(table: ColumnTable): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const col of table.columns) {
    if (col.kind === 'numeric') {
      feeds[col.name] = new ort.Tensor('float32', col.values, [table.rows, 1]);
    } else {
      // Missing categories become '', which no model has as a key: it takes the "other" branch.
      const strings = Array.from(col.codes, (c) => (c >= 0 ? col.dictionary[c]! : ''));
      feeds[col.name] = new ort.Tensor('string', strings, [table.rows, 1]);
    }
  }
  return feeds;
}

/**
 * The model's `output` for every row, row-major [rows x width]. `session.run` is native and
 * blocks the event loop while it runs: keep batches bounded.
 */
export async function runModel(session: ort.InferenceSession, table: ColumnTable, output: string): Promise<Float32Array> {
  const feeds = toFeeds(table);
  const used: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    const t = feeds[name];
    if (!t) throw new Error(`model input '${name}' has no matching feature column`);
    used[name] = t;
  }
  const out = await session.run(used);
  const values = out[output];
  if (!values) throw new Error(`model has no '${output}' output (it has: ${session.outputNames.join(', ')})`);
  return values.data as Float32Array;
}

/**
 * Score a whole table in bounded batches with `score` (the trainer's predict, or a session),
 * yielding to the event loop between them (so heartbeats and polls go through) and reporting
 * rows done: row-major [rows x width].
 */
export async function inBatches(
  table: ColumnTable,
  width: number,
  score: (batch: ColumnTable) => ArrayLike<number> | Promise<ArrayLike<number>>,
  onRows?: (rowsDone: number) => void,
  batchRows = 5_000,
): Promise<Float64Array> {
  const scores = new Float64Array(table.rows * width);
  for (let start = 0; start < table.rows; start += batchRows) {
    const end = Math.min(table.rows, start + batchRows);
    scores.set(await score(sliceTable(table, start, end)), start * width);
    onRows?.(end);
    await new Promise((r) => setImmediate(r));
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
): Promise<Float64Array> {
  return inBatches(table, width, (batch) => runModel(session, batch, output), onRows);
}
