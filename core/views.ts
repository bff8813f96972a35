// Feature views: values a row cannot carry itself, aggregated from the history of a dataset
// (how late flights from this airport have been over the last 3 hours, a customer's spending
// over 30 days), declared in a model spec and written in SQL.
//
// A view is ONE query over `events`: the dataset's rows already known at one instant (the
// view's `as of`), within its window before that instant, grouped by its entity. The runner,
// never the view, decides which rows `events` holds, and the view may read nothing else
// (checkViewSql), so no value can see a row known after its instant:
// - offline (training sets, batch scoring, monitoring), each row is joined to the value as of
//   the start of its grain (the hour it departs in), computed by the same query over the rows
//   known before that instant (a LATERAL join, one instant per distinct grain start, over the
//   history rows copied once per grain start they count at, so the join is on equal instants);
// - online, a materialized snapshot holds the value as of one instant per entity, computed by
//   the same query, and /predict joins it by entity.
import { InvalidSpecError } from './errors.js';
import { quoteIdent, quoteLiteral } from './duckdb.js';
import type { Reader } from './spec-reader.js';
import { isValidColumnName, type DatasetSpec } from './dataset.js';

export const VIEW_GRAINS = ['minute', 'hour', 'day', 'week', 'month'] as const;
export type ViewGrain = (typeof VIEW_GRAINS)[number];

/** A value a view declares for an entity it has no row for. */
export type ViewDefault = number | string | null;

export interface FeatureView {
  /** An identifier: names the view in answers, metrics and the store. */
  readonly name: string;
  /** sql/ path of the aggregate query over `events`, grouped by the entity. */
  readonly sql: string;
  /** sql/ path of the query giving every dataset row (`source`) a `known_at`: when the row became known. */
  readonly knownAt: string;
  /** Columns the view and the model's feature SQL both output; the join key. */
  readonly entity: readonly string[];
  /** How far back from its instant a value looks. */
  readonly window: Duration;
  /** Instants values are taken at: a row sees the value as of the start of its grain. */
  readonly grain: ViewGrain;
  /** Served values older than this (the row's time minus the snapshot's instant) are reported stale. */
  readonly maxAge: Duration;
  /** The view's value columns, each with its value for an entity it has no row for. */
  readonly values: readonly { readonly name: string; readonly default: ViewDefault }[];
}

/** A length of time as written in a spec ("3 hours") and in milliseconds. */
export interface Duration {
  readonly text: string;
  readonly ms: number;
}

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000 };

export function parseDuration(r: Reader, v: unknown, field: string): Duration {
  const text = r.string(v, field);
  const m = /^(\d{1,6}) (minute|hour|day|week)s?$/.exec(text.trim());
  if (!m || Number(m[1]) === 0) r.fail(field, `must be a positive number of minutes, hours, days or weeks, like "3 hours" (got ${JSON.stringify(text)})`);
  return { text: `${Number(m[1])} ${m[2]}${Number(m[1]) === 1 ? '' : 's'}`, ms: Number(m[1]) * UNIT_MS[m[2]!]! };
}

/** Instants a window may hold at most: every row's history is copied once per instant it counts in. */
const MAX_INSTANTS_PER_WINDOW = 400;
const GRAIN_MS: Record<ViewGrain, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000, month: 28 * 86_400_000 };

