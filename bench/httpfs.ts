// `npm run bench:httpfs`: how DuckDB should read the lake when it is in a bucket. Two ways,
// measured on the same 26 weeks of flights in moto on 127.0.0.1:
//
//   httpfs  DuckDB reads s3:// directly (hive partitioning, the partition predicate pushed down
//           to the listing). The extension cannot be downloaded here: PyPI's
//           duckdb-extension-httpfs 1.5.5 ships it, and it loads only into DuckDB 1.5.5, so this
//           bench installs @duckdb/node-api 1.5.5-r.5 beside the project's (1.5.6) in .tools/.
//   cache   the product's way (storage/s3-store.ts localFile): each file copied once per host,
//           keyed by its ETag, then read from local disk by the project's own DuckDB.
//
// Queries: a full scan (rows and mean delay of every week) and a 5-week window (the drift
// window: hive predicate on `week`), each run three times; the first run of each reader starts
// cold (an empty cache; a fresh DuckDB). Both go through a proxy that adds a round trip to every
// request: 0 ms (moto on this host) and 25 ms (a bucket in another zone or region).
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, resolvePaths } from '../core/config.js';
import { openDuckDB, quoteLiteral } from '../core/duckdb.js';
import { ensureFlightsLake } from '../data/flights.js';
import { openLake } from '../storage/lake.js';
import { createBucket, s3Env, startFaultProxy, startS3Server } from '../test/s3-server.js';

const execFileAsync = promisify(execFile);
const OLD_DUCKDB = path.join(PROJECT_ROOT, '.tools', 'duckdb-1.5.5');
const HTTPFS_DIR = path.join(PROJECT_ROOT, '.tools', 'duckdb-extension-httpfs');
const HTTPFS_FILE = path.join(HTTPFS_DIR, 'duckdb_extension_httpfs', 'extensions', 'v1.5.5', 'httpfs.duckdb_extension');

function installHttpfs(): void {
  if (!existsSync(path.join(OLD_DUCKDB, 'node_modules', '@duckdb', 'node-api'))) {
    execFileSync('npm', ['install', '--prefix', OLD_DUCKDB, '--no-audit', '--no-fund', '--no-save', '@duckdb/node-api@1.5.5-r.5'], { stdio: 'inherit' });
  }
  if (!existsSync(HTTPFS_FILE)) {
    execFileSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--target', HTTPFS_DIR, 'duckdb-extension-httpfs==1.5.5'], { stdio: 'inherit' });
  }
}

interface Query {
  readonly name: string;
  readonly sql: (source: string) => string;
  /** The partitions the product would read for it (its manifests choose them before DuckDB runs). */
  readonly weeks: (week: string) => boolean;
}

const WINDOW_START = '2001-06-04';
const QUERIES: Query[] = [
  { name: 'full scan, 26 weeks', sql: (source) => `SELECT week, count(*) AS n, avg(delay) AS d FROM ${source} GROUP BY week ORDER BY week`, weeks: () => true },
  {
    name: 'window, 5 weeks (hive predicate)',
    sql: (source) => `SELECT count(*) AS n, avg(delay) AS d FROM ${source} WHERE week >= '${WINDOW_START}'`,
    weeks: (week) => week >= WINDOW_START,
  },
];

async function time(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

async function run(): Promise<void> {
  installHttpfs();
  const server = await startS3Server((line) => console.log(line));
  const proxy = await startFaultProxy(server.endpoint);
  const state = await mkdtemp(path.join(tmpdir(), 'mlops-httpfs-'));
  try {
    Object.assign(process.env, s3Env(proxy.endpoint));
    const bucket = await createBucket(server.endpoint);
    const paths = resolvePaths({ MLOPS_STATE_DIR: state, MLOPS_STORE: `s3://${bucket}/bench` });
    await ensureFlightsLake(paths, 26);
    const lake = openLake(paths);
    const partitions = await lake.partitions('flights', 'week');
    const rows: string[] = [];
    for (const delay of [0, 25]) {
      proxy.delayMs = delay;
      // httpfs, in DuckDB 1.5.5, in a process of its own (bench/httpfs-reader.mjs).
      // Asynchronously: the proxy answering the child runs in this process's event loop.
      const child = JSON.parse(
        (await execFileAsync(process.execPath, [
          path.join(PROJECT_ROOT, 'bench', 'httpfs-reader.mjs'),
          OLD_DUCKDB,
          HTTPFS_FILE,
          new URL(proxy.endpoint).host,
          `s3://${bucket}/bench/lake/flights/*/*.parquet`,
          JSON.stringify(QUERIES.map((q) => ({ name: q.name, sql: q.sql('{{source}}') }))),
        ])).stdout,
      ) as { version: string; out: { name: string; runs: number[] }[] };
      for (const r of child.out) rows.push(`| ${delay} ms | ${r.name} | httpfs (DuckDB ${child.version}) | ${r.runs.map((s) => s.toFixed(3)).join(' / ')} s |`);

      // The read-through cache, in the project's DuckDB: each query reads the partitions it needs.
      await rm(path.join(state, 'cache'), { recursive: true, force: true });
      await mkdir(path.join(state, 'cache'), { recursive: true });
      const db = await openDuckDB();
      try {
        for (const q of QUERIES) {
          const runs = [];
          for (let i = 0; i < 3; i++) {
            runs.push(
              await time(async () => {
                const local = await lake.localFiles(partitions.filter((p) => q.weeks(p.value)).flatMap((p) => p.files));
                await db.connection.runAndReadAll(q.sql(`read_parquet([${local.map(quoteLiteral).join(', ')}], hive_partitioning = true)`));
              }),
            );
          }
          rows.push(`| ${delay} ms | ${q.name} | ETag cache (DuckDB ${(await import('@duckdb/node-api')).version()}) | ${runs.map((s) => s.toFixed(3)).join(' / ')} s |`);
        }
      } finally {
        db.close();
      }
    }
    console.log(`\n${partitions.flatMap((p) => p.files).length} files in the bucket\n\n| added round trip | query | reader | runs 1 / 2 / 3 |\n|---|---|---|---|\n${rows.join('\n')}`);
  } finally {
    await proxy.stop();
    await server.stop();
    await rm(state, { recursive: true, force: true });
  }
}

run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
