// `npm run bench:batch`: BatchInferenceWorkflow scoring all 3,000,000 flights against
// onnxruntime's own throughput on the same model with the same threads, in one run.
//
//   onnxruntime alone: C threads, each with a session of T intra-op threads, run() over
//     input tensors built before the clock starts (the partitions split between them);
//   this project: BatchInferenceWorkflow on a real Temporal dev server and worker, every
//     partition through the model's feature SQL in DuckDB, onnxruntime and a Parquet write,
//     C partitions at a time with T threads each, timed from start to result.
//
// Options: --concurrency C (2)  --threads T (1)  --repeat N (5 workflow runs, onnxruntime alone before, between and after)
// The lake (all 26 weeks) and a trained flight_delay champion live in .state/bench/batch.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { resolvePaths } from '../core/config.js';
import { openDuckDB, parquetRowCounts, parquetSource } from '../core/duckdb.js';
import { featureColumns, featureQuery } from '../core/features.js';
import { ROWS_PER_RUN } from '../core/inference.js';
import { historySource, openLake } from '../storage/lake.js';
import { CHAMPION, openRegistry } from '../storage/registry.js';
import { loadSpec } from '../core/spec.js';
import type { ScoredPartition } from '../core/types.js';
import { bootstrapFlights, FLIGHTS_DATASET, FLIGHTS_PARTITION_KEY, releaseWeeks } from '../data/flights.js';
import { startThread } from '../ml/threads.js';
import { startDevServer } from '../worker/dev-server.js';
import { ensureTemporalCli } from '../worker/temporal-cli.js';
import { createWorker } from '../worker/worker.js';
import { WorkflowStarter } from '../runs/starter.js';
import type { OrtOwnJob, OrtOwnMessage } from './ort-own-thread.js';
import { option } from './options.js';

const MODEL = 'flight_delay';
const concurrency = Number(option('concurrency', '2'));
const threads = Number(option('threads', '1'));
const repeat = Number(option('repeat', '5'));
const main = resolvePaths();
const stateDir = path.join(main.stateDir, 'bench', 'batch');
const paths = { ...resolvePaths({ ...process.env, MLOPS_STATE_DIR: stateDir }), arrivalsDir: main.arrivalsDir };
const taskQueue = 'bench-batch';

/** onnxruntime alone: the partitions dealt to `concurrency` threads, all timed together. */
async function ortOwn(modelFile: string, queries: { sql: string; rows: number }[]): Promise<{ rows: number; seconds: number; threadSeconds: number }> {
  const loaded = await loadSpec(paths, MODEL);
  const groups: string[][] = Array.from({ length: concurrency }, () => []);
  const load = new Array<number>(concurrency).fill(0);
  for (const q of [...queries].sort((a, b) => b.rows - a.rows)) {
    const k = load.indexOf(Math.min(...load)); // biggest first to the least loaded: balanced halves
    groups[k]!.push(q.sql);
    load[k]! += q.rows;
  }
  const workers = groups.map((featureQueries) =>
    startThread(new URL('./ort-own-thread.ts', import.meta.url), {
      modelFile,
      threads,
      featureQueries,
      features: featureColumns(loaded.spec),
      batchRows: ROWS_PER_RUN, // as the scoring activity calls it
    } satisfies OrtOwnJob),
  );
  const next = (w: (typeof workers)[number]) =>
    new Promise<OrtOwnMessage>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  await Promise.all(workers.map(next)); // every tensor built
  const done = workers.map(next);
  const started = performance.now();
  for (const w of workers) w.postMessage('go');
  const results = (await Promise.all(done)) as Extract<OrtOwnMessage, { type: 'done' }>[];
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  return { rows: results.reduce((s, r) => s + r.rows, 0), seconds, threadSeconds: results.reduce((s, r) => s + r.ms / 1000, 0) };
}

