import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Temporal native bridge crashes under worker threads (SDK #876): use processes.
    pool: 'forks',
    // Most test time is waiting on workflows, servers and child processes, not CPU: two files
    // at a time halve the suite on 2 cores (vitest's default there is one). At most four,
    // so one dev server and one moto serve every file without queueing.
    maxWorkers: Math.min(4, Math.max(2, availableParallelism() - 1)),
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
