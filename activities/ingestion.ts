// Ingestion activities: raw files into a dataset's lake partitions. `stageIngest` reads every
// file, checks it against the dataset's declaration (columns by their raw source, types, nulls)
// and writes the batch as Parquet under a staging folder named by the files' content hash;
// `publishIngest` moves each partition into the lake with one rename (a reader sees the whole
// partition or none of it) and records the hash in the dataset's ledger. Both are idempotent:
// a retry redoes the same work, and the same files ingested again change nothing.
import { Context } from '@temporalio/activity';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Paths } from '../core/config.js';
import { comparePartitionValues, describeColumn, loadDataset, sourceOf, type DatasetSpec } from '../core/dataset.js';
import { openDuckDB, quoteIdent, quoteLiteral, queryRows } from '../core/duckdb.js';
import { replaceDurably } from '../storage/durable.js';
import { IngestError } from '../core/errors.js';
import { exists, hashFile, listPartitions } from '../core/lake.js';
import { expandSources, formatOf, readRawFile, ROW_COLUMN, type RawFormat } from '../core/raw-files.js';
import { sha256 } from '../core/spec.js';
import type { IngestInput, IngestResult, StagedIngest } from '../core/types.js';

export interface IngestionDeps {
  readonly paths: Paths;
}

const LEDGER = '_ingests';
const STAGING = '.staging';

export function createIngestionActivities({ paths }: IngestionDeps) {
  async function stageIngest(input: IngestInput): Promise<StagedIngest> {
    const { dataset } = await loadDataset(paths.datasetsDir, input.dataset);
    const root = path.join(paths.lakeDir, dataset.name);
    const db = await openDuckDB({ threads: 1 });
    try {
      const files = await expandSources(db.connection, input.sources);
      const hashes = await Promise.all(files.map(hashFile));
      const contentHash = sha256([...hashes].sort().join('\n'));
      const done = await readLedger(root, contentHash);
      if (done) return { ...done, alreadyIngested: true };

      const ignored = new Set<string>();
      const batchParts: string[] = [];
      for (const [i, file] of files.entries()) {
        Context.current().heartbeat({ stage: 'reading', file });
        const table = `raw_${i}`;
        const present = await readRawFile(db.connection, file, formatOf(file, input.format as RawFormat | undefined), table);
        for (const c of present) if (!dataset.columns.some((d) => sourceOf(d) === c)) ignored.add(c);
        Context.current().heartbeat({ stage: 'checking', file });
        await checkFile(db.connection, file, table, present, dataset);
        batchParts.push(
          `SELECT ${i} AS __file, ${ROW_COLUMN}, ${dataset.columns.map((c) => `TRY_CAST(${quoteIdent(sourceOf(c))} AS ${c.type}) AS ${quoteIdent(c.name)}`).join(', ')} FROM ${quoteIdent(table)}`,
        );
      }
      await db.connection.run(`CREATE TEMP TABLE batch AS ${batchParts.join('\nUNION ALL\n')}`);
      // Only a batch that passed every check touches the dataset's folder.
      const stagingDir = path.join(root, STAGING, contentHash);
      await rm(stagingDir, { recursive: true, force: true });
      await mkdir(stagingDir, { recursive: true });
      const seq = dataset.partitioning.by === 'arrival' ? await reserveBatch(root, contentHash) : undefined;
      const partition = partitionExpression(dataset, seq);
      const values = (await queryRows(db.connection, `SELECT DISTINCT ${partition} AS v FROM batch`)).map((r) => String(r.v)).sort(comparePartitionValues);
      const partitions: StagedIngest['partitions'][number][] = [];
      for (const value of values) {
        Context.current().heartbeat({ stage: 'writing', partition: value });
        const folder = `${dataset.partitionKey}=${folderValue(value)}`;
        const dir = path.join(stagingDir, folder);
        await mkdir(dir, { recursive: true });
        const fileName = `part-${contentHash.slice(0, 16)}.parquet`;
        const [row] = await queryRows(
          db.connection,
          `SELECT count(*)::BIGINT AS n FROM batch WHERE ${partition} = ${quoteLiteral(value)}`,
        );
        await db.connection.run(
          `COPY (SELECT ${dataset.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM batch WHERE ${partition} = ${quoteLiteral(value)} ORDER BY __file, ${ROW_COLUMN}) ` +
            `TO ${quoteLiteral(path.join(dir, fileName))} (FORMAT parquet, COMPRESSION zstd)`,
        );
        partitions.push({ folder, value: folderValue(value), file: fileName, rows: Number(row?.n) });
      }
      const staged: StagedIngest = {
        dataset: dataset.name,
        contentHash,
        files,
        rows: partitions.reduce((s, p) => s + p.rows, 0),
        partitions,
        ignoredColumns: [...ignored].sort(),
        alreadyIngested: false,
      };
      await replaceDurably(path.join(stagingDir, 'manifest.json'), JSON.stringify(staged, null, 2));
      return staged;
    } finally {
      db.close();
    }
  }

  async function publishIngest(input: { staged: StagedIngest }): Promise<IngestResult> {
    const { staged } = input;
    const root = path.join(paths.lakeDir, staged.dataset);
    if (staged.alreadyIngested) return { ...staged, published: [] };
    const stagingDir = path.join(root, STAGING, staged.contentHash);
    const published: string[] = [];
    for (const p of staged.partitions) {
      Context.current().heartbeat({ stage: 'publishing', partition: p.folder });
      const target = path.join(root, p.folder);
      const from = path.join(stagingDir, p.folder);
      if (await exists(path.join(target, p.file))) continue; // moved by an earlier attempt
      if (!(await exists(target))) {
        // A new partition appears whole: one rename of its folder.
        try {
          await rename(from, target);
          published.push(p.folder);
          continue;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        }
      }
      // The partition exists already: the batch's file joins it with one rename.
      await rename(path.join(from, p.file), path.join(target, p.file));
      published.push(p.folder);
    }
    await mkdir(path.join(root, LEDGER), { recursive: true });
    const record: IngestResult = { ...staged, published, alreadyIngested: false };
    await replaceDurably(path.join(root, LEDGER, `${staged.contentHash}.json`), JSON.stringify({ ...record, ingestedAt: new Date().toISOString() }, null, 2));
    await rm(stagingDir, { recursive: true, force: true });
    return record;
  }

  return { stageIngest, publishIngest };
}

