// `npm run bench:views`: what flight_delay's feature views add, and what they cost to build,
// through the product's own code (featureQuery with the views joined as of each row's hour,
// from every flight known before it).
//
// 1. June AUC: train on January-May 2001, test on June, with bench:gbdt's trainer and
//    parameters (500 rounds, 63 leaves, learning rate 0.1, 255 bins, no early stopping), the
//    spec as shipped against the same spec without its views.
// 2. The demo's April decay: the champion `npm start` trains (the first 12 weeks released:
//    weeks 3-10 train, 11 stops early, 12 judges; the spec's own parameters), then its AUC on
//    every later week. Decay = its holdout AUC minus its mean AUC over the April weeks.
// 3. Feature build time of both sets (the training-set build's query), each side.
// Besides the spec with and without its views, both are measured for the spec as it was at
// --before (a git revision; default: the commit before flight_delay declared views), the demo
// the views are meant to improve on.
// While flight_delay's spec declares no views, "with views" is the spec plus PROPOSED_VIEWS
// (what bench:views:candidates measured best), so the adoption is judged before it is made.
// Options: --rounds N (default 500) --threads N (default 2) --before REV (default 0f228a2^)
import { execFileSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { FLIGHTS_SOURCE, PROJECT_ROOT, resolvePaths } from '../core/config.js';
import { scorePredictions, trainInOwnProcess } from './train-process.js';
import { openDuckDB, queryRows, quoteLiteral } from '../core/duckdb.js';
import { featureQuery, LABEL_COLUMN } from '../core/features.js';
import { gbdtParams, loadSpec, specFromTexts, specShape, type LoadedSpec } from '../core/spec.js';
import { readLabeled } from '../activities/training-thread.js';
import { metricValue } from '../ml/metrics.js';
import { predict } from '../ml/gbdt/model.js';
import { trainGbdt } from '../ml/gbdt/train.js';
import { modelTask } from '../tasks/index.js';
import { option } from './options.js';

const rounds = Number(option('rounds', '500'));
const threads = Number(option('threads', '2'));
const before = option('before', '0f228a2^');
const paths = resolvePaths();
const dir = path.join(paths.stateDir, 'bench', 'views');
const HISTORY = `SELECT * FROM read_parquet(${quoteLiteral(FLIGHTS_SOURCE)})`;

/** The late share of the flights that landed at each origin and destination in the 3 hours before the departure's hour. */
const PROPOSED_VIEWS = ['origin', 'destination'].map((entity) => ({
  name: `${entity}_recent`,
  sql: `views/delay_rate_by_${entity}.sql`,
  knownAt: 'views/flights_known_at.sql',
  entity: [entity],
  window: '3 hours',
  grain: 'hour',
  maxAge: '6 hours',
  values: { [`${entity}_delay_rate`]: null },
}));

/** The spec with PROPOSED_VIEWS when it declares none. */
async function withViews(loaded: LoadedSpec): Promise<LoadedSpec> {
  if (loaded.spec.features.views.length > 0) return loaded;
  const raw = JSON.parse(loaded.texts.spec) as { features: { columns: { name: string; kind: string }[]; views?: unknown; time?: unknown } };
  raw.features.time = 'departure';
  raw.features.views = PROPOSED_VIEWS;
  raw.features.columns.push(...PROPOSED_VIEWS.map((v) => ({ name: Object.keys(v.values)[0]!, kind: 'numeric' })));
  return specFromTexts(paths, loaded.spec.name, loaded.file, JSON.stringify(raw), async () => loaded.texts.dataset, (sql) => readFile(path.join(paths.sqlDir, sql), 'utf8'));
}

/** The same spec without its views (and the columns they feed). */
async function withoutViews(loaded: LoadedSpec): Promise<LoadedSpec> {
  const raw = JSON.parse(loaded.texts.spec) as { features: { columns: { name: string }[]; views?: unknown; time?: unknown } };
  const fed = new Set(loaded.spec.features.views.flatMap((v) => v.values.map((c) => c.name)));
  raw.features.columns = raw.features.columns.filter((c) => !fed.has(c.name));
  delete raw.features.views;
  delete raw.features.time;
  return specFromTexts(paths, loaded.spec.name, loaded.file, JSON.stringify(raw), async () => loaded.texts.dataset, async () => loaded.featureSql);
}

/** The spec (and its SQL) as committed at git revision `rev`. */
async function atRevision(loaded: LoadedSpec, rev: string): Promise<LoadedSpec> {
  const show = (file: string) => execFileSync('git', ['show', `${rev}:${file}`], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  const relative = (file: string) => path.relative(PROJECT_ROOT, file);
  return specFromTexts(paths, loaded.spec.name, loaded.file, show(relative(loaded.file)), async () => loaded.texts.dataset, async (sql) => show(relative(path.join(paths.sqlDir, sql))));
}

/** Labelled feature rows of the flights matching `where`, written to `file`; seconds taken. */
async function build(loaded: LoadedSpec, where: string, file: string): Promise<number> {
  const db = await openDuckDB({ threads: 2 });
  try {
    const started = performance.now();
    const source = `SELECT * FROM read_parquet(${quoteLiteral(FLIGHTS_SOURCE)}) WHERE ${where}`;
    const rows = featureQuery(loaded, source, true, { kind: 'history', historySql: HISTORY });
    await db.connection.run(`COPY (SELECT * FROM (${rows}) WHERE ${LABEL_COLUMN} IS NOT NULL) TO ${quoteLiteral(file)} (FORMAT parquet)`);
    return (performance.now() - started) / 1000;
  } finally {
    db.close();
  }
}

async function juneAuc(loaded: LoadedSpec, label: string): Promise<string> {
  const out = path.join(dir, label);
  await mkdir(out, { recursive: true });
  const files = { train: path.join(out, 'train.parquet'), test: path.join(out, 'test.parquet'), predictions: path.join(out, 'june.f64') };
  const built = (await build(loaded, 'month(date) <= 5', files.train)) + (await build(loaded, 'month(date) = 6', files.test));
  const params = gbdtParams(loaded.spec, { numIterations: rounds, numLeaves: 63, learningRate: 0.1, maxBin: 255, numThreads: threads, minDataInLeaf: 20, lambdaL2: 0, earlyStoppingRounds: 0 });
  const features = loaded.spec.features.columns;
  const job = { train: files.train, test: files.test, predictions: files.predictions, features, params };
  const run = trainInOwnProcess(job);
  const { metrics, trainRows, testRows } = await scorePredictions(job, modelTask(specShape(loaded.spec)));
  return `| ${label} | ${trainRows} / ${testRows} | ${metricValue(metrics, 'auc').toFixed(4)} | ${metricValue(metrics, 'logLoss').toFixed(4)} | ${built.toFixed(1)} s | ${run.seconds.toFixed(1)} s |`;
}

/** The demo's first champion and its AUC week by week after it. */
async function decay(loaded: LoadedSpec, label: string): Promise<string> {
  const out = path.join(dir, label);
  await mkdir(out, { recursive: true });
  const all = path.join(out, 'weeks.parquet');
  const db = await openDuckDB({ threads: 2 });
  let weeks: string[];
  try {
    const source = `SELECT * FROM read_parquet(${quoteLiteral(FLIGHTS_SOURCE)})`;
    const rows = featureQuery(loaded, source, true, { kind: 'history', historySql: HISTORY });
    // The week of each row, by the same ISO weeks the lake partitions by.
    const weekOf = `SELECT strftime(date_trunc('week', date), '%Y-%m-%d') AS __week FROM read_parquet(${quoteLiteral(FLIGHTS_SOURCE)})`;
    await db.connection.run(`COPY (SELECT * FROM (${weekOf}) POSITIONAL JOIN (${rows}) WHERE ${LABEL_COLUMN} IS NOT NULL) TO ${quoteLiteral(all)} (FORMAT parquet)`);
    weeks = (await queryRows(db.connection, `SELECT DISTINCT __week FROM read_parquet(${quoteLiteral(all)}) ORDER BY 1`)).map((r) => String(r.__week));
    for (const w of weeks) await db.connection.run(`COPY (SELECT * EXCLUDE (__week) FROM read_parquet(${quoteLiteral(all)}) WHERE __week = ${quoteLiteral(w)}) TO ${quoteLiteral(path.join(out, `${w}.parquet`))} (FORMAT parquet)`);
  } finally {
    db.close();
  }
  const features = loaded.spec.features.columns;
  const read = async (ws: readonly string[]) => {
    const parts = await Promise.all(ws.map((w) => readLabeled(path.join(out, `${w}.parquet`), features)));
    return parts;
  };
  // npm start's first training: 12 weeks released, the split's newest 10: 8 train, 1 validates, 1 judges.
  const [trainWeeks, validationWeek, holdoutWeek] = [weeks.slice(2, 10), weeks[10]!, weeks[11]!];
  const trainFiles = trainWeeks.map((w) => path.join(out, `${w}.parquet`));
  const db2 = await openDuckDB({ threads: 2 });
  const trainFile = path.join(out, 'train.parquet');
  try {
    await db2.connection.run(`COPY (SELECT * FROM read_parquet([${trainFiles.map(quoteLiteral).join(', ')}])) TO ${quoteLiteral(trainFile)} (FORMAT parquet)`);
  } finally {
    db2.close();
  }
  const train = await readLabeled(trainFile, features);
  const [validation] = await read([validationWeek]);
  const params = gbdtParams(loaded.spec, { numThreads: threads });
  const model = await trainGbdt(train, params, { validation: validation! });
  const task = modelTask(specShape(loaded.spec));
  const baseline = task.kind.baseline(train.labels, params.numClass);
  const aucOf = async (w: string) => {
    const [t] = await read([w]);
    return metricValue(task.evaluate(t!.labels, predict(model, t!.features), baseline), 'auc');
  };
  const holdout = await aucOf(holdoutWeek);
  const later: string[] = [];
  const april: number[] = [];
  for (const w of weeks.slice(12)) {
    const auc = await aucOf(w);
    later.push(`${w.slice(5)} ${auc.toFixed(3)}`);
    if (w.startsWith('2001-04')) april.push(auc);
  }
  const aprilMean = april.reduce((a, b) => a + b, 0) / april.length;
  console.log(`${label}: weekly AUC after ${holdoutWeek}: ${later.join(', ')}`);
  return `| ${label} | ${model.iterations} | ${holdout.toFixed(4)} | ${aprilMean.toFixed(4)} (${april.length} weeks) | ${(holdout - aprilMean).toFixed(4)} |`;
}

async function main(): Promise<void> {
  const shipped = await withViews(await loadSpec(paths, 'flight_delay'));
  const bare = await withoutViews(shipped);
  const views = shipped.spec.features.views.map((v) => `${v.name} (${v.entity.join(' x ')}, ${v.window.text}, per ${v.grain})`).join(', ');
  console.log(`views: ${views}`);
  const old = await atRevision(shipped, before);
  console.log(`before (${before}): ${old.spec.features.columns.map((c) => c.name).join(', ')}; views: ${old.spec.features.views.map((v) => v.name).join(', ') || 'none'}`);
  const labels = { old: `before (${before})`, bare: 'without views', shipped: 'with views' };
  const june = [await juneAuc(old, labels.old), await juneAuc(bare, labels.bare), await juneAuc(shipped, labels.shipped)];
  console.log(`\n| flight_delay | train / test rows | June AUC | June log loss | features built | training (${rounds} rounds) |\n|---|---|---|---|---|---|\n${june.join('\n')}`);
  const decays = [await decay(old, labels.old), await decay(bare, labels.bare), await decay(shipped, labels.shipped)];
  console.log(`\n| demo's first champion | rounds (early stopped) | holdout AUC (week 12) | April AUC, mean of weeks | decay |\n|---|---|---|---|---|\n${decays.join('\n')}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
