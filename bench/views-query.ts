// `npm run bench:views:query`: what /predict's feature query costs per micro-batch with a
// model's feature views, their snapshots joined as tables against looked up in a MAP constant
// (core/views.ts SNAPSHOT_LOOKUP_MAX_ENTITIES decides between them), by the snapshots' size.
//
// flight_delay's spec (two views: origin and destination airports) over synthetic snapshots of
// N entities each; batches of R request rows whose airports are drawn from them (one in 20
// missing). Each variant's prepared statement is bound and run as a scoring lane runs it (one
// DuckDB thread), timed from bind to columns read; the two variants alternate, twice.
// Options: --entities 200,1024,4096,20000,200000  --rows 1,16,256  --iterations 400
import { resolvePaths } from '../core/config.js';
import { openDuckDB, queryRows, quoteIdent } from '../core/duckdb.js';
import { featureQuery, requestParameters, requestSource } from '../core/features.js';
import { loadSpec } from '../core/spec.js';
import { SNAPSHOT_LOOKUP_MAX_ENTITIES, snapshotLookupQuery, type SnapshotTable } from '../core/views.js';
import { option } from './options.js';

const MODEL = 'flight_delay';
const entityCounts = option('entities', '200,1024,4096,20000,200000').split(',').map(Number);
const rowCounts = option('rows', '1,16,256').split(',').map(Number);
const iterations = Number(option('iterations', '400'));
const AS_OF = '2001-03-25 23:00:00';
/** Past this many entities the MAP constant takes seconds to prepare and milliseconds a row: only the join is measured. */
const LOOKUP_MEASURED_UP_TO = 20_000;

const loaded = await loadSpec(resolvePaths(), MODEL);
const { spec } = loaded;
if (!spec.features.views.length) throw new Error(`${MODEL} declares no feature views`);
const requestColumns = spec.dataset.columns.filter((c) => c.knownAtPrediction);
const db = await openDuckDB({ threads: 1 });

/** Request rows as /predict binds them: every known-at-prediction column as text. */
function requestRows(rows: number, entities: number): string[][] {
  const airport = (i: number) => (i % 20 === 19 ? 'MISSING' : `E${(i * 7919) % entities}`);
  const sample: Record<string, (i: number) => string> = {
    date: (i) => `2001-03-26 ${String(i % 24).padStart(2, '0')}:10:00`,
    distance: (i) => String(100 + i),
    origin: airport,
    destination: (i) => airport(i + 3),
  };
  return Array.from({ length: rows }, (_, i) => requestColumns.map((c) => sample[c.name]?.(i) ?? '1'));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function time(sql: string, parameters: string[]): Promise<{ p50: number; p99: number }> {
  const statement = await db.connection.prepare(sql);
  const us: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    parameters.forEach((text, k) => statement.bindVarchar(k + 1, text));
    await (await statement.run()).getColumns();
    us.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  statement.destroySync();
  us.sort((a, b) => a - b);
  return { p50: percentile(us, 0.5), p99: percentile(us, 0.99) };
}

console.log(`${MODEL}: ${spec.features.views.length} views; ${iterations} runs per cell; DuckDB with 1 thread\n`);
console.log('| entities per snapshot | rows per batch | joined: p50 / p99 us | looked up: p50 / p99 us | prepare, looked up |');
console.log('|---|---|---|---|---|');
for (const entities of entityCounts) {
  const joined: Record<string, SnapshotTable> = {};
  const looked: Record<string, SnapshotTable> = {};
  for (const view of spec.features.views) {
    const table = `snap_${view.name}`;
    const values = view.values.map((v) => `random() AS ${quoteIdent(v.name)}`).join(', ');
    await db.connection.run(`CREATE OR REPLACE TABLE ${quoteIdent(table)} AS SELECT ${view.entity.map((e) => `'E' || i AS ${quoteIdent(e)}`).join(', ')}, ${values} FROM range(${entities}) r(i)`);
    joined[view.name] = { table, asOf: AS_OF };
    // Rendered past the limit too, up to LOOKUP_MEASURED_UP_TO, to show where the limit sits.
    if (entities <= LOOKUP_MEASURED_UP_TO) {
      const lookup = (await queryRows(db.connection, snapshotLookupQuery(view, table, AS_OF, entities)))[0]!.lookup as string;
      looked[view.name] = { table, asOf: AS_OF, lookup };
    }
  }
  const joinSql = featureQuery(loaded, requestSource(spec), false, { kind: 'snapshots', tables: joined }, true);
  const lookupSql = entities <= LOOKUP_MEASURED_UP_TO ? featureQuery(loaded, requestSource(spec), false, { kind: 'snapshots', tables: looked }, true) : undefined;
  const p0 = process.hrtime.bigint();
  if (lookupSql) (await db.connection.prepare(lookupSql)).destroySync();
  const prepareMs = Number(process.hrtime.bigint() - p0) / 1e6;
  for (const rows of rowCounts) {
    const parameters = requestParameters(requestRows(rows, entities), requestColumns.length);
    const runs = { joined: [] as { p50: number; p99: number }[], looked: [] as { p50: number; p99: number }[] };
    for (let round = 0; round < 2; round++) {
      runs.joined.push(await time(joinSql, parameters));
      if (lookupSql) runs.looked.push(await time(lookupSql, parameters));
    }
    const best = (r: { p50: number; p99: number }[]) => r.reduce((a, b) => (b.p50 < a.p50 ? b : a));
    const j = best(runs.joined);
    const l = lookupSql ? best(runs.looked) : undefined;
    const cells = l ? `${l.p50.toFixed(0)} / ${l.p99.toFixed(0)} | ${prepareMs.toFixed(0)} ms` : 'not measured | ';
    console.log(`| ${entities}${entities <= SNAPSHOT_LOOKUP_MAX_ENTITIES ? '' : ' (joined when served)'} | ${rows} | ${j.p50.toFixed(0)} / ${j.p99.toFixed(0)} | ${cells} |`);
  }
}
db.close();
