// The worker process: connects to Temporal and runs workflows and activities until SIGINT/SIGTERM.
import { NativeConnection } from '@temporalio/worker';
import { resolvePaths, temporalSettings } from '../core/config.js';
import { TASK_QUEUE } from '../core/types.js';
import { codeVersion } from './code-version.js';
import { createWorker } from './worker.js';

async function main(): Promise<void> {
  const temporal = temporalSettings();
  const paths = resolvePaths();
  const connection = await NativeConnection.connect({ address: temporal.address });
  try {
    const worker = await createWorker({ connection, namespace: temporal.namespace, paths, codeVersion: codeVersion() });
    console.log(`worker: polling task queue '${TASK_QUEUE}' on ${temporal.address} (state: ${paths.stateDir})`);
    await worker.run(); // returns after SIGINT/SIGTERM once in-flight tasks have drained
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error('worker failed:', err);
  process.exit(1);
});
