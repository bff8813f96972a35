// Starting a worker thread from a module URL, whether it is compiled JavaScript or
// TypeScript source run through tsx (npm start, tests).
import { Worker } from 'node:worker_threads';

const TS_ENTRY = new URL('./thread-entry.mjs', import.meta.url);

/** The thread reads its input from `workerData.input`. */
export function startThread<T>(module: URL, input: T): Worker {
  if (module.pathname.endsWith('.ts')) {
    return new Worker(TS_ENTRY, { workerData: { entry: module.href, input } });
  }
  return new Worker(module, { workerData: { entry: module.href, input } });
}
