// `npm run bench:gbdt`: this project's GBDT against LightGBM 4 on the flights data, both in
// the same run on the same machine with the same parameters.
//
// Train on January-May 2001, test on June, with each model's own feature SQL (flight_delay:
// binary, flight_delay_class: multiclass, flight_delay_minutes: regression). Both trainers
// get the same Parquet files; both sets of predictions are scored by the same metric code.
// Options: --models a,b  --rounds N  --threads N
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { FLIGHTS_SOURCE, PROJECT_ROOT, resolvePaths } from '../core/config.js';
import { openDuckDB, quoteLiteral } from '../core/duckdb.js';
import { featureQuery, LABEL_COLUMN } from '../core/features.js';
import { gbdtParams, loadSpec, specShape, type LoadedSpec } from '../core/spec.js';
import { readLabeled } from '../activities/training-thread.js';
import { metricValue, type Metrics } from '../ml/metrics.js';
import { modelTask, taskKind } from '../tasks/index.js';
import type { GbdtParams } from '../ml/gbdt/params.js';
import { trainInOwnProcess } from './train-process.js';
import { option } from './options.js';

const LIGHTGBM_VERSION = '4.6.0';

const models = option('models', 'flight_delay,flight_delay_class,flight_delay_minutes').split(',');
const rounds = Number(option('rounds', '500'));
const threads = Number(option('threads', '2'));
const paths = resolvePaths();
const benchDir = path.join(paths.stateDir, 'bench', 'gbdt');

function ensureLightGbm(): void {
  const probe = spawnSync('python3', ['-c', 'import lightgbm, pandas, pyarrow, numpy'], { stdio: 'ignore' });
  if (probe.status === 0) return;
  console.log(`installing lightgbm==${LIGHTGBM_VERSION}, pandas, pyarrow from PyPI ...`);
  execFileSync('python3', ['-m', 'pip', 'install', '--quiet', `lightgbm==${LIGHTGBM_VERSION}`, 'pandas', 'pyarrow', 'numpy'], { stdio: 'inherit' });
}

/** Train (Jan-May) and test (June) sets through the model's feature SQL, labelled rows only. */
async function prepare(loaded: LoadedSpec): Promise<{ train: string; test: string }> {
  const dir = path.join(benchDir, loaded.spec.name);
  await mkdir(dir, { recursive: true });
  const files = { train: path.join(dir, 'train.parquet'), test: path.join(dir, 'test.parquet') };
  const db = await openDuckDB({ threads: 2 });
  try {
    for (const [name, where] of [['train', 'month(date) <= 5'], ['test', 'month(date) = 6']] as const) {
      const source = `SELECT * FROM read_parquet(${quoteLiteral(FLIGHTS_SOURCE)}) WHERE ${where}`;
      // Feature views read every flight known before each row's instant, whatever its month.
      const history = `SELECT * FROM read_parquet(${quoteLiteral(FLIGHTS_SOURCE)})`;
      const query = `SELECT * FROM (${featureQuery(loaded, source, true, { kind: 'history', historySql: history })}) WHERE ${LABEL_COLUMN} IS NOT NULL`;
      await db.connection.run(`COPY (${query}) TO ${quoteLiteral(files[name])} (FORMAT parquet)`);
    }
  } finally {
    db.close();
  }
  return files;
}

interface RunResult {
  readonly seconds: number;
  readonly peakMB: number;
  readonly rounds: number;
  readonly version?: string;
}