async function run(): Promise<void> {
  const cpu = execFileSync('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2; nproc"], { encoding: 'utf8' }).trim().split('\n');
  console.log(`machine: ${cpu[0]?.trim()}, ${cpu[1]} cores; node ${process.version}; ${concurrency} partition(s) at a time x ${threads} onnxruntime thread(s)`);
  await bootstrapFlights(paths);
  await releaseWeeks(paths, 1_000);
  const lake = openLake(paths);
  const partitions = await Promise.all(
    (await lake.partitions(FLIGHTS_DATASET, FLIGHTS_PARTITION_KEY)).map(async (p) => ({ value: p.value, files: await lake.localFiles(p.files) })),
  );

  const cli = await ensureTemporalCli();
  const server = await startDevServer({ cli, dbFile: path.join(stateDir, 'temporal.db'), port: 17433, uiPort: 18433 });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const worker = await createWorker({ connection: nativeConnection, namespace: 'default', taskQueue, paths, codeVersion: 'bench' });
  const running = worker.run();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const starter = new WorkflowStarter(client, taskQueue);
  try {
    const registry = openRegistry(paths);
    if (!(await registry.getAlias(MODEL, CHAMPION))) {
      console.log(`training a ${MODEL} champion first (TrainModelWorkflow) ...`);
      const trained = await (await starter.train({ model: MODEL, reason: 'bench' }, `bench-train-${Date.now()}`)).result();
      console.log(`  v${trained.version}: ${trained.promotion.outcome}`);
    }
    const version = (await registry.getAlias(MODEL, CHAMPION))!.version;
    const loaded = await loadSpec(paths, MODEL);
    // Feature views from the lake's history up to each partition, as batch scoring reads them.
    const queries = await Promise.all(
      partitions.map(async (p) => ({ sql: featureQuery(loaded, parquetSource(p.files), false, await historySource(openLake(paths), loaded, [p.value])), rows: 0 })),
    );
    const db = await openDuckDB();
    const counts = await parquetRowCounts(db.connection, partitions.flatMap((p) => p.files));
    db.close();
    partitions.forEach((p, i) => (queries[i]!.rows = p.files.reduce((s, f) => s + (counts.get(f) ?? 0), 0)));

    // onnxruntime alone runs before the first workflow run, between runs and after the last:
    // each workflow run is compared with the mean of the two next to it, so a machine that
    // speeds up or slows down during the bench (this VM does, by up to a third) biases no side.
    const modelFile = await registry.modelFile(MODEL, version);
    const timeOwn = async () => {
      const own = await ortOwn(modelFile, queries);
      console.log(`onnxruntime alone: ${own.rows} rows in ${own.seconds.toFixed(1)} s (${own.threadSeconds.toFixed(1)} thread-seconds in run())`);
      return own;
    };
    let before = await timeOwn();
    const table: string[][] = [['run', 'onnxruntime alone before / after (rows/s)', 'BatchInferenceWorkflow (rows/s)', 'ratio']];
    const ratios: number[] = [];
    for (let r = 1; r <= repeat; r++) {
      await rm(paths.predictionsDir, { recursive: true, force: true });
      const started = performance.now();
      const run = await starter.batch(
        { model: MODEL, version, partitions: partitions.map((p) => p.value), concurrency, threads, reason: 'bench' },
        `bench-batch-${Date.now()}`,
      );
      const result = await run.result();
      const seconds = (performance.now() - started) / 1000;
      if (result.rowsOut !== before.rows || result.rowsIn !== before.rows) throw new Error(`rows differ: ${result.rowsIn} in, ${result.rowsOut} out, ${before.rows} scored alone`);
      console.log(`BatchInferenceWorkflow: ${result.rowsOut} rows in ${seconds.toFixed(1)} s (${result.partitions.length} partitions, v${version})`);
      // Where the lanes' time went: the activities' own seconds, and inside them the scoring threads' stages.
      const total = (f: (p: ScoredPartition) => number) => result.partitions.reduce((s, p) => s + f(p), 0).toFixed(1);
      console.log(
        `  lane seconds ${(concurrency * seconds).toFixed(1)}: activities ${total((p) => p.seconds)} = features ${total((p) => p.stages?.features ?? 0)}` +
          ` + onnxruntime ${total((p) => p.stages?.scoring ?? 0)} + writing ${total((p) => p.stages?.writing ?? 0)} + the rest`,
      );
      const after = await timeOwn();
      const alone = [before, after].map((o) => o.rows / o.seconds);
      const mean = (alone[0]! + alone[1]!) / 2;
      const ours = result.rowsOut / seconds;
      const ratio = ours / mean;
      ratios.push(ratio);
      table.push([String(r), alone.map((a) => Math.round(a)).join(' / '), `${Math.round(ours)} (${seconds.toFixed(1)} s)`, ratio.toFixed(3)]);
      before = after;
    }
    console.log(`\n${table.map((row, i) => `| ${row.join(' | ')} |${i === 0 ? `\n|${' --- |'.repeat(row.length)}` : ''}`).join('\n')}`);
    const median = [...ratios].sort((a, b) => a - b)[Math.floor((ratios.length - 1) / 2)]!;
    console.log(`\nmedian ratio ${median.toFixed(3)} over ${ratios.length} run(s) (target >= 0.8): ${median >= 0.8 ? 'MET' : 'NOT MET'}`);
  } finally {
    worker.shutdown();
    await running;
    await nativeConnection.close();
    await connection.close();
    await server.stop();
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
