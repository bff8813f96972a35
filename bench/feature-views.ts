// `npm run bench:views:candidates`: which history features would help flight_delay, measured before they
// are built into the product (issue 23: "chosen by measurement").
//
// Train on January-May 2001, test on June, this project's GBDT with the same parameters for
// every candidate set (bench/gbdt-train.ts, as `npm run bench:gbdt`). Each candidate is a
// point-in-time aggregate of earlier flights: a flight's delay counts only from when it was
// known (its arrival: scheduled departure + an estimated 30 min + distance / 8 miles a minute
// + its delay), and a row sees the value as of the start of its grain (the day or the week it
// departs in), computed from flights known before that instant. That is exactly what a store
// materialized at each boundary would serve, so the measured lift is one serving can deliver.
// Options: --rounds N (default 300) --threads N (default 2)
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { FLIGHTS_SOURCE, resolvePaths } from '../core/config.js';
import { scorePredictions, trainInOwnProcess } from './train-process.js';
import { openDuckDB, quoteLiteral } from '../core/duckdb.js';
import { gbdtParams, loadSpec, specShape, type FeatureColumn } from '../core/spec.js';
import { metricValue } from '../ml/metrics.js';
import { modelTask } from '../tasks/index.js';
import { option } from './options.js';

const rounds = Number(option('rounds', '300'));
const threads = Number(option('threads', '2'));
const paths = resolvePaths();
const dir = path.join(paths.stateDir, 'bench', 'feature-views');

/** One history feature: a rate or a count over an entity's earlier flights, as of its grain's start. */
interface View {
  readonly name: string;
  /** SQL of the entity key over the flights, its columns prefixed by `p` (a table alias and a dot, or nothing). */
  readonly entity: (p: string) => string;
  /** The window, in `unit`s before the grain's start, and the unit flights are bucketed by. */
  readonly window: number;
  readonly unit: 'hour' | 'day';
  readonly grain: 'hour' | 'day' | 'week';
  readonly value: 'delay_rate' | 'flights_per_day';
}

const VIEWS: Record<string, View> = {
  origin_rate_7d: { name: 'origin_rate_7d', entity: (p) => `${p}origin`, window: 7, unit: 'day', grain: 'day', value: 'delay_rate' },
  dest_rate_7d: { name: 'dest_rate_7d', entity: (p) => `${p}destination`, window: 7, unit: 'day', grain: 'day', value: 'delay_rate' },
  origin_hour_rate_28d: { name: 'origin_hour_rate_28d', entity: (p) => `${p}origin || '@' || hour(${p}date)`, window: 28, unit: 'day', grain: 'day', value: 'delay_rate' },
  origin_hour_flights_28d: { name: 'origin_hour_flights_28d', entity: (p) => `${p}origin || '@' || hour(${p}date)`, window: 28, unit: 'day', grain: 'day', value: 'flights_per_day' },
  all_rate_7d: { name: 'all_rate_7d', entity: () => "'all'", window: 7, unit: 'day', grain: 'day', value: 'delay_rate' },
  origin_rate_7d_weekly: { name: 'origin_rate_7d_weekly', entity: (p) => `${p}origin`, window: 7, unit: 'day', grain: 'week', value: 'delay_rate' },
  origin_rate_3h: { name: 'origin_rate_3h', entity: (p) => `${p}origin`, window: 3, unit: 'hour', grain: 'hour', value: 'delay_rate' },
  dest_rate_3h: { name: 'dest_rate_3h', entity: (p) => `${p}destination`, window: 3, unit: 'hour', grain: 'hour', value: 'delay_rate' },
  all_rate_3h: { name: 'all_rate_3h', entity: () => "'all'", window: 3, unit: 'hour', grain: 'hour', value: 'delay_rate' },
  dest_rate_7d_weekly: { name: 'dest_rate_7d_weekly', entity: (p) => `${p}destination`, window: 7, unit: 'day', grain: 'week', value: 'delay_rate' },
};

/** Candidates to run: all, or those named by --only (comma-separated). */
const CANDIDATES_ALL: Record<string, readonly string[]> = {
  'none (today)': [],
  'origin + destination rate, 7 d, daily': ['origin_rate_7d', 'dest_rate_7d'],
  '+ origin x hour rate, 28 d': ['origin_rate_7d', 'dest_rate_7d', 'origin_hour_rate_28d'],
  '+ origin x hour flights a day (congestion)': ['origin_rate_7d', 'dest_rate_7d', 'origin_hour_rate_28d', 'origin_hour_flights_28d'],
  '+ network rate, 7 d': ['origin_rate_7d', 'dest_rate_7d', 'origin_hour_rate_28d', 'origin_hour_flights_28d', 'all_rate_7d'],
  'origin + destination rate, 7 d, weekly': ['origin_rate_7d_weekly', 'dest_rate_7d_weekly'],
  'origin + destination rate, 3 h, hourly': ['origin_rate_3h', 'dest_rate_3h'],
  '+ network rate, 3 h': ['origin_rate_3h', 'dest_rate_3h', 'all_rate_3h'],
  '+ origin x hour flights a day (congestion), 3 h rates': ['origin_rate_3h', 'dest_rate_3h', 'origin_hour_flights_28d'],
};
const only = option('only', '').split(',').filter(Boolean);
const CANDIDATES = Object.fromEntries(Object.entries(CANDIDATES_ALL).filter(([, views], i) => only.length === 0 || only.includes(String(i)) || (i === 0 && views.length === 0)));

