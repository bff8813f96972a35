// Running an activity's CPU-heavy work in a worker thread: the worker's event loop stays free
// for heartbeats, polling and cancellation (Temporal runs them all on that one loop).
import { Context } from '@temporalio/activity';
import type { Worker } from 'node:worker_threads';
import { startThread } from '../ml/threads.js';

/** Heartbeats go out at most this often (the worker throttles them to 2 s as well). */
const HEARTBEAT_EVERY_MS = 2_000;

export interface ThreadActivityOptions<M extends { readonly type: string }> {
  /** Every message but the final `{type: 'done'}` one. */
  onMessage(message: Exclude<M, { type: 'done' }>): void;
  /** The heartbeat details to send now: the progress the UI shows under Pending Activities. */
  details(): unknown;
}

/**
 * Wait for `worker`'s `{type: 'done'}` message (calling `start` once it is listened for),
 * heartbeating meanwhile; the thread is terminated when the activity is cancelled.
 */
async function untilDone<M extends { readonly type: string }>(
  worker: Worker,
  module: URL,
  options: ThreadActivityOptions<M>,
  start?: () => void,
): Promise<Extract<M, { type: 'done' }>> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(options.details()), HEARTBEAT_EVERY_MS);
  const onCancel = () => void worker.terminate();
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  try {
    return await new Promise<Extract<M, { type: 'done' }>>((resolve, reject) => {
      worker.on('message', (m: M | { type: 'failed'; message: string }) => {
        if (m.type === 'done') resolve(m as Extract<M, { type: 'done' }>);
        else if (m.type === 'failed') reject(new Error((m as { message: string }).message));
        else options.onMessage(m as Exclude<M, { type: 'done' }>);
      });
      worker.on('error', reject);
      worker.on('exit', (code) => {
        if (ctx.cancellationSignal.aborted) reject(ctx.cancellationSignal.reason);
        else reject(new Error(`thread ${module.pathname.split('/').pop()} exited with code ${code} before finishing`));
      });
      start?.();
    });
  } finally {
    clearInterval(beat);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
  }
}

/**
 * Run `module` in a worker thread with `input` and resolve with its `{type: 'done'}` message.
 * The thread is terminated when the activity is cancelled or the call ends, whatever the outcome.
 */
export async function runInThread<M extends { readonly type: string }>(
  module: URL,
  input: unknown,
  options: ThreadActivityOptions<M>,
): Promise<Extract<M, { type: 'done' }>> {
  const worker = startThread(module, input);
  try {
    return await untilDone(worker, module, options);
  } finally {
    await worker.terminate();
  }
}

/**
 * Threads that run one job after another, for activities that are many and short (a batch
 * run's partitions): starting a thread, loading its modules and opening DuckDB cost about half
 * a second, as much as scoring a small partition. The module answers `{type: 'job', input}`
 * messages, one at a time, with the same messages as a one-job thread (progress, then `done`),
 * or `{type: 'failed', message}`. A thread that failed or whose activity was cancelled is
 * terminated; one that finished waits for the next job, and ends after `idleMs` without one.
 */
export class ThreadPool {
  private readonly idle: Worker[] = [];
  private readonly idleTimers = new Map<Worker, NodeJS.Timeout>();

  constructor(
    private readonly module: URL,
    private readonly idleMs = 30_000,
  ) {}

  private take(): Worker {
    const worker = this.idle.pop();
    if (!worker) return startThread(this.module, null);
    clearTimeout(this.idleTimers.get(worker));
    this.idleTimers.delete(worker);
    worker.removeAllListeners('error').removeAllListeners('exit');
    worker.ref();
    return worker;
  }

  private giveBack(worker: Worker): void {
    worker.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
    worker.unref(); // an idle thread never keeps the worker process alive
    this.idle.push(worker);
    const retire = () => {
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      clearTimeout(this.idleTimers.get(worker));
      this.idleTimers.delete(worker);
    };
    // Should an idle thread die, it is only forgotten: the next job starts a new one.
    worker.on('error', retire).on('exit', retire);
    const timer = setTimeout(() => {
      retire();
      void worker.terminate();
    }, this.idleMs);
    timer.unref();
    this.idleTimers.set(worker, timer);
  }

  /** As runInThread, on a pooled thread. */
  async run<M extends { readonly type: string }>(input: unknown, options: ThreadActivityOptions<M>): Promise<Extract<M, { type: 'done' }>> {
    const worker = this.take();
    let reusable = false;
    try {
      const done = await untilDone(worker, this.module, options, () => worker.postMessage({ type: 'job', input }));
      reusable = !Context.current().cancellationSignal.aborted;
      return done;
    } finally {
      if (reusable) this.giveBack(worker);
      else await worker.terminate();
    }
  }
}
