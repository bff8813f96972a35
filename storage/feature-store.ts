// The online feature store: materialized snapshots of feature views, in the store's features
// area.
//
//   <view>-<definition>/snapshots/<instant>-<content>.parquet   one snapshot, written whole, never replaced
//   <view>-<definition>/current.json                            the snapshot served: the commit point
//
// `definition` fingerprints what the values mean (the view's SQL, knownAt SQL, entity, window,
// grain and values), so a changed view never serves the old one's snapshots. A snapshot is
// stored under a key named by its content before `current.json` names it, and `current.json`
// moves by compare-and-swap on its ETag: a materialization killed at any point leaves either
// the previous snapshot or the new one current, never part of one.
import type { Paths } from '../core/config.js';
import { WriteConflictError } from '../core/errors.js';
import { sha256 } from '../core/spec.js';
import type { FeatureView, ViewTexts } from '../core/views.js';
import { openStorage } from './index.js';
import { getJson, joinKey, putJson, type ObjectStore } from './object-store.js';

/** What `current.json` says of the snapshot it names. */
export interface SnapshotRecord {
  readonly view: string;
  /** The view definition's fingerprint (viewDefinition). */
  readonly definition: string;
  /** The instant the values are as of (ISO, UTC): computed from rows known before it. */
  readonly asOf: string;
  /** The Parquet object: entity columns and value columns, one row per entity. */
  readonly key: string;
  readonly entities: number;
  /** The newest known_at among the rows the view could read, as of the instant. */
  readonly dataThrough: string | null;
  readonly materializedAt: string;
  /** The run that materialized it (a workflow id), for lineage. */
  readonly run: string;
}

/** Fingerprint of everything that decides a view's values. */
export function viewDefinition(view: FeatureView, texts: ViewTexts): string {
  const { name, entity, window, grain, values } = view;
  return sha256(JSON.stringify({ name, entity, window: window.text, grain, values, sql: sha256(texts.sql), knownAt: sha256(texts.knownAt) })).slice(0, 16);
}

const MAX_CONFLICTS = 20;

export class FeatureStore {
  constructor(readonly store: ObjectStore) {}

  private folder(view: string, definition: string): string {
    return joinKey(`${view}-${definition}`);
  }

  /** The snapshot served for a view definition, with the ETag of its record (undefined: none yet). */
  async current(view: string, definition: string): Promise<{ record: SnapshotRecord; etag: string } | undefined> {
    const found = await getJson<SnapshotRecord>(this.store, joinKey(this.folder(view, definition), 'current.json'));
    return found && { record: found.value, etag: found.etag };
  }

  /** The ETag of a view's current record, cheaply (a HEAD), to notice a move. */
  async currentTag(view: string, definition: string): Promise<string | undefined> {
    return (await this.store.head(joinKey(this.folder(view, definition), 'current.json')))?.etag;
  }

  /**
   * Store a snapshot file under its content key, then make it current, unless the current
   * one is as of a later instant and `backwards` is not set (a replay moves it back on purpose).
   * Returns the record now current and whether this call moved it.
   */
  async publish(
    view: string,
    definition: string,
    file: string,
    fileSha256: string,
    record: Omit<SnapshotRecord, 'key' | 'view' | 'definition'>,
    backwards: boolean,
  ): Promise<{ record: SnapshotRecord; moved: boolean }> {
    const instant = record.asOf.replace(/[:.]/g, '-');
    const key = joinKey(this.folder(view, definition), 'snapshots', `${instant}-${fileSha256.slice(0, 16)}.parquet`);
    if (!(await this.store.head(key))) await this.store.putFile(key, file);
    const next: SnapshotRecord = { view, definition, key, ...record };
    const currentKey = joinKey(this.folder(view, definition), 'current.json');
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const now = await this.current(view, definition);
      if (now?.record.key === key) return { record: now.record, moved: false };
      if (now && now.record.asOf > next.asOf && !backwards) return { record: now.record, moved: false };
      try {
        await putJson(this.store, currentKey, next, now ? { ifMatch: now.etag } : { ifNoneMatch: '*' });
        return { record: next, moved: true };
      } catch (err) {
        if (!(err instanceof WriteConflictError)) throw err;
      }
    }
    throw new WriteConflictError(this.store.location, currentKey, 'replace');
  }

  /** A local path of a snapshot's Parquet (DuckDB reads it). */
  async localFile(record: SnapshotRecord): Promise<string> {
    const local = await this.store.localFile(record.key);
    if (!local) throw new Error(`${this.store.location}/${record.key} is named current for view ${record.view} but is not in the store`);
    return local;
  }
}

const stores = new WeakMap<Paths, FeatureStore>();

export function openFeatureStore(paths: Paths): FeatureStore {
  let found = stores.get(paths);
  if (!found) stores.set(paths, (found = new FeatureStore(openStorage(paths).features)));
  return found;
}
