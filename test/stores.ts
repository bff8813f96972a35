// The two storage backends, for tests that must hold on both: a fresh folder, and a fresh
// prefix in a bucket of the run's S3-compatible server (test/global-setup.ts).
import { mkdtemp } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { FileStore } from '../storage/file-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import { S3Store, s3Client } from '../storage/s3-store.js';
import { createBucket, s3Env } from './s3-server.js';

export interface Backend {
  readonly name: 'folder' | 's3';
  /** An empty store of this backend. */
  store(): Promise<ObjectStore>;
}

let bucket: Promise<string> | undefined;

export const BACKENDS: readonly Backend[] = [
  { name: 'folder', store: async () => new FileStore(await mkdtemp(path.join(tmpdir(), 'mlops-store-'))) },
  {
    name: 's3',
    store: async () => {
      const endpoint = inject('s3Endpoint');
      bucket ??= createBucket(endpoint);
      return new S3Store(s3Client(s3Env(endpoint)), { bucket: await bucket, prefix: randomUUID() }, await mkdtemp(path.join(tmpdir(), 'mlops-cache-')));
    },
  },
];
