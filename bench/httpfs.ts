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
// window: hive predicate on `week`), each run three times; "cold" for the cache is the first
// run with an empty cache.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, resolvePaths } from '../core/config.js';
import { openDuckDB, quoteLiteral } from '../core/duckdb.js';
import { ensureFlightsLake } from '../data/flights.js';
import { openLake } from '../storage/lake.js';
import { createBucket, s3Env, startS3Server } from '../test/s3-server.js';

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
  const state = await mkdtemp(path.join(tmpdir(), 'mlops-httpfs-'));
  try {
    const s3 = s3Env(server.endpoint);
    Object.assign(process.env, s3);
    const bucket = await createBucket(server.endpoint);
    const paths = resolvePaths({ MLOPS_STATE_DIR: state, MLOPS_STORE: `s3://${bucket}/bench` });
    await ensureFlightsLake(paths, 26);
    const lake = openLake(paths);
    const partitions = await lake.partitions('flights', 'week');
    const files = partitions.flatMap((p) => p.files);
    const rows: string[] = [];

    // httpfs, in DuckDB 1.5.5.
    const old = createRequire(path.join(OLD_DUCKDB, 'package.json'))('@duckdb/node-api') as typeof import('@duckdb/node-api');
    const instance = await old.DuckDBInstance.create(':memory:', { allow_unsigned_extensions: 'true' });
    const c = await instance.connect();
    await c.run(`LOAD ${quoteLiteral(HTTPFS_FILE)}`);
    const endpoint = new URL(server.endpoint);
    await c.run(
      `CREATE SECRET bench (TYPE s3, KEY_ID 'test', SECRET 'test', REGION 'us-east-1', ENDPOINT ${quoteLiteral(endpoint.host)}, URL_STYLE 'path', USE_SSL false)`,
    );
    const remote = `read_parquet(${quoteLiteral(`s3://${bucket}/bench/lake/flights/*/*.parquet`)}, hive_partitioning = true)`;
    for (const q of QUERIES) {
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push(await time(() => c.runAndReadAll(q.sql(remote))));
      rows.push(`| ${q.name} | httpfs (DuckDB 1.5.5) | ${runs.map((s) => s.toFixed(3)).join(' / ')} s |`);
    }
    c.closeSync();

    // The read-through cache, in the project's DuckDB.
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
        rows.push(`| ${q.name} | ETag cache (DuckDB ${(await import('@duckdb/node-api')).version()}) | ${runs.map((s) => s.toFixed(3)).join(' / ')} s |`);
      }
    } finally {
      db.close();
    }
    console.log(`\n${files.length} files in the bucket\n\n| query | reader | runs 1 / 2 / 3 |\n|---|---|---|\n${rows.join('\n')}`);
  } finally {
    await server.stop();
    await rm(state, { recursive: true, force: true });
  }
}

run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
