// Entry of worker threads whose code is TypeScript source: Node cannot load .ts in a thread
// by itself, and a thread does not inherit the parent's loader, so tsx loads it here.
import { workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

await tsImport(workerData.entry, import.meta.url);
