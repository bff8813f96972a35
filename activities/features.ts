// Feature activities: materialize a model's feature views into the online store. Each view's
// values as of one instant are computed by the view's own query (the one training sets use,
// core/views.ts), written as one Parquet snapshot and made current atomically
// (storage/feature-store.ts). Idempotent: a retry computes the same snapshot from the same
// partitions and finds it current already.
import { Context } from '@temporalio/activity';
import path from 'node:path';
import type { Paths } from '../core/config.js';
import { openDuckDB, parquetSource, queryRows, quoteIdent, quoteLiteral } from '../core/duckdb.js';
import { DataContractViolation, InvalidSpecError } from '../core/errors.js';
import { checkViews } from '../core/features.js';
import { listModels, loadSpec } from '../core/spec.js';
import type { DatasetSpec } from '../core/dataset.js';
import { historyPartitionsBack, knownRelation, snapshotQuery, type FeatureView } from '../core/views.js';
import { openFeatureStore, viewDefinition } from '../storage/feature-store.js';
import { hashFile, openLake, type Partition } from '../storage/lake.js';
import { withScratch } from '../storage/work.js';
import type { MaterializeInput, MaterializedView } from '../core/types.js';

export interface FeatureDeps {
  readonly paths: Paths;
}

/** An instant as DuckDB's TIMESTAMP text and as the snapshot records it: `YYYY-MM-DD HH:MM:SS`. */
const INSTANT = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?$/;

