// One real Temporal dev server and one real flights lake for the whole test run. The server
// is the same `temporal` binary npm start uses, run by the SDK's `existing-path` option.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { resolvePaths } from '../core/config.js';
import { SEARCH_ATTRIBUTES } from '../core/types.js';
import { ensureFlightsLake } from '../data/flights.js';
import { ensureTemporalCli } from '../worker/temporal-cli.js';
import { startS3Server } from './s3-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    /** State folder whose lake holds the first LAKE_WEEKS weeks of real flights (read-only for tests). */
    lakeStateDir: string;
    /** An S3-compatible server (moto) on 127.0.0.1: tests create their own buckets on it. */
    s3Endpoint: string;
  }
}

export const LAKE_WEEKS = 6;

/**
 * The dev server, through the SDK's existing-path option. The SDK gives it 5 s to answer; on a
 * busy 2-core machine a cold start can take longer, so a start that times out is tried again.
 */
async function startServer(cli: string, attempts = 3): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path: cli },
          ip: '127.0.0.1',
          searchAttributes: [...SEARCH_ATTRIBUTES],
          extraArgs: ['--ui-disable-news-fetch'],
        },
      });
    } catch (err) {
      if (attempt >= attempts) throw err;
      console.log(`[global-setup] the Temporal dev server did not start (attempt ${attempt}): ${String(err).split('\n')[0]}; trying again`);
    }
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'mlops-test-lake-'));
  const paths = resolvePaths({ MLOPS_STATE_DIR: stateDir });
  const cli = await ensureTemporalCli((line) => console.log(`[global-setup] ${line}`));
  const log = (line: string) => console.log(`[global-setup] ${line}`);
  const [env, s3] = await Promise.all([startServer(cli), startS3Server(log), ensureFlightsLake(paths, LAKE_WEEKS)]);
  project.provide('temporalAddress', env.address);
  project.provide('lakeStateDir', stateDir);
  project.provide('s3Endpoint', s3.endpoint);
  return async () => {
    await Promise.all([env.teardown(), s3.stop()]);
    await rm(stateDir, { recursive: true, force: true });
  };
}
