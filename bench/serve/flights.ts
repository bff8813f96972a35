// The requests of the serving benchmark: real flights sampled from the lake, as the query
// strings of GET /predict, and what the model says about the first of them, computed the
// project's own way (feature SQL in DuckDB, then onnxruntime) to check every server's answers.
import path from 'node:path';
import type { Paths } from '../../core/config.js';
import { openDuckDB, queryRows, quoteLiteral, readColumns } from '../../core/duckdb.js';
import { featureColumns, featureQuery } from '../../core/features.js';
import { loadSession, runModel } from '../../core/inference.js';
import { loadSpec } from '../../core/spec.js';
import type { ViewSource } from '../../core/views.js';
import { ModelViews } from '../../api/served-views.js';
import { openFeatureStore } from '../../storage/feature-store.js';

export const MODEL = 'flight_delay';

export interface FlightSample {
  /** `date=...&distance=...&origin=...&destination=...&model=flight_delay`, one per flight. */
  readonly queries: string[];
  /** The model's probability for the first `reference.length` flights, in the same order. */
  readonly reference: number[];
}

/**
 * `rows` flights from every released week of the lake, the same ones on every run: ordered by
 * a hash of their fields (no sampling randomness, whatever DuckDB's thread count).
 */
export async function sampleFlights(paths: Paths, modelFile: string, rows: number, referenceRows: number): Promise<FlightSample> {
  const glob = path.join(paths.lakeDir, 'flights', 'week=*', '*.parquet');
  const db = await openDuckDB({ threads: 2 });
  try {
    await db.connection.run(
      `CREATE TEMP TABLE sample AS
       SELECT row_number() OVER (ORDER BY hash(date, distance, origin, destination), date, origin, destination) AS id,
              date, delay, distance, origin, destination
       FROM read_parquet(${quoteLiteral(glob)}, hive_partitioning = false)
       WHERE date IS NOT NULL AND distance IS NOT NULL AND origin IS NOT NULL AND destination IS NOT NULL
       ORDER BY id LIMIT ${rows}`,
    );
    const raw = await queryRows(
      db.connection,
      `SELECT strftime(date, '%Y-%m-%dT%H:%M:%S') AS date, CAST(distance AS VARCHAR) AS distance, origin, destination FROM sample ORDER BY id`,
    );
    if (raw.length === 0) throw new Error(`no flights in ${glob}: run npm start once to build the lake`);
    const queries = raw.map(
      (r) =>
        `date=${encodeURIComponent(String(r.date))}&distance=${encodeURIComponent(String(r.distance))}` +
        `&origin=${encodeURIComponent(String(r.origin))}&destination=${encodeURIComponent(String(r.destination))}&model=${MODEL}`,
    );
    const loaded = await loadSpec(paths, MODEL);
    // Feature views as the API serves them: as of the current snapshots' instant, from the lake's history.
    let views: ViewSource | undefined;
    if (loaded.spec.features.views.length) {
      const current = await new ModelViews(loaded, openFeatureStore(paths)).changes();
      const asOf = current?.next.views[0]?.record?.asOf;
      if (!current || !asOf || current.next.views.some((v) => v.record?.asOf !== asOf)) {
        throw new Error(`${MODEL}'s feature views have no snapshots as of one instant: materialize them first (npm start does)`);
      }
      views = { kind: 'history', historySql: `SELECT * FROM read_parquet(${quoteLiteral(glob)}, hive_partitioning = false)`, asOf };
    }
    const features = await readColumns(
      await db.connection.stream(featureQuery(loaded, `SELECT * FROM sample WHERE id <= ${referenceRows} ORDER BY id`, false, views)),
      featureColumns(loaded.spec),
    );
    const session = await loadSession(modelFile);
    const reference = Array.from(await runModel(session, features, 'probability'));
    await session.release();
    return { queries, reference };
  } finally {
    db.close();
  }
}