export function parseViews(r: Reader, raw: unknown): FeatureView[] {
  if (raw === undefined) return [];
  const seen = new Set<string>();
  return r.array(raw, 'features.views').map((v, i) => {
    const field = `features.views[${i}]`;
    const o = r.strictObject(v, field, ['name', 'sql', 'knownAt', 'entity', 'window', 'grain', 'maxAge', 'values']);
    const name = r.string(o.name, `${field}.name`);
    if (!isValidColumnName(name)) r.fail(`${field}.name`, 'must be a lower-case identifier');
    if (seen.has(name)) r.fail(`${field}.name`, `'${name}' names two views`);
    seen.add(name);
    const entity = (typeof o.entity === 'string' ? [o.entity] : r.array(o.entity, `${field}.entity`)).map((e, k) => {
      const col = r.string(e, `${field}.entity[${k}]`);
      if (!isValidColumnName(col)) r.fail(`${field}.entity[${k}]`, 'must be a lower-case identifier');
      return col;
    });
    if (entity.length === 0) r.fail(`${field}.entity`, 'must name at least one column');
    const window = parseDuration(r, o.window, `${field}.window`);
    const grain = r.oneOf(o.grain, `${field}.grain`, VIEW_GRAINS);
    if (window.ms / GRAIN_MS[grain] > MAX_INSTANTS_PER_WINDOW) {
      r.fail(`${field}.window`, `${window.text} holds more than ${MAX_INSTANTS_PER_WINDOW} ${grain}s: take a coarser grain`);
    }
    const valuesObj = r.object(o.values, `${field}.values`);
    const values = Object.entries(valuesObj).map(([col, d]) => {
      if (!isValidColumnName(col)) r.fail(`${field}.values.${col}`, 'must be a lower-case identifier');
      if (entity.includes(col)) r.fail(`${field}.values.${col}`, 'is an entity column, not a value');
      if (d !== null && typeof d !== 'number' && typeof d !== 'string') r.fail(`${field}.values.${col}`, 'is the default for a missing entity: a number, a string or null');
      return { name: col, default: d as ViewDefault };
    });
    if (values.length === 0) r.fail(`${field}.values`, 'must name at least one value column with its default');
    return {
      name,
      sql: r.string(o.sql, `${field}.sql`),
      knownAt: r.string(o.knownAt, `${field}.knownAt`),
      entity,
      window,
      grain,
      maxAge: parseDuration(r, o.maxAge, `${field}.maxAge`),
      values,
    };
  });
}

/** Texts of a view's SQL files, as loaded (and pinned with the spec). */
export interface ViewTexts {
  readonly sql: string;
  readonly knownAt: string;
}

const strip = (sql: string) => sql.trim().replace(/;\s*$/, '');

/** The relation of every history row with its `known_at`, from the view's knownAt SQL over `historySql`. */
function knownRows(texts: ViewTexts, historySql: string): string {
  return `WITH source AS (${historySql})\n${strip(texts.knownAt)}`;
}

/** `events` for one instant `asOf` (an SQL expression): rows known in [asOf - window, asOf). */
function eventsAt(view: FeatureView, known: string, asOf: string): string {
  return `SELECT * FROM ${known} WHERE known_at < ${asOf} AND known_at >= ${asOf} - INTERVAL ${quoteLiteral(view.window.text)}`;
}

/** The instant a row at `time` (an SQL expression) sees a view as of: the start of its grain. */
export function viewInstant(view: FeatureView, time: string): string {
  return `date_trunc(${quoteLiteral(view.grain)}, ${time})`;
}

/** The view's values as of one instant (an SQL expression): columns `__as_of`, the entity and the values. */
function viewAtInstant(view: FeatureView, texts: ViewTexts, known: string, asOf: string): string {
  return `SELECT ${asOf} AS __as_of, __v.* FROM (WITH events AS (${eventsAt(view, known, asOf)})\nSELECT * FROM (${strip(texts.sql)}) AS __q) AS __v`;
}

/**
 * Every history row once per grain start it counts at, as `__at`: the instants t with
 * t - window <= known_at < t. A row counts at most ceil(window / grain) instants (parseViews
 * bounds that), so the copies stay few, and the view's values at many instants become a join
 * on equal instants: an inequality join of every instant against every row is what this saves.
 */
function rowsByInstant(view: FeatureView, known: string): string {
  const steps = Math.ceil(view.window.ms / GRAIN_MS[view.grain]);
  const at = `${viewInstant(view, '__k.known_at')} + INTERVAL 1 ${view.grain.toUpperCase()} * __s.__step`;
  return (
    `SELECT __k.*, ${at} AS __at FROM ${known} AS __k, range(1, ${steps + 1}) AS __s(__step)\n` +
    `WHERE __k.known_at >= ${at} - INTERVAL ${quoteLiteral(view.window.text)}`
  );
}

/**
 * The view's values at every grain start in `instantsSql` (one column `__as_of`): columns
 * `__as_of`, the entity and the values. `copies` is the relation rowsByInstant makes.
 */
function viewAtGrainInstants(view: FeatureView, texts: ViewTexts, copies: string, instantsSql: string): string {
  return (
    `SELECT __b.__as_of, __v.* FROM (${instantsSql}) AS __b,\n` +
    `LATERAL (WITH events AS (SELECT * EXCLUDE (__at) FROM ${copies} WHERE __at = __b.__as_of)\nSELECT * FROM (${strip(texts.sql)}) AS __q) AS __v`
  );
}

