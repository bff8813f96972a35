// What the product persists goes through this interface: objects under '/'-separated keys,
// written whole, with the two conditional writes an object store offers (create if absent,
// replace if unchanged). Two backends: a folder (file-store.ts, the embedded default) and an
// S3-compatible bucket (s3-store.ts). Nothing here renames, appends or locks across objects:
// what must be atomic is one object, and a commit point is an object written last.

/** One stored object's identity: the ETag changes whenever its content is replaced. */
export interface ObjectInfo {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
}

export interface StoredObject extends ObjectInfo {
  readonly body: Uint8Array;
}

/**
 * A conditional write: `{ ifNoneMatch: '*' }` creates the object only if no object has the key;
 * `{ ifMatch: etag }` replaces it only if its ETag is still `etag`. A lost condition throws
 * WriteConflictError (core/errors.ts).
 */
export type WriteCondition = { readonly ifNoneMatch: '*' } | { readonly ifMatch: string };

export interface ObjectStore {
  /** Where the objects are, for messages: a folder path or `s3://bucket/prefix`. */
  readonly location: string;
  /** The object, or undefined when there is none. */
  get(key: string): Promise<StoredObject | undefined>;
  head(key: string): Promise<ObjectInfo | undefined>;
  put(key: string, body: Uint8Array | string, condition?: WriteCondition): Promise<ObjectInfo>;
  /** Store a local file's bytes under `key` (streamed: training sets and partitions can be large). */
  putFile(key: string, file: string, condition?: WriteCondition): Promise<ObjectInfo>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** The names one level below `prefix` (which ends in '/' or is empty): objects and folders alike, sorted. */
  children(prefix: string): Promise<string[]>;
  /** Remove the object if it exists. */
  delete(key: string): Promise<void>;
  /** Remove every object under `prefix` (a run's scratch space once it is done). */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * A local file with the object's current content, for readers that need a path (DuckDB,
   * onnxruntime): the file itself on a folder backend, a per-host copy keyed by ETag on a
   * bucket. Undefined when there is no object.
   */
  localFile(key: string): Promise<string | undefined>;
}

const SEGMENT = /^[^/\\\0]+$/;

/** Throws unless `key` is a relative '/'-separated key with no empty, '.' or '..' segments. */
export function checkKey(key: string): string {
  const parts = key.split('/');
  if (!key || parts.some((p) => !SEGMENT.test(p) || p === '.' || p === '..')) {
    throw new Error(`invalid storage key '${key}': '/'-separated names, no empty, '.' or '..' parts`);
  }
  return key;
}

/** Join key parts with '/', each checked. */
export function joinKey(...parts: readonly (string | number)[]): string {
  return checkKey(parts.map(String).join('/'));
}

/** The JSON object under `key`, or undefined, with the ETag it had when read. */
export async function getJson<T>(store: ObjectStore, key: string): Promise<{ value: T; etag: string } | undefined> {
  const obj = await store.get(key);
  if (!obj) return undefined;
  return { value: JSON.parse(new TextDecoder().decode(obj.body)) as T, etag: obj.etag };
}

export function putJson(store: ObjectStore, key: string, value: unknown, condition?: WriteCondition): Promise<ObjectInfo> {
  return store.put(key, JSON.stringify(value, null, 2), condition);
}
