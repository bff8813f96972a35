// Building the worker: workflows bundled from workflows/index.ts, activities built from their
// dependencies, on two task queues: the main one (workflows and every light activity) and its
// training queue (`<main>-training`: trainModel only, CPU-heavy), so a deployment can run
// trainers on their own machines. One process may poll either queue or both (the default).
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { createActivities } from '../activities/index.js';
import type { Paths } from '../core/config.js';
import { siblingModule } from '../ml/threads.js';
import { trainingTaskQueue } from '../core/types.js';
import { classifyActivityFailures } from './failures.js';

/** The workflows' entry: its source under tsx, its compiled .js in the image. */
export const WORKFLOWS_PATH = fileURLToPath(siblingModule(new URL('../workflows/', import.meta.url).href, 'index'));

/** Which task queues this process polls. */
export type WorkerQueues = 'all' | 'main' | 'training';

export interface WorkerSetup {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly paths: Paths;
  readonly codeVersion: string;
  /** The main task queue; training goes to trainingTaskQueue(taskQueue). */
  readonly taskQueue: string;
  readonly queues?: WorkerQueues;
  /** A pre-built bundle (tests build it once per suite); otherwise workflows are bundled here. */
  readonly workflowBundle?: WorkerOptions['workflowBundle'];
  readonly identity?: string;
}

/** The workers of one process, run and stopped together. */
export interface WorkerSet {
  readonly taskQueues: readonly string[];
  /** Resolves once every worker has stopped (after shutdown(), SIGINT or SIGTERM). */
  run(): Promise<void>;
  shutdown(): void;
}

export async function createWorker(setup: WorkerSetup): Promise<WorkerSet> {
  const queues = setup.queues ?? 'all';
  const activities = createActivities({ paths: setup.paths, codeVersion: setup.codeVersion });
  const common = {
    connection: setup.connection,
    namespace: setup.namespace,
    activities,
    // Deterministic failures fail at once, transient ones retry (core/errors.ts classifyFailure).
    interceptors: { activity: [classifyActivityFailures] },
    ...(setup.identity ? { identity: setup.identity } : {}),
    // Give a running step time to finish on SIGTERM instead of cancelling it at once (the default is 0).
    shutdownGraceTime: '10s',
    // Heartbeat details carry progress: send them at most every 2 s (instead of 0.8 x
    // heartbeatTimeout) so the UI's Pending Activities view stays current.
    maxHeartbeatThrottleInterval: '2s',
  } satisfies Partial<WorkerOptions>;
  const workers: Worker[] = [];
  if (queues !== 'training') {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: setup.taskQueue,
        ...(setup.workflowBundle ? { workflowBundle: setup.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
        // Scoring, evaluation and drift run in threads of their own; a few at once fit 2 cores.
        maxConcurrentActivityTaskExecutions: 4,
      }),
    );
  }
  if (queues !== 'main') {
    // Each training uses every core it is given (the trainer's own threads): two at once at most.
    workers.push(await Worker.create({ ...common, taskQueue: trainingTaskQueue(setup.taskQueue), maxConcurrentActivityTaskExecutions: 2 }));
  }
  return {
    taskQueues: workers.map((w) => w.options.taskQueue),
    run: async () => {
      await Promise.all(workers.map((w) => w.run()));
    },
    shutdown: () => workers.forEach((w) => w.shutdown()),
  };
}