/** The relation of history rows with known_at, for a snapshot (joinViews shares one per knownAt file). */
export function knownRelation(texts: ViewTexts, historySql: string): string {
  return `(${knownRows(texts, historySql)})`;
}

/**
 * The SQL of one view's values as of one instant (a TIMESTAMP literal), over `historySql`:
 * what a snapshot holds (columns `__as_of`, entity, values).
 */
export function snapshotQuery(view: FeatureView, texts: ViewTexts, historySql: string, asOf: string): string {
  return viewAtInstant(view, texts, knownRelation(texts, historySql), `TIMESTAMP ${quoteLiteral(asOf)}`);
}

/** Where a model's rows get their view values from. */
export type ViewSource =
  /** Offline: computed from the dataset's history (an SQL relation of its rows), as of each row's grain start or as of one instant for every row. */
  | { readonly kind: 'history'; readonly historySql: string; readonly asOf?: string }
  /** Online: one materialized snapshot table per view (by view name), each as of its instant; null before the first (every entity missing). */
  | { readonly kind: 'snapshots'; readonly tables: Readonly<Record<string, SnapshotTable | null>> };

/** A view's snapshot as the online query reads it. */
export interface SnapshotTable {
  readonly table: string;
  readonly asOf: string;
  /**
   * The snapshot as one MAP constant (snapshotLookupQuery's text), when it has at most
   * SNAPSHOT_LOOKUP_MAX_ENTITIES entities: looked up per row instead of joined.
   */
  readonly lookup?: string;
}

/**
 * Entities up to which /predict looks a snapshot up in a MAP constant rather than joining its
 * table. A join costs milliseconds a batch whatever its size (DuckDB builds its hash table on
 * every run), several times the rest of a one-row feature query; a MAP constant costs in
 * proportion to its entities (copied and scanned on every run). `npm run bench:views:query`,
 * flight_delay's two views, a 16-row batch: 0.8 ms against 4.3 joined at 1,024 entities,
 * 3.6 against 5.0 at 4,096, 11.9 against 5.0 at 20,000 (BENCHMARKS.md, Feature views).
 */
export const SNAPSHOT_LOOKUP_MAX_ENTITIES = 1024;

/** A SQL literal of `value`'s text cast back to its type: what the snapshot held, exactly (DuckDB prints doubles round-trip). */
function literalOf(value: string): string {
  return `CASE WHEN ${value} IS NULL THEN 'NULL::' || typeof(${value}) ELSE 'CAST(''' || replace(CAST(${value} AS VARCHAR), '''', '''''') || ''' AS ' || typeof(${value}) || ')' END`;
}

/** The lookup key of a view's entity: its one column, or a struct of them (null when any is null: never found, as in a join). */
function lookupKey(view: FeatureView, column: (name: string) => string): string {
  const key = view.entity.length === 1 ? column(view.entity[0]!) : `{${view.entity.map((e) => `${quoteLiteral(e)}: ${column(e)}`).join(', ')}}`;
  return `CASE WHEN ${view.entity.map((e) => `${column(e)} IS NOT NULL`).join(' AND ')} THEN ${key} END`;
}

/**
 * One row: the SQL text of a MAP from each entity key of the snapshot table (those with no
 * null entity column) to a struct of `__as_of` and the view's values, which joinViews looks
 * rows up in; null when there are none or more than `maxEntities`.
 */
