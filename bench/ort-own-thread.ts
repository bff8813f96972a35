// A worker thread of bench/batch.ts: onnxruntime's own throughput on pre-built inputs. The
// features are read and every input tensor is built before the clock starts; the clock then
// times session.run() alone, batch after batch, as bare onnxruntime would be used.
import { parentPort, workerData } from 'node:worker_threads';
import { openDuckDB, readColumns, type ColumnRequest } from '../core/duckdb.js';
import { loadSession, toFeeds } from '../core/inference.js';
import { sliceTable } from '../ml/table.js';

export interface OrtOwnJob {
  readonly modelFile: string;
  readonly threads: number;
  readonly featureQueries: readonly string[];
  readonly features: readonly ColumnRequest[];
  readonly batchRows: number;
}

export type OrtOwnMessage = { type: 'ready'; rows: number } | { type: 'done'; rows: number; ms: number };

async function main(job: OrtOwnJob, port: NonNullable<typeof parentPort>): Promise<void> {
  const db = await openDuckDB({ threads: 1 });
  const session = await loadSession(job.modelFile, job.threads);
  const batches = [];
  let rows = 0;
  for (const sql of job.featureQueries) {
    const table = await readColumns(await db.connection.stream(sql), job.features);
    for (let start = 0; start < table.rows; start += job.batchRows) {
      batches.push(toFeeds(sliceTable(table, start, Math.min(table.rows, start + job.batchRows))));
    }
    rows += table.rows;
  }
  db.close();
  port.postMessage({ type: 'ready', rows } satisfies OrtOwnMessage);
  await new Promise((resolve) => port.once('message', resolve)); // "go": every thread starts together
  const started = performance.now();
  for (const feeds of batches) await session.run(feeds);
  port.postMessage({ type: 'done', rows, ms: performance.now() - started } satisfies OrtOwnMessage);
  await session.release();
}

if (parentPort) {
  const port = parentPort;
  main((workerData as { input: OrtOwnJob }).input, port).catch((err: unknown) => {
    setImmediate(() => {
      throw err;
    });
  });
}
