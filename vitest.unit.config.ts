import { defineConfig } from 'vitest/config';

// The unit-level suites: no Temporal dev server, S3 server or shared lake (no global setup).
// CI runs them on Node 24 as well (.ci/run), so the code is checked on the LTS the image uses.
export default defineConfig({
  test: {
    include: [
      'test/cli-parts.test.ts',
      'test/compose.test.ts',
      'test/drift.test.ts',
      'test/duckdb-read.test.ts',
      'test/folds.test.ts',
      'test/gate.test.ts',
      'test/log.test.ts',
      'test/ml.test.ts',
      'test/replay.test.ts',
      'test/report-html.test.ts',
      'test/spec.test.ts',
    ],
    pool: 'forks',
    testTimeout: 180_000,
  },
});