async function readLedger(root: string, contentHash: string): Promise<Omit<StagedIngest, 'alreadyIngested'> | undefined> {
  try {
    return JSON.parse(await readFile(path.join(root, LEDGER, `${contentHash}.json`), 'utf8')) as StagedIngest;
  } catch {
    return undefined;
  }
}

/**
 * The arrival number of a batch: the next free one, claimed by creating its marker exclusively,
 * or the one this content claimed before (a retry keeps its number).
 */
async function reserveBatch(root: string, contentHash: string): Promise<number> {
  const dir = path.join(root, LEDGER);
  await mkdir(dir, { recursive: true });
  const markers = (await readdir(dir)).filter((f) => /^batch-\d+$/.test(f));
  for (const m of markers) {
    if ((await readFile(path.join(dir, m), 'utf8')) === contentHash) return Number(m.slice('batch-'.length));
  }
  const taken = markers.map((m) => Number(m.slice('batch-'.length)));
  const inLake = (await listPartitions(path.dirname(root), path.basename(root), 'batch')).map((p) => Number(p.value));
  let n = Math.max(0, ...taken, ...inLake) + 1;
  for (;;) {
    try {
      const handle = await open(path.join(dir, `batch-${n}`), 'wx');
      await handle.writeFile(contentHash);
      await handle.close();
      return n;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      n++;
    }
  }
}

/** SQL for each row's partition value, as text. */
function partitionExpression(dataset: DatasetSpec, seq: number | undefined): string {
  const p = dataset.partitioning;
  switch (p.by) {
    case 'arrival':
      return `'${seq}'`;
    case 'key':
      return `CAST(${quoteIdent(p.column)} AS VARCHAR)`;
    case 'time':
      return p.grain === 'year' ? `strftime(${quoteIdent(p.column)}, '%Y')` : `strftime(date_trunc('${p.grain}', ${quoteIdent(p.column)}), '%Y-%m-%d')`;
  }
}

/** A partition value as a folder name: anything but letters, digits, '.', '-' and '_' percent-encoded. */
function folderValue(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/gu, (ch) => [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

/** Columns, types and nulls of one file against the declaration; the first problem names its row. */
async function checkFile(connection: Parameters<typeof queryRows>[0], file: string, table: string, present: readonly string[], dataset: DatasetSpec): Promise<void> {
  const t = quoteIdent(table);
  const missing = dataset.columns.filter((c) => !present.includes(sourceOf(c)));
  if (missing.length > 0) {
    throw new IngestError(
      file,
      `${missing.length === 1 ? 'a declared column is' : 'declared columns are'} missing: ${missing.map(describeColumn).join(', ')} (the file has: ${present.map((c) => JSON.stringify(c)).join(', ')})`,
      { column: missing.map((c) => c.name).join(', ') },
    );
  }
  const [count] = await queryRows(connection, `SELECT count(*)::BIGINT AS n FROM ${t}`);
  const rows = Number(count?.n);
  if (rows === 0) throw new IngestError(file, 'has a header but no rows');
  for (const col of dataset.columns) {
    const src = quoteIdent(sourceOf(col));
    const [bad] = await queryRows(
      connection,
      `SELECT ${ROW_COLUMN} AS row, CAST(${src} AS VARCHAR) AS value, count(*) OVER ()::BIGINT AS n FROM ${t}
       WHERE ${src} IS NOT NULL AND TRY_CAST(${src} AS ${col.type}) IS NULL ORDER BY ${ROW_COLUMN} LIMIT 1`,
    );
    if (bad) {
      throw new IngestError(file, `${JSON.stringify(String(bad.value))} is not a ${col.type}${Number(bad.n) > 1 ? ` (${Number(bad.n)} values like it in the file)` : ''}`, {
        row: Number(bad.row),
        column: describeColumn(col),
      });
    }
    const partitioning = dataset.partitioning.by !== 'arrival' && dataset.partitioning.column === col.name;
    if (col.nullable && !partitioning) continue;
    const [nulls] = await queryRows(connection, `SELECT count(*)::BIGINT AS n, min(${ROW_COLUMN}) AS first FROM ${t} WHERE ${src} IS NULL`);
    const n = Number(nulls?.n);
    const allowed = partitioning ? 0 : dataset.contract.maxNullRate * rows;
    if (n > allowed) {
      throw new IngestError(
        file,
        partitioning
          ? `is empty, and it decides the row's partition`
          : `${n} of ${rows} rows are empty (${((n / rows) * 100).toFixed(2)}%), more than the contract's maxNullRate ${dataset.contract.maxNullRate}; declare the column "nullable": true if it may be missing`,
        { row: Number(nulls?.first), column: describeColumn(col) },
      );
    }
  }
}