function runJson(command: string, args: string[]): RunResult {
  const out = execFileSync(command, args, { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as RunResult;
}

function lightGbmParams(p: GbdtParams): Record<string, unknown> {
  return {
    objective: p.objective === 'regression' ? 'regression' : p.objective,
    ...(p.objective === 'multiclass' ? { num_class: p.numClass } : {}),
    num_leaves: p.numLeaves,
    learning_rate: p.learningRate,
    max_bin: p.maxBin,
    num_threads: p.numThreads,
    min_data_in_leaf: p.minDataInLeaf,
    min_sum_hessian_in_leaf: p.minSumHessianInLeaf,
    lambda_l2: p.lambdaL2,
    max_cat_to_onehot: p.maxCatToOnehot,
    max_cat_threshold: p.maxCatThreshold,
    cat_smooth: p.catSmooth,
    cat_l2: p.catL2,
    min_data_per_group: p.minDataPerGroup,
    bin_construct_sample_cnt: p.binSampleCount,
    seed: p.seed,
  };
}

/** The task's metrics, by name. */
function headline(m: Metrics): Record<string, number> {
  return Object.fromEntries(Object.keys(taskKind(m.task).metrics).map((name) => [name, metricValue(m, name)]));
}

async function main(): Promise<void> {
  ensureLightGbm();
  const cpu = execFileSync('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2; nproc"], { encoding: 'utf8' }).trim().split('\n');
  console.log(`machine: ${cpu[0]?.trim()}, ${cpu[1]} cores; node ${process.version}; ${rounds} rounds, ${threads} threads`);
  const lines: string[] = [];
  for (const model of models) {
    const loaded = await loadSpec(paths, model);
    const files = await prepare(loaded);
    // The benchmark's parameters: 255 bins, 63 leaves, learning rate 0.1, fixed rounds, no early stopping.
    const params = gbdtParams(loaded.spec, { numIterations: rounds, numLeaves: 63, learningRate: 0.1, maxBin: 255, numThreads: threads, minDataInLeaf: 20, lambdaL2: 0, earlyStoppingRounds: 0 });
    const features = loaded.spec.features.columns;
    const ours = path.join(benchDir, model, 'ours.f64');
    const theirs = path.join(benchDir, model, 'lightgbm.f64');
    console.log(`\n${model} (${loaded.spec.task}): training this project's GBDT ...`);
    const a = trainInOwnProcess({ train: files.train, test: files.test, predictions: ours, features, params });
    console.log(`${model}: training LightGBM ...`);
    const b = runJson('python3', [
      'bench/lightgbm_train.py',
      JSON.stringify({
        train: files.train,
        test: files.test,
        predictions: theirs,
        features: features.map((f) => f.name),
        categorical: features.filter((f) => f.kind === 'categorical').map((f) => f.name),
        params: lightGbmParams(params),
        rounds,
      }),
    ]);
    const train = await readLabeled(files.train, features);
    const test = await readLabeled(files.test, features);
    const task = modelTask(specShape(loaded.spec));
    const baseline = task.kind.baseline(train.labels, params.numClass);
    const score = async (file: string) => task.evaluate(test.labels, new Float64Array((await readFile(file)).buffer.slice(0)), baseline);
    const ma = headline(await score(ours));
    const mb = headline(await score(theirs));
    const rows = [
      ['', 'this project', `LightGBM ${b.version}`, 'ratio'],
      ['train rows / test rows', `${train.features.rows} / ${test.features.rows}`, '', ''],
      ['training wall time (s)', a.seconds.toFixed(1), b.seconds.toFixed(1), (a.seconds / b.seconds).toFixed(2)],
      ['peak memory (MB)', a.peakMB.toFixed(0), b.peakMB.toFixed(0), (a.peakMB / b.peakMB).toFixed(2)],
      ['rounds', String(a.rounds), String(b.rounds), ''],
      ...Object.keys(ma).map((k) => [`test ${k}`, ma[k]!.toFixed(5), mb[k]!.toFixed(5), (ma[k]! / mb[k]!).toFixed(4)]),
    ];
    const table = [`### ${model} (${loaded.spec.task})`, '', ...rows.map((r, i) => `| ${r.join(' | ')} |${i === 0 ? `\n|${' --- |'.repeat(4)}` : ''}`)].join('\n');
    console.log(`\n${table}`);
    lines.push(table);
  }
  console.log(`\n--- markdown for BENCHMARKS.md ---\n\n${lines.join('\n\n')}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
