// The scorer of micro-batches: the feature query (DuckDB) and the model (onnxruntime). It runs
// in worker threads of the API, where onnxruntime's synchronous run() never holds the API's
// event loop, which keeps parsing requests and writing responses on the other core while a big
// batch is scored; the API keeps one more in its own thread for batches of a few rows.
//
// Messages in: load / unload a model version's session, load a feature view's snapshot as a
// table, prepare a model's feature query (over those tables), predict a batch, drop what an
// older query and its tables held. Every message with an id gets exactly one answer with that id.
import type { DuckDBPreparedStatement } from '@duckdb/node-api';
import { parentPort } from 'node:worker_threads';
import { openDuckDB, quoteIdent, quoteLiteral, readColumns, type ColumnRequest } from '../core/duckdb.js';
import { loadSession, runModel, type InferenceSession } from '../core/inference.js';
import type { Column } from '../ml/table.js';
import { errorMessage } from '../core/errors.js';

export type PredictorRequest =
  | {
      readonly id: number;
      readonly type: 'prepare';
      readonly model: string;
      /** The statement's name (default: the model): a model with views has one per set of snapshots. */
      readonly query?: string;
      readonly sql: string;
      readonly features: readonly ColumnRequest[];
      /** One per batch that may be in flight at once: a statement is bound and run by one batch at a time. */
      readonly statements: number;
    }
  | { readonly id: number; readonly type: 'load'; readonly model: string; readonly version: number; readonly file: string; readonly threads: number }
  | { readonly id: number; readonly type: 'unload'; readonly model: string; readonly version: number }
  /**
   * A feature view snapshot (Parquet) as a table the feature query joins; with `lookupSql`
   * (core/views.ts snapshotLookupQuery over that table), the reply carries its `lookup`.
   */
  | { readonly id: number; readonly type: 'table'; readonly table: string; readonly file: string; readonly lookupSql?: string }
  /** Forget queries and tables no batch uses any more (an older set of snapshots). */
  | { readonly id: number; readonly type: 'drop'; readonly queries: readonly string[]; readonly tables: readonly string[] }
  | {
      readonly id: number;
      readonly type: 'predict';
      readonly model: string;
      /** The prepared statement to run (default: the model's). */
      readonly query?: string;
      readonly version: number;
      readonly output: string;
      /** The feature query's parameters: one text per request column (core/features.ts requestParameters). */
      readonly parameters: readonly string[];
    };

/** A request as its sender writes it: the id is added when it is sent. */
export type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export type PredictorReply =
  | {
      readonly id: number;
      readonly ok: true;
      readonly output?: Float32Array;
      readonly features?: readonly Column[];
      readonly rows?: number;
      /** A snapshot table's MAP constant, or null when it has too many entities (or none) to be looked up that way. */
      readonly lookup?: string | null;
    }
  | { readonly id: number; readonly ok: false; readonly error: string };

const key = (model: string, version: number) => `${model}@${version}`;

/** What a scoring thread does with each message; the API also keeps one for small batches. */
export interface Scorer {
  score(m: PredictorRequest): Promise<PredictorReply>;
  /** Release the sessions and DuckDB (a thread's go with it). */
  close(): Promise<void>;
}

export async function createScorer(): Promise<Scorer> {
  const db = await openDuckDB({ threads: 1 });
  const statements = new Map<string, { sql: string; free: DuckDBPreparedStatement[]; features: readonly ColumnRequest[] }>();
  const sessions = new Map<string, InferenceSession>();

  async function handle(m: PredictorRequest): Promise<PredictorReply> {
    switch (m.type) {
      case 'prepare': {
        // Again after a scoring thread died: the API's own scorer keeps the same query prepared.
        const name = m.query ?? m.model;
        if (statements.get(name)?.sql === m.sql) return { id: m.id, ok: true };
        const free: DuckDBPreparedStatement[] = [];
        for (let i = 0; i < m.statements; i++) free.push(await (await db.instance.connect()).prepare(m.sql));
        statements.set(name, { sql: m.sql, free, features: m.features });
        return { id: m.id, ok: true };
      }
      case 'table': {
        await db.connection.run(`CREATE OR REPLACE TABLE ${quoteIdent(m.table)} AS SELECT * FROM read_parquet(${quoteLiteral(m.file)})`);
        if (m.lookupSql === undefined) return { id: m.id, ok: true };
        const lookup = (await db.connection.runAndReadAll(m.lookupSql)).getRows()[0]?.[0];
        return { id: m.id, ok: true, lookup: typeof lookup === 'string' ? lookup : null };
      }
      case 'drop':
        for (const name of m.queries) {
          for (const statement of statements.get(name)?.free ?? []) statement.destroySync();
          statements.delete(name);
        }
        for (const table of m.tables) await db.connection.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
        return { id: m.id, ok: true };
      case 'load':
        if (!sessions.has(key(m.model, m.version))) sessions.set(key(m.model, m.version), await loadSession(m.file, m.threads));
        return { id: m.id, ok: true };
      case 'unload': {
        const session = sessions.get(key(m.model, m.version));
        sessions.delete(key(m.model, m.version));
        await session?.release();
        return { id: m.id, ok: true };
      }
      case 'predict': {
        const prepared = statements.get(m.query ?? m.model);
        const session = sessions.get(key(m.model, m.version));
        const statement = prepared?.free.pop();
        if (!prepared || !session || !statement) throw new Error(`${m.model} v${m.version} is not loaded in the scoring thread`);
        let table;
        try {
          m.parameters.forEach((text, k) => statement.bindVarchar(k + 1, text));
          // Materialized, not streamed: a batch is at most a few thousand rows, and reading them
          // from a materialized result costs no further trips to DuckDB's thread pool.
          table = await readColumns(await statement.run(), prepared.features);
        } finally {
          prepared.free.push(statement);
        }
        // A copy: onnxruntime's output memory is its own, and this buffer is handed over.
        const output = Float32Array.from(await runModel(session, table, m.output));
        return { id: m.id, ok: true, output, features: table.columns, rows: table.rows };
      }
    }
  }

  let inFlight = 0;
  let whenIdle: (() => void) | undefined;
  return {
    async score(m) {
      inFlight++;
      try {
        return await handle(m);
      } catch (err) {
        return { id: m.id, ok: false, error: errorMessage(err) };
      } finally {
        if (--inFlight === 0) whenIdle?.();
      }
    },
    async close() {
      // A statement or session must not go while a batch still uses it.
      if (inFlight > 0) await new Promise<void>((resolve) => (whenIdle = resolve));
      for (const session of sessions.values()) await session.release();
      sessions.clear();
      for (const { free } of statements.values()) for (const statement of free) statement.destroySync();
      statements.clear();
      db.close();
    },
  };
}

async function main(port: NonNullable<typeof parentPort>): Promise<void> {
  const scorer = await createScorer();
  port.on('message', (m: PredictorRequest) => {
    void scorer.score(m).then((reply) => port.postMessage(reply, reply.ok && reply.output ? [reply.output.buffer as ArrayBuffer] : []));
  });
}

if (parentPort) void main(parentPort);
