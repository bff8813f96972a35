// Command line for the lake:
//   npm run lake -- ingest <file or glob> ... --dataset <name> [--format csv|tsv|json|ndjson|parquet]
//                  [--partition-by time:<column>:<grain> | key:<column> | arrival]
//                                              ingest raw files through IngestDatasetWorkflow (npm start
//                                              must be running); drafts datasets/<name>.json first when
//                                              the dataset is not declared yet
//   npm run lake -- draft <file> --dataset <name> [--partition-by ...]   only draft the declaration
//   npm run lake -- bootstrap [initialWeeks]   split the flights source and release the first weeks
//   npm run lake -- release [count]            release the next flights week(s), oldest first
//   npm run lake -- status                     which flights weeks are in the lake, which are pending
import { Client, Connection } from '@temporalio/client';
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { resolvePaths, temporalSettings, type Paths } from '../core/config.js';
import { listDatasets, loadDataset, parseDataset } from '../core/dataset.js';
import { rootCause } from '../core/errors.js';
import { RAW_FORMATS, type RawFormat } from '../core/raw-files.js';
import { WorkflowStarter } from '../runs/starter.js';
import { draftDataset, parsePartitioning } from './draft.js';
import { parseFlags } from './flags.js';
import { openLake } from '../storage/lake.js';
import { bootstrapFlights, DEFAULT_INITIAL_WEEKS, ensureFlightsLake, FLIGHTS_DATASET, lakeStatus, releaseWeeks } from './flights.js';

const USAGE = 'use: npm run lake -- ingest <file or glob>... --dataset <name> [--format f] [--partition-by p] | draft <file> --dataset <name> | bootstrap [weeks] | release [count] | status';

async function draftIfMissing(paths: Paths, file: string, dataset: string, flags: Record<string, string>, force: boolean): Promise<void> {
  if (!force && (await listDatasets(paths.datasetsDir)).includes(dataset)) return;
  const draft = await draftDataset(path.resolve(file), dataset, flags['partition-by'] ? parsePartitioning(flags['partition-by']) : undefined, flags.format as RawFormat | undefined);
  parseDataset(draft, `datasets/${dataset}.json`); // a draft that would not load is a bug, not a file to leave behind
  await mkdir(paths.datasetsDir, { recursive: true });
  const file_ = path.join(paths.datasetsDir, `${dataset}.json`);
  await writeFile(file_, `${JSON.stringify(draft, null, 2)}\n`);
  console.log(`drafted ${path.relative(process.cwd(), file_) || file_} from ${file}: ${(draft.columns as unknown[]).length} columns; check it, then ingest`);
}

async function ingest(paths: Paths, argv: readonly string[]): Promise<void> {
  const { flags, args } = parseFlags(argv, ['dataset', 'format', 'partition-by']);
  const dataset = flags.dataset;
  if (!dataset) throw new Error(`ingest: --dataset <name> is required; ${USAGE}`);
  if (args.length === 0) throw new Error(`ingest: name a file or glob; ${USAGE}`);
  if (flags.format && !(RAW_FORMATS as readonly string[]).includes(flags.format)) throw new Error(`--format ${flags.format}: one of ${RAW_FORMATS.join(', ')}`);
  const sources = args.map((a) => path.resolve(a));
  if (!/[*?[]/.test(args[0]!)) await draftIfMissing(paths, sources[0]!, dataset, flags, false);
  else if (!(await listDatasets(paths.datasetsDir)).includes(dataset)) {
    throw new Error(`dataset '${dataset}' is not declared: draft it from one file first (npm run lake -- draft <file> --dataset ${dataset}), then ingest the glob`);
  }
  await loadDataset(paths.datasetsDir, dataset); // a broken declaration is named here, before anything starts
  const temporal = temporalSettings();
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: temporal.address, connectTimeout: '5s' });
  } catch (err) {
    throw new Error(`Temporal is not reachable at ${temporal.address} (${rootCause(err).message}): start the system with npm start first`);
  }
  try {
    const starter = new WorkflowStarter(new Client({ connection, namespace: temporal.namespace }), temporal.taskQueue);
    const handle = await starter.ingest({ dataset, sources, ...(flags.format ? { format: flags.format } : {}), actor: 'cli' });
    console.log(`ingesting into ${dataset}: workflow ${handle.workflowId}`);
    const result = await handle.result();
    if (result.alreadyIngested) {
      console.log(`already ingested (content ${result.contentHash.slice(0, 12)}): the lake is unchanged`);
    } else {
      console.log(`ingested ${result.rows} rows into ${result.partitions.length} partition(s): ${result.partitions.map((p) => `${p.folder} (${p.rows})`).join(', ')}`);
    }
    if (result.ignoredColumns.length) console.log(`columns not declared, left out: ${result.ignoredColumns.join(', ')}`);
  } catch (err) {
    throw new Error(rootCause(err).message);
  } finally {
    await connection.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const paths = resolvePaths();
  if (argv[0] === 'ingest') return ingest(paths, argv.slice(1));
  if (argv[0] === 'draft') {
    const { flags, args } = parseFlags(argv.slice(1), ['dataset', 'format', 'partition-by']);
    if (!flags.dataset || args.length !== 1) throw new Error(`draft: name one file and --dataset <name>; ${USAGE}`);
    return draftIfMissing(paths, args[0]!, flags.dataset, flags, true);
  }
  const [command = 'status', arg, ...extra] = argv;
  if (extra.length > 0) throw new Error(`unexpected argument '${extra[0]}': ${USAGE}`);
  // Read before anything changes, so a bad count leaves the lake as it was.
  const count = (fallback: number, min: number): number => {
    if (arg === undefined) return fallback;
    if (!/^\d+$/.test(arg) || Number(arg) < min) throw new Error(`${command} ${arg}: expected a whole number of weeks from ${min}`);
    return Number(arg);
  };
  const requireBootstrap = async () => {
    const status = await lakeStatus(paths);
    if (status.released.length + status.pending.length === 0) {
      throw new Error(`no flights lake under ${paths.stateDir}: run npm run lake -- bootstrap (npm start does it too)`);
    }
    return status;
  };
  switch (command) {
    case 'bootstrap': {
      const weeks = count(DEFAULT_INITIAL_WEEKS, 0);
      const marker = await bootstrapFlights(paths);
      console.log(`arrivals: ${marker.rows.toLocaleString('en-US')} flights in ${marker.weeks.length} weeks`);
      const status = await ensureFlightsLake(paths, weeks);
      console.log(`lake: ${status.released.length} weeks released, ${status.pending.length} pending (${openLake(paths).location(FLIGHTS_DATASET)})`);
      break;
    }
    case 'release': {
      const n = count(1, 1);
      await requireBootstrap();
      const weeks = await releaseWeeks(paths, n);
      console.log(weeks.length ? `released: ${weeks.join(', ')}` : 'nothing left to release');
      break;
    }
    case 'status': {
      if (arg !== undefined) throw new Error(`unexpected argument '${arg}': ${USAGE}`);
      console.log(JSON.stringify(await requireBootstrap(), null, 2));
      break;
    }
    default:
      throw new Error(`unknown command '${command}': ${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
