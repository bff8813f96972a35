// Starting a worker thread from a module URL, whether it is compiled JavaScript or
// TypeScript source run through tsx (npm start, tests).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const TS_ENTRY = new URL('./thread-entry.mjs', import.meta.url);

/** The thread reads its input from `workerData.input`. */
export function startThread<T>(module: URL, input: T): Worker {
  if (module.pathname.endsWith('.ts')) {
    return new Worker(TS_ENTRY, { workerData: { entry: module.href, input } });
  }
  return new Worker(module, { workerData: { entry: module.href, input } });
}

/**
 * The module `name` beside the module at `base`: its TypeScript source when that is there,
 * else its compiled .js. (Under tsx, import.meta.url may name either extension.)
 */
export function siblingModule(base: string, name: string): URL {
  const ts = new URL(`./${name}.ts`, base);
  return existsSync(fileURLToPath(ts)) ? ts : new URL(`./${name}.js`, base);
}