/** The point-in-time value of a view for every flight, as a CTE named after it. */
function viewCte(v: View): string {
  const known = `(SELECT ${v.entity('')} AS k, date_trunc('${v.unit}', known_at) AS d, count(*) AS n, sum(CAST(delay > 15 AS INTEGER)) AS pos FROM flights WHERE delay IS NOT NULL GROUP BY ALL)`;
  const bounds = `(SELECT DISTINCT date_trunc('${v.grain}', date) AS b FROM flights)`;
  const value = v.value === 'delay_rate' ? `sum(pos) / sum(n)` : `sum(n) / ${v.window}`;
  return (
    `${v.name} AS (SELECT a.k, b.b, ${value} AS v FROM ${bounds} b JOIN ${known} a ` +
    `ON a.d >= b.b - INTERVAL ${v.window} ${v.unit.toUpperCase()} AND a.d < b.b GROUP BY ALL)`
  );
}

async function prepare(name: string, views: readonly View[]): Promise<{ train: string; test: string }> {
  const out = path.join(dir, name.replace(/\W+/g, '_'));
  await mkdir(out, { recursive: true });
  const files = { train: path.join(out, 'train.parquet'), test: path.join(out, 'test.parquet') };
  const db = await openDuckDB({ threads: 2 });
  try {
    const ctes = [
      `flights AS (SELECT *, date + to_minutes(CAST(30 + distance / 8 + greatest(coalesce(delay, 0), 0) AS BIGINT)) AS known_at FROM read_parquet(${quoteLiteral(FLIGHTS_SOURCE)}))`,
      ...views.map(viewCte),
    ];
    const joins = views.map((v) => `LEFT JOIN ${v.name} ON ${v.name}.k = ${v.entity('f.')} AND ${v.name}.b = date_trunc('${v.grain}', f.date)`);
    const columns = views.map((v) => `${v.name}.v AS ${v.name}`);
    for (const [side, where] of [['train', 'month(f.date) <= 5'], ['test', 'month(f.date) = 6']] as const) {
      const query =
        `WITH ${ctes.join(',\n')} SELECT hour(f.date) AS hour, isodow(f.date) AS day_of_week, f.distance, f.origin, f.destination, ` +
        `f.origin || '-' || f.destination AS route${columns.map((c) => `, ${c}`).join('')}, CAST(f.delay > 15 AS DOUBLE) AS __label ` +
        `FROM flights f ${joins.join(' ')} WHERE f.delay IS NOT NULL AND ${where}`;
      await db.connection.run(`COPY (${query}) TO ${quoteLiteral(files[side])} (FORMAT parquet)`);
    }
  } finally {
    db.close();
  }
  return files;
}

async function main(): Promise<void> {
  const loaded = await loadSpec(paths, 'flight_delay');
  const base = loaded.spec.features.columns;
  const params = gbdtParams(loaded.spec, { numIterations: rounds, numLeaves: 63, learningRate: 0.1, maxBin: 255, numThreads: threads, minDataInLeaf: 20, lambdaL2: 0, earlyStoppingRounds: 0 });
  const task = modelTask(specShape(loaded.spec));
  const rows: string[] = [];
  for (const [name, viewNames] of Object.entries(CANDIDATES)) {
    const views = viewNames.map((v) => VIEWS[v]!);
    const started = performance.now();
    const files = await prepare(name, views);
    const built = (performance.now() - started) / 1000;
    const features: FeatureColumn[] = [...base, ...views.map((v) => ({ name: v.name, kind: 'numeric' as const }))];
    const predictions = path.join(dir, `${name.replace(/\W+/g, '_')}.f64`);
    const job = { train: files.train, test: files.test, predictions, features, params };
    const run = trainInOwnProcess(job);
    const { metrics } = await scorePredictions(job, task);
    const line = `| ${name} | ${metricValue(metrics, 'auc').toFixed(4)} | ${metricValue(metrics, 'logLoss').toFixed(4)} | ${built.toFixed(1)} s | ${run.seconds.toFixed(1)} s |`;
    console.log(line);
    rows.push(line);
  }
  console.log(`\n| features | June AUC | June log loss | features built | training |\n|---|---|---|---|---|\n${rows.join('\n')}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
