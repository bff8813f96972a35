// Ingestion activities: raw files into a dataset's lake partitions. `stageIngest` reads every
// file, checks it against the dataset's declaration (columns by their raw source, types, nulls)
// and stores the batch as one Parquet file per partition under its final key, named by the
// files' content hash, where no reader looks yet; `publishIngest` adds each file to its
// partition's manifest (storage/lake.ts: a reader sees the whole batch in a partition or none of
// it) and records the hash in the dataset's ledger. Both are idempotent: a retry redoes the same
// work, and the same files ingested again change nothing. Nothing passes between them but the
// store, so they may run on different hosts.
import { Context } from '@temporalio/activity';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Paths } from '../core/config.js';
import { comparePartitionValues, describeColumn, loadDataset, sourceOf, type DatasetSpec } from '../core/dataset.js';
import { openDuckDB, quoteIdent, quoteLiteral, queryRows } from '../core/duckdb.js';
import { IngestError, WriteConflictError } from '../core/errors.js';
import { hashFile, openLake, type Lake } from '../storage/lake.js';
import { getJson, joinKey, putJson } from '../storage/object-store.js';
import { expandSources, formatOf, readRawFile, ROW_COLUMN, type RawFormat } from '../core/raw-files.js';
import { sha256 } from '../core/spec.js';
import type { IngestInput, IngestResult, StagedIngest } from '../core/types.js';

export interface IngestionDeps {
  readonly paths: Paths;
}

const LEDGER = '_ingests';

export function createIngestionActivities({ paths }: IngestionDeps) {
  const lake = openLake(paths);

  async function stageIngest(input: IngestInput): Promise<StagedIngest> {
    const { dataset } = await loadDataset(paths.datasetsDir, input.dataset);
    const db = await openDuckDB({ threads: 1 });
    // This host's scratch folder for the Parquet it writes before storing it.
    const scratch = await mkdtemp(path.join(tmpdir(), 'mlops-ingest-'));
    try {
      const files = await expandSources(db.connection, input.sources);
      const hashes = await Promise.all(files.map(hashFile));
      const contentHash = sha256([...hashes].sort().join('\n'));
      const done = await readLedger(lake, dataset.name, contentHash);
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
      // Only a batch that passed every check touches the store.
      const seq = dataset.partitioning.by === 'arrival' ? await reserveBatch(lake, dataset.name, contentHash) : undefined;
      const partition = partitionExpression(dataset, seq);
      const values = (await queryRows(db.connection, `SELECT DISTINCT ${partition} AS v FROM batch`)).map((r) => String(r.v)).sort(comparePartitionValues);
      const partitions: StagedIngest['partitions'][number][] = [];
      for (const value of values) {
        Context.current().heartbeat({ stage: 'writing', partition: value });
        const folder = `${dataset.partitionKey}=${folderValue(value)}`;
        const fileName = `part-${contentHash.slice(0, 16)}.parquet`;
        const local = path.join(scratch, `${partitions.length}.parquet`);
        const [row] = await queryRows(
          db.connection,
          `SELECT count(*)::BIGINT AS n FROM batch WHERE ${partition} = ${quoteLiteral(value)}`,
        );
        await db.connection.run(
          `COPY (SELECT ${dataset.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM batch WHERE ${partition} = ${quoteLiteral(value)} ORDER BY __file, ${ROW_COLUMN}) ` +
            `TO ${quoteLiteral(local)} (FORMAT parquet, COMPRESSION zstd)`,
        );
        const stored = await lake.putFile(dataset.name, folder, fileName, local);
        partitions.push({ folder, value: folderValue(value), file: fileName, rows: Number(row?.n), stored: { ...stored, sha256: stored.sha256!, rows: stored.rows! } });
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
      return staged;
    } finally {
      db.close();
      await rm(scratch, { recursive: true, force: true });
    }
  }

  async function publishIngest(input: { staged: StagedIngest }): Promise<IngestResult> {
    const { staged } = input;
    if (staged.alreadyIngested) return { ...staged, published: [] };
    const published: string[] = [];
    for (const p of staged.partitions) {
      Context.current().heartbeat({ stage: 'publishing', partition: p.folder });
      // One conditional write of the partition's manifest: the batch's file appears whole or not at all.
      if (await lake.addFiles(staged.dataset, p.folder, [p.stored])) published.push(p.folder);
    }
    const record: IngestResult = { ...staged, published, alreadyIngested: false };
    await putJson(lake.store, joinKey(staged.dataset, LEDGER, `${staged.contentHash}.json`), { ...record, ingestedAt: new Date().toISOString() });
    return record;
  }

  return { stageIngest, publishIngest };
}

async function readLedger(lake: Lake, dataset: string, contentHash: string): Promise<Omit<StagedIngest, 'alreadyIngested'> | undefined> {
  return (await getJson<StagedIngest>(lake.store, joinKey(dataset, LEDGER, `${contentHash}.json`)))?.value;
}

/**
 * The arrival number of a batch: the next free one, claimed by creating its marker with a
 * conditional create, or the one this content claimed before (a retry keeps its number).
 */
async function reserveBatch(lake: Lake, dataset: string, contentHash: string): Promise<number> {
  const prefix = `${joinKey(dataset, LEDGER)}/batch-`;
  const markers = (await lake.store.list(prefix)).filter((o) => /^\d+$/.test(o.key.slice(prefix.length)));
  for (const m of markers) {
    // A marker holds {"contentHash"}, or, written before the store, the bare hash.
    const text = new TextDecoder().decode((await lake.store.get(m.key))?.body ?? new Uint8Array());
    const claimedBy = text.startsWith('{') ? (JSON.parse(text) as { contentHash: string }).contentHash : text.trim();
    if (claimedBy === contentHash) return Number(m.key.slice(prefix.length));
  }
  const taken = markers.map((m) => Number(m.key.slice(prefix.length)));
  const inLake = (await lake.partitions(dataset, 'batch')).map((p) => Number(p.value));
  for (let n = Math.max(0, ...taken, ...inLake) + 1; ; n++) {
    try {
      await putJson(lake.store, `${prefix}${n}`, { contentHash }, { ifNoneMatch: '*' });
      return n;
    } catch (err) {
      if (!(err instanceof WriteConflictError)) throw err;
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
