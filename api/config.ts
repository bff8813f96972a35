// The API's settings, from the environment, with the defaults documented in the README.
import { portSetting, wholeNumberSetting } from '../core/env.js';
import { authFromEnv, type AuthConfig } from './auth.js';
import { DEFAULT_BATCHING, type BatchingOptions } from './predictor.js';

/**
 * Node flags the API process is started with: by npm start, the bench and the tests' API
 * processes from here; spelled out in package.json's "api" script and docker-compose.yml (which
 * test/compose.test.ts checks). A young generation of at most 4 MB keeps each scavenge short:
 * at 1000 requests/s the default (16 MB) showed p99 11-19 ms and 4 MB 5-12 ms, with the same
 * throughput at concurrency 64 (BENCHMARKS.md). V8 takes it only at start-up.
 */
export const API_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

export interface ApiLimits {
  /** Largest request body accepted, in bytes (POST /predict carries up to maxPredictRows rows). */
  readonly maxBodyBytes: number;
  /** Most rows one POST /predict may ask for. */
  readonly maxPredictRows: number;
}

export interface ApiConfig {
  readonly port: number;
  readonly host: string;
  readonly auth: AuthConfig;
  readonly limits: ApiLimits;
  readonly batching: BatchingOptions;
}

export function apiConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const maxPredictRows = wholeNumberSetting(env, 'MLOPS_PREDICT_MAX_ROWS', 1_000, 1, 100_000);
  return {
    port: portSetting(env, 'PORT', 3000, true),
    host: env.HOST ?? '127.0.0.1',
    auth: authFromEnv(env),
    limits: {
      maxPredictRows,
      // Room for every row at ~200 bytes, and never less than 64 KiB.
      maxBodyBytes: wholeNumberSetting(env, 'MLOPS_MAX_BODY_BYTES', Math.max(64 * 1024, maxPredictRows * 200), 1024, 64 * 1024 * 1024),
    },
    batching: {
      maxWaitMs: wholeNumberSetting(env, 'MLOPS_PREDICT_BATCH_WAIT_MS', DEFAULT_BATCHING.maxWaitMs, 0, 1_000),
      maxBatchRows: wholeNumberSetting(env, 'MLOPS_PREDICT_MAX_BATCH', DEFAULT_BATCHING.maxBatchRows, 1, 10_000),
      threads: wholeNumberSetting(env, 'MLOPS_PREDICT_THREADS', DEFAULT_BATCHING.threads, 1, 64),
      maxInFlight: wholeNumberSetting(env, 'MLOPS_PREDICT_IN_FLIGHT', DEFAULT_BATCHING.maxInFlight, 1, 16),
      scoringThreads: wholeNumberSetting(env, 'MLOPS_PREDICT_SCORING_THREADS', DEFAULT_BATCHING.scoringThreads, 0, 16),
      inlineMaxRows: wholeNumberSetting(env, 'MLOPS_PREDICT_INLINE_ROWS', DEFAULT_BATCHING.inlineMaxRows, 0, 10_000),
    },
  };
}
