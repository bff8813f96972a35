// Building the worker: one task queue, workflows bundled from workflows/index.ts, activities
// built from their dependencies. Used by worker/main.ts and by the integration tests.
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { createActivities } from '../activities/index.js';
import type { Paths } from '../core/config.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkerSetup {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly paths: Paths;
  readonly codeVersion: string;
  readonly taskQueue: string;
  /** A pre-built bundle (tests build it once per suite); otherwise workflows are bundled here. */
  readonly workflowBundle?: WorkerOptions['workflowBundle'];
  readonly identity?: string;
}

export async function createWorker(setup: WorkerSetup): Promise<Worker> {
  return Worker.create({
    connection: setup.connection,
    namespace: setup.namespace,
    taskQueue: setup.taskQueue,
    ...(setup.workflowBundle ? { workflowBundle: setup.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities({ paths: setup.paths, codeVersion: setup.codeVersion }),
    ...(setup.identity ? { identity: setup.identity } : {}),
    // Give a running step time to finish on SIGTERM instead of cancelling it at once (the default is 0).
    shutdownGraceTime: '10s',
    // Heartbeat details carry training progress: send them at most every 2 s (instead of
    // 0.8 x heartbeatTimeout) so the UI's Pending Activities view stays current.
    maxHeartbeatThrottleInterval: '2s',
    // Training runs in its own thread; two at once is all 2 cores can hold.
    maxConcurrentActivityTaskExecutions: 4,
  });
}
