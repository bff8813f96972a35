// Runs in a pooled worker thread (activities/thread-activity.ts ThreadPool): scores one lake
// partition per job and writes its predictions. Everything heavy is here (DuckDB's feature
// query, onnxruntime's synchronous run(), the Parquet write), so the worker's event loop stays
// free for heartbeats while a big partition is scored. The thread keeps its DuckDB and the
// last model's session from one job to the next: a batch run's partitions share them.
//
// The output is written to the activity's local scratch file and checked to hold exactly as
// many rows as the input; the activity then stores it under its final key (storage/predictions.ts).
import { DuckDBDataChunk, FLOAT, type DuckDBFloatVector } from '@duckdb/node-api';
import { rm } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { openDuckDB, queryRows, quoteLiteral, readColumns, type ColumnRequest, type OpenDuckDB } from '../core/duckdb.js';
import { loadSession, scoreInBatches, type InferenceSession } from '../core/inference.js';
import type { StageSeconds } from '../core/types.js';

export interface ScoringJob {
  /** The registered ONNX file's bytes, already checked against its card. */
  readonly modelBytes: Uint8Array;
  /** Names those bytes (model, version, sha256): a thread reuses its session for the same key. */
  readonly modelKey: string;
  /** The ONNX output to read, and how many values it has per row. */
  readonly output: string;
  readonly width: number;
  /** onnxruntime intra-op threads. */
  readonly threads: number;
  /** The model's features over the partition's files, one row per input row, in file order. */
  readonly featuresSql: string;
  readonly features: readonly ColumnRequest[];
  /** SELECT of the output rows: the source rows POSITIONAL JOIN the `scores` table (s0..s{width-1}). */
  readonly outputSql: string;
  readonly expectedRows: number;
  /** Local file to write the output to. */
  readonly outputFile: string;
  readonly batchRows: number;
}

export type ScoringMessage =
  | { readonly type: 'progress'; readonly stage: string; readonly rows: number }
  | { readonly type: 'done'; readonly rowsOut: number; readonly stages: StageSeconds }
  /** The feature SQL is not one row per input row: nothing written, and retrying cannot help. */
  | { readonly type: 'done'; readonly rowsOut: null; readonly featureRows: number };

/** Rows per DuckDB data chunk when appending scores (DuckDB's vector size). */
const CHUNK_ROWS = 2048;

/** What a thread keeps between jobs. */
interface ThreadState {
  db?: OpenDuckDB;
  model?: { readonly key: string; readonly threads: number; readonly session: InferenceSession };
}

async function run(job: ScoringJob, post: (m: ScoringMessage) => void, state: ThreadState): Promise<void> {
  const db = (state.db ??= await openDuckDB({ threads: 1 }));
  if (state.model?.key !== job.modelKey || state.model.threads !== job.threads) {
    const previous = state.model;
    state.model = undefined;
    await previous?.session.release();
    state.model = { key: job.modelKey, threads: job.threads, session: await loadSession(job.modelBytes, job.threads) };
  }
  const session = state.model.session;
  try {
    post({ type: 'progress', stage: 'computing features', rows: 0 });
    const clock = stageClock();
    const table = await readColumns(await db.connection.stream(job.featuresSql), job.features);
    if (table.rows !== job.expectedRows) {
      post({ type: 'done', rowsOut: null, featureRows: table.rows });
      return;
    }
    const features = clock();
    const scores = await scoreInBatches(session, table, job.output, job.width, (rows) => post({ type: 'progress', stage: 'scoring', rows }), job.batchRows);
    const scoring = clock();
    post({ type: 'progress', stage: 'writing', rows: table.rows });
    const columns = Array.from({ length: job.width }, (_, k) => `s${k}`);
    await db.connection.run(`CREATE OR REPLACE TABLE scores (${columns.map((c) => `${c} FLOAT`).join(', ')})`);
    const appender = await db.connection.createAppender('scores');
    for (let start = 0; start < table.rows; start += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, table.rows - start);
      const chunk = DuckDBDataChunk.create(columns.map(() => FLOAT), n);
      for (let k = 0; k < job.width; k++) {
        const vector = chunk.getColumnVector(k) as DuckDBFloatVector;
        for (let i = 0; i < n; i++) vector.setItem(i, scores[(start + i) * job.width + k]!);
        vector.flush();
      }
      appender.appendDataChunk(chunk);
    }
    appender.closeSync();

    await db.connection.run(`COPY (${job.outputSql}) TO ${quoteLiteral(job.outputFile)} (FORMAT parquet, COMPRESSION zstd)`);
    const [written] = await queryRows(db.connection, `SELECT count(*)::BIGINT AS n FROM read_parquet(${quoteLiteral(job.outputFile)})`);
    const rowsOut = Number(written?.n);
    if (rowsOut !== job.expectedRows) {
      await rm(job.outputFile, { force: true });
      throw new Error(`wrote ${rowsOut} prediction rows for ${job.expectedRows} input rows; nothing was published`);
    }
    post({ type: 'done', rowsOut, stages: { features, scoring, writing: clock() } });
  } finally {
    await db.connection.run('DROP TABLE IF EXISTS scores');
  }
}

/** Seconds since the previous call (or since the clock was made). */
function stageClock(): () => number {
  let last = performance.now();
  return () => {
    const now = performance.now();
    const seconds = (now - last) / 1000;
    last = now;
    return seconds;
  };
}

if (parentPort) {
  const port = parentPort;
  const state: ThreadState = {};
  // One job at a time: the pool sends the next only after this one's answer.
  port.on('message', (m: { type: 'job'; input: ScoringJob }) => {
    run(m.input, (reply) => port.postMessage(reply), state).catch((err: unknown) =>
      port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : JSON.stringify(err) }),
    );
  });
}
