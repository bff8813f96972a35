// The worker process: connects to Temporal and runs workflows and activities until SIGINT/SIGTERM.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogEntry } from '@temporalio/worker';
import { ensureStateDir, resolvePaths, temporalSettings, type TemporalSettings } from '../core/config.js';
import { hostPortSetting, logLevelSetting, wholeNumberSetting } from '../core/env.js';
import { errorMessage, MlopsError } from '../core/errors.js';
import { ensureSchedules } from '../runs/schedules.js';
import { SpecWatcher, type SpecSet } from './spec-watch.js';
import { codeVersion } from './code-version.js';
import { openStorage } from '../storage/index.js';
import { createWorker, type WorkerQueues } from './worker.js';

const ACTIVITIES_ONLY_WARNING = 'No workflows registered, not polling for workflow tasks';

/** One JSON line per log entry: readable in a terminal, parseable by a log shipper. */
function jsonLine(entry: LogEntry): void {
  const { sdkComponent, taskQueue, ...meta } = entry.meta ?? {};
  void sdkComponent;
  void taskQueue;
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const fields = Object.fromEntries(
    Object.entries(meta).map(([k, v]) => [k, v instanceof Error ? { type: v.name, message: v.message } : v]),
  );
  // The training task queue runs activities only, by design: the SDK's warning about it would
  // send newcomers looking for a fault, so it is logged as information with the reason.
  const expected = entry.message.startsWith(ACTIVITIES_ONLY_WARNING);
  const level = expected ? 'INFO' : entry.level;
  const line = JSON.stringify({
    time,
    level: level.toLowerCase(),
    message: entry.message.split('\n')[0],
    ...fields,
    ...(expected ? { note: 'expected: this worker polls the training task queue for activities only' } : {}),
  });
  (level === 'ERROR' || level === 'WARN' ? process.stderr : process.stdout).write(`${line}\n`);
}

/**
 * The weekly train, batch and monitor schedules of every spec, created, updated in place or
 * deleted to match the specs (idempotent: every worker does it). A spec that does not load is
 * reported, and its schedules are kept as they were until it loads again.
 */
async function reconcileSchedules(temporal: TemporalSettings, set: SpecSet): Promise<void> {
  for (const { name, error } of set.broken) console.error(`worker: spec '${name}' does not load, its schedules stay as they were: ${error}`);
  const connection = await Connection.connect({ address: temporal.address });
  try {
    const changes = await ensureSchedules(new Client({ connection, namespace: temporal.namespace }), set.specs, temporal.taskQueue, set.broken.map((b) => b.name));
    console.log(`worker: schedules ${JSON.stringify(changes)}`);
  } finally {
    await connection.close();
  }
}

function workerQueues(raw: string | undefined): WorkerQueues {
  if (raw === undefined || raw === '' || raw === 'all' || raw === 'main' || raw === 'training') return (raw || 'all') as WorkerQueues;
  throw new Error(`MLOPS_WORKER_QUEUES=${raw}: must be all, main or training`);
}

async function main(): Promise<void> {
  const metrics = hostPortSetting(process.env, 'MLOPS_WORKER_METRICS');
  const level = logLevelSetting(process.env);
  Runtime.install({
    logger: new DefaultLogger(level.toUpperCase() as Uppercase<typeof level>, jsonLine),
    // Temporal's own worker metrics (task latency, slots, polls, activity and workflow outcomes) for Prometheus.
    ...(metrics ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metrics } } } } : {}),
  });
  const temporal = temporalSettings();
  const paths = resolvePaths();
  ensureStateDir(paths);
  const queues = workerQueues(process.env.MLOPS_WORKER_QUEUES);
  const connection = await NativeConnection.connect({ address: temporal.address });
  try {
    const worker = await createWorker({
      connection,
      namespace: temporal.namespace,
      taskQueue: temporal.taskQueue,
      queues,
      paths,
      codeVersion: codeVersion(),
    });
    console.log(`worker: polling ${worker.taskQueues.map((q) => `'${q}'`).join(' and ')} on ${temporal.address} (state: ${openStorage(paths).location}${metrics ? `; metrics: http://${metrics}/metrics` : ''})`);
    const running = worker.run(); // settles after SIGINT/SIGTERM once in-flight tasks have drained
    // The main queue's workers own the schedules; trainers leave them alone. If that fails, the
    // worker drains and stops first, so the error reported is this one, not the connection's.
    if (process.env.MLOPS_SCHEDULES !== 'off' && queues !== 'training') {
      const watcher = new SpecWatcher(paths, (set) => reconcileSchedules(temporal, set));
      try {
        await watcher.check();
      } catch (err) {
        worker.shutdown();
        await running.catch(() => undefined);
        throw err;
      }
      // Specs added, edited or removed while the worker runs get their schedules without a restart.
      const every = wholeNumberSetting(process.env, 'MLOPS_SPEC_POLL_SECONDS', 10, 1, 3600) * 1000;
      const timer = setInterval(() => {
        watcher.check().catch((err: unknown) => console.error(`worker: schedules not reconciled: ${errorMessage(err)}`));
      }, every);
      running.finally(() => clearInterval(timer)).catch(() => undefined);
    }
    await running;
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  // A setting or spec error says all there is to say; anything else keeps its stack.
  console.error('worker failed:', err instanceof MlopsError ? err.message : err);
  process.exit(1);
});
