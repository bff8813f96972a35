// The API's settings, from the environment, with the defaults documented in the README.
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

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`${name}=${raw}: must be a whole number from 0 to ${max}`);
  return n;
}

export function apiConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const maxPredictRows = wholeNumber(env, 'MLOPS_PREDICT_MAX_ROWS', 1_000, 100_000);
  return {
    port: wholeNumber(env, 'PORT', 3000, 65_535),
    host: env.HOST ?? '127.0.0.1',
    auth: authFromEnv(env),
    limits: {
      maxPredictRows,
      // Room for every row at ~200 bytes, and never less than 64 KiB.
      maxBodyBytes: wholeNumber(env, 'MLOPS_MAX_BODY_BYTES', Math.max(64 * 1024, maxPredictRows * 200), 64 * 1024 * 1024),
    },
    batching: {
      maxWaitMs: wholeNumber(env, 'MLOPS_PREDICT_BATCH_WAIT_MS', DEFAULT_BATCHING.maxWaitMs, 1_000),
      maxBatchRows: Math.max(1, wholeNumber(env, 'MLOPS_PREDICT_MAX_BATCH', DEFAULT_BATCHING.maxBatchRows, 10_000)),
      threads: Math.max(1, wholeNumber(env, 'MLOPS_PREDICT_THREADS', DEFAULT_BATCHING.threads, 64)),
      maxInFlight: Math.max(1, wholeNumber(env, 'MLOPS_PREDICT_IN_FLIGHT', DEFAULT_BATCHING.maxInFlight, 16)),
      scoringThreads: wholeNumber(env, 'MLOPS_PREDICT_SCORING_THREADS', DEFAULT_BATCHING.scoringThreads, 16),
      inlineMaxRows: wholeNumber(env, 'MLOPS_PREDICT_INLINE_ROWS', DEFAULT_BATCHING.inlineMaxRows, 10_000),
    },
  };
}