export function snapshotLookupQuery(view: FeatureView, table: string, asOf: string, maxEntities = SNAPSHOT_LOOKUP_MAX_ENTITIES): string {
  const col = (c: string) => `__s.${quoteIdent(c)}`;
  const keyText =
    view.entity.length === 1
      ? literalOf(col(view.entity[0]!))
      : `'{' || ${view.entity.map((e) => `${quoteLiteral(quoteLiteral(e) + ': ')} || ${literalOf(col(e))}`).join(` || ', ' || `)} || '}'`;
  const valueText = `${quoteLiteral(`{'__as_of': TIMESTAMP ${quoteLiteral(asOf)}`)} || ${view.values.map((v) => `${quoteLiteral(`, ${quoteLiteral(v.name)}: `)} || ${literalOf(col(v.name))}`).join(' || ')} || '}'`;
  const entityKnown = view.entity.map((e) => `${col(e)} IS NOT NULL`).join(' AND ');
  // The entities are counted first: a snapshot too big for a MAP is never rendered.
  return (
    `WITH __n AS (SELECT count(*) AS entities FROM ${quoteIdent(table)} AS __s WHERE ${entityKnown}) ` +
    `SELECT 'MAP {' || string_agg(${keyText} || ': ' || ${valueText}, ', ') || '}' AS lookup ` +
    `FROM ${quoteIdent(table)} AS __s, __n WHERE ${entityKnown} AND __n.entities <= ${maxEntities}`
  );
}

/** Columns the online query adds per view: whether the entity was missing (1/0) and whether the value was stale (1/0). */
export const missingColumn = (view: FeatureView) => `__missing_${view.name}`;
export const staleColumn = (view: FeatureView) => `__stale_${view.name}`;

/**
 * The feature SQL's rows (`featuresSql`, which outputs the entity columns and `timeColumn`)
 * joined to each view's value, in the feature rows' order, every view value defaulted for a
 * missing entity. With `flags`, per view a `__missing_` and a `__stale_` column (1 or 0).
 */
export function joinViews(
  views: readonly FeatureView[],
  texts: ReadonlyMap<string, ViewTexts>,
  featuresSql: string,
  timeColumn: string,
  source: ViewSource,
  flags: boolean,
): string {
  const ctes: string[] = [];
  const joins: string[] = [];
  const selects: string[] = [];
  /** Snapshots looked up in a MAP constant: a struct column of __f per view (its alias), no join. */
  const lookups: { expression: string; alias: string }[] = [];
  const time = `__f.${quoteIdent(timeColumn)}`;
  const knownNames = new Map<string, string>();
  views.forEach((view, i) => {
    const t = texts.get(view.name);
    if (!t) throw new Error(`view ${view.name} has no SQL loaded`);
    let alias = `__v${i}`;
    let relation: string | undefined;
    let instant: string;
    if (source.kind === 'history') {
      // Views sharing a knownAt file share its relation of history rows.
      let known = knownNames.get(view.knownAt);
      if (!known) {
        known = `__known${knownNames.size}`;
        knownNames.set(view.knownAt, known);
        ctes.push(`${known} AS MATERIALIZED (${knownRows(t, source.historySql)})`);
      }
      if (source.asOf !== undefined) {
        instant = `TIMESTAMP ${quoteLiteral(source.asOf)}`;
        ctes.push(`${alias}_values AS (${viewAtInstant(view, t, known, instant)})`);
      } else {
        instant = viewInstant(view, time);
        const instants = `SELECT DISTINCT ${viewInstant(view, quoteIdent(timeColumn))} AS __as_of FROM __f`;
        ctes.push(`${alias}_rows AS MATERIALIZED (${rowsByInstant(view, known)})`);
        ctes.push(`${alias}_values AS (${viewAtGrainInstants(view, t, `${alias}_rows`, instants)})`);
      }
      relation = `${alias}_values`;
    } else {
      const snap = source.tables[view.name];
      if (snap === undefined) throw new Error(`view ${view.name} has no snapshot source`);
      if (snap === null) {
        const columns = [...view.entity, ...view.values.map((v) => v.name)].map((c) => `NULL AS ${quoteIdent(c)}`);
        relation = `(SELECT NULL::TIMESTAMP AS __as_of, ${columns.join(', ')} WHERE false)`;
        instant = 'NULL::TIMESTAMP';
      } else if (snap.lookup !== undefined) {
        lookups.push({ expression: `(${snap.lookup})[${lookupKey(view, (c) => `__fs.${quoteIdent(c)}`)}]`, alias });
        alias = `__f.${alias}`;
        instant = `TIMESTAMP ${quoteLiteral(snap.asOf)}`;
      } else {
        relation = `(SELECT TIMESTAMP ${quoteLiteral(snap.asOf)} AS __as_of, * FROM ${quoteIdent(snap.table)})`;
        instant = `TIMESTAMP ${quoteLiteral(snap.asOf)}`;
      }
    }
    if (relation !== undefined) {
      const on = [`${alias}.__as_of = ${instant}`, ...view.entity.map((e) => `${alias}.${quoteIdent(e)} = __f.${quoteIdent(e)}`)];
      joins.push(`LEFT JOIN ${relation} AS ${alias} ON ${on.join(' AND ')}`);
    }
    for (const v of view.values) {
      const fallback = v.default === null ? 'NULL' : typeof v.default === 'number' ? String(v.default) : quoteLiteral(v.default);
      selects.push(`coalesce(${alias}.${quoteIdent(v.name)}, ${fallback}) AS ${quoteIdent(v.name)}`);
    }
    if (flags) {
      selects.push(`CAST(${alias}.__as_of IS NULL AS FLOAT) AS ${quoteIdent(missingColumn(view))}`);
      selects.push(
        `CAST(coalesce(${time} - ${instant} > INTERVAL ${quoteLiteral(view.maxAge.text)}, false) AS FLOAT) AS ${quoteIdent(staleColumn(view))}`,
      );
    }
  });
  // A join may reorder rows: number them and sort back. Lookups alone keep the rows' order.
  const ordered = joins.length > 0;
  const added = [...(ordered ? ['row_number() OVER () AS __row'] : []), ...lookups.map((l) => `${l.expression} AS ${l.alias}`)];
  const excluded = [...(ordered ? ['__row'] : []), ...lookups.map((l) => l.alias)];
  ctes.unshift(`__f AS (SELECT __fs.*${added.map((a) => `, ${a}`).join('')} FROM (${featuresSql}) AS __fs)`);
  const all = excluded.length ? `__f.* EXCLUDE (${excluded.join(', ')})` : '__f.*';
  return `WITH ${ctes.join(',\n')}\nSELECT ${all}, ${selects.join(', ')}\nFROM __f\n${joins.join('\n')}${ordered ? '\nORDER BY __f.__row' : ''}`;
}

/**
 * Refuse view SQL that could read anything but what the runner binds (`events` for a view's
 * query, `source` for its knownAt query): a table, a file, a table function or another
 * schema. `serialized` is DuckDB's json_serialize_sql of the SQL.
 */
export function checkViewSql(file: string, field: string, serialized: string, reads: 'events' | 'source'): void {
  const tree = JSON.parse(serialized) as { error?: boolean; error_message?: string; statements?: unknown[] };
  if (tree.error) throw new InvalidSpecError(file, field, `this SQL does not parse: ${tree.error_message ?? 'unknown error'}`);
  if ((tree.statements?.length ?? 0) !== 1) throw new InvalidSpecError(file, field, 'this SQL must be exactly one SELECT');
  const ctes = new Set<string>();
  const tables: string[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    const map = (o.cte_map as { map?: { key: string }[] } | undefined)?.map;
    for (const entry of map ?? []) ctes.add(entry.key);
    if (o.type === 'TABLE_FUNCTION') throw new InvalidSpecError(file, field, `this SQL may read only \`${reads}\`, not a table function or a file`);
    if (o.type === 'BASE_TABLE') {
      if (o.schema_name || o.catalog_name) throw new InvalidSpecError(file, field, `this SQL may read only \`${reads}\`, not ${String(o.schema_name)}.${String(o.table_name)}`);
      tables.push(String(o.table_name));
    }
    Object.values(o).forEach(walk);
  };
  walk(tree.statements);
  const other = tables.filter((t) => t !== reads && !ctes.has(t));
  if (other.length) {
    throw new InvalidSpecError(file, field, `this SQL may read only \`${reads}\`${reads === 'events' ? ' (the rows known before its instant)' : ''}, not ${[...new Set(other)].map((t) => `\`${t}\``).join(', ')}`);
  }
  if (!tables.includes(reads)) throw new InvalidSpecError(file, field, `this SQL must read \`${reads}\``);
}

const PARTITION_GRAIN_MS: Record<string, number> = { day: 86_400_000, week: 7 * 86_400_000, month: 28 * 86_400_000, year: 365 * 86_400_000 };

/**
 * How many partitions before the oldest one being featurized its rows' views may need history
 * from: for a dataset partitioned by time, enough to cover the longest window and a grain
 * (plus one for rows known late); otherwise every older one (undefined).
 */
export function historyPartitionsBack(dataset: DatasetSpec, views: readonly FeatureView[]): number | undefined {
  if (dataset.partitioning.by !== 'time') return undefined;
  const reach = Math.max(...views.map((v) => v.window.ms + GRAIN_MS[v.grain]));
  return Math.ceil(reach / PARTITION_GRAIN_MS[dataset.partitioning.grain]!) + 1;
}
