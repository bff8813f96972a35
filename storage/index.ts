// The product's storage, opened once per process from its Paths: one object store per area.
// With MLOPS_STORE unset each area is its folder (MLOPS_STATE_DIR and the per-area overrides);
// with MLOPS_STORE=s3://bucket/prefix each area is `<prefix>/<area>/` in the bucket and this
// host keeps only a cache of copies under `<state>/cache/`.
import path from 'node:path';
import type { Paths } from '../core/config.js';
import { FileStore } from './file-store.js';
import type { ObjectStore } from './object-store.js';
import { S3Store, s3Client } from './s3-store.js';

export type Area = 'lake' | 'arrivals' | 'registry' | 'work' | 'predictions' | 'reports' | 'specs' | 'features';

export type Storage = { readonly [A in Area]: ObjectStore } & {
  /** Where the state is, for logs: the state folder or the bucket URL. */
  readonly location: string;
};

const opened = new WeakMap<Paths, Storage>();

/** The storage `paths` describes; the same object for the same Paths (one client, one cache). */
export function openStorage(paths: Paths, env: NodeJS.ProcessEnv = process.env): Storage {
  let storage = opened.get(paths);
  if (!storage) {
    storage = paths.store ? bucketStorage(paths, env) : folderStorage(paths);
    opened.set(paths, storage);
  }
  return storage;
}

function folderStorage(paths: Paths): Storage {
  return {
    location: paths.stateDir,
    lake: new FileStore(paths.lakeDir),
    arrivals: new FileStore(paths.arrivalsDir),
    registry: new FileStore(paths.registryDir),
    work: new FileStore(paths.workDir),
    predictions: new FileStore(paths.predictionsDir),
    reports: new FileStore(paths.reportsDir),
    specs: new FileStore(path.join(paths.stateDir, 'specs')),
    features: new FileStore(path.join(paths.stateDir, 'features')),
  };
}

function bucketStorage(paths: Paths, env: NodeJS.ProcessEnv): Storage {
  const root = new S3Store(s3Client(env), paths.store!, path.join(paths.stateDir, 'cache'));
  return {
    location: root.location,
    lake: root.scoped('lake'),
    arrivals: root.scoped('arrivals'),
    registry: root.scoped('registry'),
    work: root.scoped('work'),
    predictions: root.scoped('predictions'),
    reports: root.scoped('reports'),
    specs: root.scoped('specs'),
    features: root.scoped('features'),
  };
}
