// The feature view snapshots one model's /predict joins: which snapshot of each view is served,
// under which table and prepared query, and when to look for newer ones. Like the champion,
// snapshots are followed without a restart: the current record of each view is checked at most
// every VIEW_CHECK_MS (a HEAD per view), a new snapshot is loaded as a table in every scoring
// lane and a new query prepared over it while the old one keeps answering, then swapped in
// one assignment. Each answer names the snapshots its query joined.
import type { LoadedSpec } from '../core/spec.js';
import { snapshotLookupQuery, type FeatureView, type ViewSource } from '../core/views.js';
import { viewDefinition, type FeatureStore, type SnapshotRecord } from '../storage/feature-store.js';

export const VIEW_CHECK_MS = 1_000;

/** One view as served: its definition and the snapshot joined now (none before the first materialization). */
export interface ServedView {
  readonly view: FeatureView;
  readonly definition: string;
  readonly record: SnapshotRecord | undefined;
  readonly etag: string | undefined;
  /** The table the snapshot is loaded as in every lane. */
  readonly table: string | undefined;
  /** The snapshot as a MAP constant the query looks entities up in, when it is small enough (core/views.ts SnapshotTable). */
  readonly lookup?: string;
}

/** A set of snapshots with the query prepared over them: what one batch runs. */
export interface ServedQuery {
  /** The prepared statement's name in every lane. */
  readonly name: string;
  readonly views: readonly ServedView[];
}

/** How an answer names the snapshot of one view it used. */
export interface ViewAnswer {
  readonly view: string;
  /** The instant the values are as of; null before the first materialization (every entity gets the default). */
  readonly asOf: string | null;
  readonly snapshot: string | null;
  readonly materializedAt: string | null;
}

export function viewAnswers(query: ServedQuery): ViewAnswer[] {
  return query.views.map((v) => ({ view: v.view.name, asOf: v.record?.asOf ?? null, snapshot: v.record?.key ?? null, materializedAt: v.record?.materializedAt ?? null }));
}

/** Where the feature query of `query` reads each view: its snapshot table, or nothing yet. */
export function snapshotSource(query: ServedQuery): ViewSource {
  return {
    kind: 'snapshots',
    tables: Object.fromEntries(
      query.views.map((v) => [v.view.name, v.record && v.table ? { table: v.table, asOf: v.record.asOf, ...(v.lookup !== undefined ? { lookup: v.lookup } : {}) } : null]),
    ),
  };
}

/** What the lanes must do to serve a newer set of snapshots. */
export interface ViewChange {
  readonly next: ServedQuery;
  /** Tables to load: name, the snapshot and its view. */
  readonly load: readonly { readonly table: string; readonly record: SnapshotRecord; readonly view: FeatureView }[];
}

/** What loads a snapshot as a table in every scoring lane (predictor-thread's 'table' message); answers with a lane's reply. */
export type LoadTable = (request: { type: 'table'; table: string; file: string; lookupSql: string }) => Promise<{ readonly lookup?: string | null }>;

export class ModelViews {
  current: ServedQuery;
  private generation = 0;
  private lastCheck = 0;
  /** The query served before `current`, kept until the next swap: a batch may still run it. */
  private previous: ServedQuery | undefined;
  refreshing: Promise<void> | undefined;

  constructor(
    private readonly loaded: LoadedSpec,
    private readonly store: FeatureStore,
  ) {
    this.current = {
      name: `${loaded.spec.name}#0`,
      views: loaded.spec.features.views.map((view) => ({ view, definition: viewDefinition(view, loaded.viewTexts.get(view.name)!), record: undefined, etag: undefined, table: undefined })),
    };
  }

  /** Whether it is time to look for newer snapshots (and notes that it looked). */
  due(now = Date.now()): boolean {
    if (now - this.lastCheck < VIEW_CHECK_MS) return false;
    this.lastCheck = now;
    return true;
  }

  /** The set of snapshots to serve next, when any view's current record moved; undefined when none did. */
  async changes(): Promise<ViewChange | undefined> {
    const views: ServedView[] = [];
    const load: { table: string; record: SnapshotRecord; view: FeatureView }[] = [];
    const generation = this.generation + 1;
    let moved = false;
    for (const served of this.current.views) {
      const tag = await this.store.currentTag(served.view.name, served.definition);
      if (tag === undefined || tag === served.etag) {
        views.push(served);
        continue;
      }
      const found = await this.store.current(served.view.name, served.definition);
      if (!found || found.record.key === served.record?.key) {
        views.push({ ...served, etag: found?.etag ?? served.etag });
        continue;
      }
      const table = `view_${served.view.name}_${generation}`;
      load.push({ table, record: found.record, view: served.view });
      views.push({ view: served.view, definition: served.definition, record: found.record, etag: found.etag, table });
      moved = true;
    }
    if (!moved) {
      this.current = { ...this.current, views };
      return undefined;
    }
    return { next: { name: `${this.loaded.spec.name}#${generation}`, views }, load };
  }

  /**
   * Load the snapshots `change` brings as tables through `loadTable`, each with its MAP constant
   * when it is small enough (core/views.ts snapshotLookupQuery): the query to prepare and serve.
   */
  async loadTables(change: ViewChange, loadTable: LoadTable): Promise<ServedQuery> {
    const lookups = new Map<string, string>();
    for (const { table, record, view } of change.load) {
      const reply = await loadTable({ type: 'table', table, file: await this.store.localFile(record), lookupSql: snapshotLookupQuery(view, table, record.asOf) });
      if (typeof reply.lookup === 'string') lookups.set(table, reply.lookup);
    }
    return { ...change.next, views: change.next.views.map((v) => (v.table !== undefined && lookups.has(v.table) ? { ...v, lookup: lookups.get(v.table)! } : v)) };
  }

  /** Serve `next` (its tables loaded and its query prepared in every lane); returns what the lanes may drop now. */
  swap(next: ServedQuery): { queries: string[]; tables: string[] } {
    const old = this.previous;
    this.previous = this.current;
    this.current = next;
    this.generation++;
    if (!old) return { queries: [], tables: [] };
    const keep = new Set([...next.views, ...this.previous.views].map((v) => v.table));
    return { queries: [old.name], tables: old.views.map((v) => v.table).filter((t): t is string => t !== undefined && !keep.has(t)) };
  }
}
