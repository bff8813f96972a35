// Running an activity's CPU-heavy work in a worker thread: the worker's event loop stays free
// for heartbeats, polling and cancellation (Temporal runs them all on that one loop).
import { Context } from '@temporalio/activity';
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
 * Run `module` in a worker thread with `input` and resolve with its `{type: 'done'}` message.
 * The thread is terminated when the activity is cancelled or the call ends, whatever the outcome.
 */
export async function runInThread<M extends { readonly type: string }>(
  module: URL,
  input: unknown,
  options: ThreadActivityOptions<M>,
): Promise<Extract<M, { type: 'done' }>> {
  const ctx = Context.current();
  const worker = startThread(module, input);
  const beat = setInterval(() => ctx.heartbeat(options.details()), HEARTBEAT_EVERY_MS);
  const onCancel = () => void worker.terminate();
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  try {
    return await new Promise<Extract<M, { type: 'done' }>>((resolve, reject) => {
      worker.on('message', (m: M) => {
        if (m.type === 'done') resolve(m as Extract<M, { type: 'done' }>);
        else options.onMessage(m as Exclude<M, { type: 'done' }>);
      });
      worker.on('error', reject);
      worker.on('exit', (code) => {
        if (ctx.cancellationSignal.aborted) reject(ctx.cancellationSignal.reason);
        else reject(new Error(`thread ${module.pathname.split('/').pop()} exited with code ${code} before finishing`));
      });
    });
  } finally {
    clearInterval(beat);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
    await worker.terminate();
  }
}