export function createFeatureActivities({ paths }: FeatureDeps) {
  const lake = openLake(paths);
  const featureStore = openFeatureStore(paths);

  /** Models over `dataset` with feature views: what to materialize when it gains partitions. */
  async function modelsWithViews(input: { dataset: string }): Promise<string[]> {
    const out: string[] = [];
    for (const model of await listModels(paths.modelsDir)) {
      const spec = await loadSpec(paths, model).then((l) => l.spec, () => undefined);
      if (spec && spec.dataset.name === input.dataset && spec.features.views.length > 0) out.push(model);
    }
    return out;
  }

  /** Partitions whose rows a view at `asOf` (undefined: the newest) may read. */
  function historyOf(all: readonly Partition[], view: FeatureView, loadedDataset: DatasetSpec, asOf: string | undefined): Partition[] {
    // A time partition's value is when it starts: one starting after the instant holds nothing known before it.
    const upTo = asOf === undefined || loadedDataset.partitioning.by !== 'time' ? all : all.filter((p) => p.value.slice(0, 19) <= asOf.replace('T', ' '));
    const back = historyPartitionsBack(loadedDataset, [view]);
    return back === undefined ? [...upTo] : upTo.slice(Math.max(0, upTo.length - back - 1));
  }

  /**
   * The newest instant the lake's history is complete up to (an SQL scalar): for a dataset
   * partitioned by time, its newest row's time (a row after it is not in the lake yet, so a
   * later instant would count a partial window: the few flights that land hours after the last
   * departure); otherwise the newest row known.
   */
  function newestInstant(dataset: DatasetSpec, history: string, known: string): string {
    return dataset.partitioning.by === 'time'
      ? `SELECT max(CAST(${quoteIdent(dataset.partitioning.column)} AS TIMESTAMP)) FROM (${history})`
      : `SELECT max(known_at) FROM ${known}`;
  }

  /**
   * Compute each view of the model as of `asOf` (default: the start of the grain holding the
   * newest instant the lake is complete up to, newestInstant) and make it current in the online store. A snapshot as of an earlier
   * instant than the current one is made current only when `asOf` was asked for (a replay).
   */
  async function materializeFeatures(input: MaterializeInput): Promise<MaterializedView[]> {
    const ctx = Context.current();
    const loaded = await loadSpec(paths, input.model);
    const { spec } = loaded;
    if (spec.features.views.length === 0) return [];
    await checkViews(loaded);
    if (input.asOf !== undefined && !INSTANT.test(input.asOf)) {
      throw new InvalidSpecError('(request)', 'asOf', `must be an instant like "2001-03-05 00:00:00", got ${JSON.stringify(input.asOf)}`);
    }
    const all = await lake.partitions(spec.dataset.name, spec.dataset.partitionKey);
    if (all.length === 0) throw new DataContractViolation('empty', 'no partitions to compute feature views from', lake.location(spec.dataset.name));
    const out: MaterializedView[] = [];
    for (const view of spec.features.views) {
      ctx.heartbeat({ view: view.name, stage: 'computing' });
      const texts = loaded.viewTexts.get(view.name)!;
      const definition = viewDefinition(view, texts);
      const files = await lake.localFiles(historyOf(all, view, spec.dataset, input.asOf).flatMap((p) => p.files));
      const history = parquetSource(files);
      const result = await withScratch('features', async (scratch) => {
        const db = await openDuckDB({ threads: 2 });
        try {
          const known = knownRelation(texts, history);
          const instantSql =
            input.asOf !== undefined
              ? `date_trunc(${quoteLiteral(view.grain)}, TIMESTAMP ${quoteLiteral(input.asOf.replace('T', ' ').replace('Z', ''))})`
              : `date_trunc(${quoteLiteral(view.grain)}, least((${newestInstant(spec.dataset, history, known)}), now()::TIMESTAMP))`;
          const [at] = await queryRows(db.connection, `SELECT strftime(${instantSql}, '%Y-%m-%d %H:%M:%S') AS instant`);
          const asOf = at?.instant == null ? undefined : String(at.instant);
          if (asOf === undefined) throw new DataContractViolation('empty', `no row of the dataset is known (its knownAt query ${view.knownAt} gives none)`, lake.location(spec.dataset.name));
          const [through] = await queryRows(db.connection, `SELECT strftime(max(known_at), '%Y-%m-%d %H:%M:%S') AS t FROM ${known} WHERE known_at < TIMESTAMP ${quoteLiteral(asOf)}`);
          await db.connection.run(`CREATE TABLE snapshot AS SELECT * EXCLUDE (__as_of) FROM (${snapshotQuery(view, texts, history, asOf)})`);
          const entity = view.entity.map(quoteIdent).join(', ');
          const [dup] = await queryRows(db.connection, `SELECT ${entity}, count(*)::BIGINT AS n FROM snapshot GROUP BY ALL HAVING count(*) > 1 LIMIT 1`);
          if (dup) {
            throw new InvalidSpecError(loaded.shownFile, `features.views[${spec.features.views.indexOf(view)}].sql (${view.sql})`, `gives ${String(dup.n)} rows for the entity ${view.entity.map((e) => `${e} = ${String(dup[e])}`).join(', ')}: it must group by the entity (${view.entity.join(', ')})`);
          }
          const file = path.join(scratch, 'snapshot.parquet');
          await db.connection.run(`COPY (SELECT * FROM snapshot ORDER BY ${entity}) TO ${quoteLiteral(file)} (FORMAT parquet)`);
          const [count] = await queryRows(db.connection, 'SELECT count(*)::BIGINT AS n FROM snapshot');
          ctx.heartbeat({ view: view.name, stage: 'publishing', asOf });
          return featureStore.publish(
            view.name,
            definition,
            file,
            await hashFile(file),
            { asOf, entities: Number(count?.n ?? 0), dataThrough: through?.t == null ? null : String(through.t), materializedAt: new Date().toISOString(), run: input.workflowId ?? 'direct' },
            input.asOf !== undefined,
          );
        } finally {
          db.close();
        }
      });
      out.push({ view: view.name, definition, asOf: result.record.asOf, entities: result.record.entities, key: result.record.key, moved: result.moved });
    }
    return out;
  }

  return { modelsWithViews, materializeFeatures };
}
