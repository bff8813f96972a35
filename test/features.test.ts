// The feature SQL on a real slice of the lake, and the promise that /predict's request path
// yields exactly the features training saw for the same raw flight.
import { describe, expect, it } from 'vitest';
import { openDuckDB, parquetSource, queryRows, readColumns } from '../core/duckdb.js';
import { LIST, listValue, VARCHAR } from '@duckdb/node-api';
import { featureColumns, featureQuery, LABEL_COLUMN, requestSource } from '../core/features.js';
import { listPartitions } from '../core/lake.js';
import { loadSpec } from '../core/spec.js';
import { testPaths } from './helpers.js';

describe('flight_delay feature SQL', async () => {
  const paths = await testPaths();
  const loaded = await loadSpec(paths.modelsDir, paths.sqlDir, 'flight_delay');
  const [first] = await listPartitions(paths.lakeDir, 'flights', 'week');

  it('computes hour, weekday, route and the label from real lake rows', async () => {
    const db = await openDuckDB();
    try {
      const rows = await queryRows(
        db.connection,
        `SELECT * FROM (${featureQuery(loaded, parquetSource(first!.files), true)}) LIMIT 5000`,
      );
      const raw = await queryRows(
        db.connection,
        `SELECT date::VARCHAR AS date, delay, origin, destination FROM (${parquetSource(first!.files)}) LIMIT 5000`,
      );
      expect(rows).toHaveLength(5000);
      rows.forEach((r, i) => {
        const src = raw[i]!;
        const when = new Date(`${String(src.date).replace(' ', 'T')}Z`);
        expect(r.hour).toBe(String(when.getUTCHours()));
        expect(r.day_of_week).toBe(String(((when.getUTCDay() + 6) % 7) + 1)); // ISO: Monday = 1
        expect(r.route).toBe(`${src.origin}-${src.destination}`);
        expect(r[LABEL_COLUMN]).toBe(Number(src.delay) > 15 ? 1 : 0);
      });
    } finally {
      db.close();
    }
  });

  it('gives a request the same features as the same flight read from the lake', async () => {
    const db = await openDuckDB();
    try {
      const [flight] = await queryRows(
        db.connection,
        `SELECT date::VARCHAR AS date, distance::VARCHAR AS distance, origin, destination FROM (${parquetSource(first!.files)}) WHERE hour(date) = 17 LIMIT 1`,
      );
      const fromLake = await readColumns(
        await db.connection.stream(
          `SELECT * FROM (${featureQuery(loaded, parquetSource(first!.files), false)}) WHERE hour = '17' AND origin = '${flight!.origin}' AND destination = '${flight!.destination}' AND distance = ${flight!.distance} LIMIT 1`,
        ),
        featureColumns(loaded.spec),
      );
      const statement = await db.connection.prepare(featureQuery(loaded, requestSource(loaded.spec), false));
      statement.bind(
        [String(flight!.date), String(flight!.distance), String(flight!.origin), String(flight!.destination)].map((v) => listValue([v])),
        [LIST(VARCHAR), LIST(VARCHAR), LIST(VARCHAR), LIST(VARCHAR)],
      );
      const fromRequest = await readColumns(await statement.run(), featureColumns(loaded.spec)); // materialized, as the predictor reads it
      const values = (t: typeof fromLake) =>
        t.columns.map((c) => (c.kind === 'numeric' ? c.values[0] : c.dictionary[c.codes[0]!]));
      expect(values(fromRequest)).toEqual(values(fromLake));
    } finally {
      db.close();
    }
  });

  it('reads a materialized result into the same columns as a streamed one, across chunks', async () => {
    const db = await openDuckDB();
    try {
      // 5,000 rows: three of DuckDB's 2,048-row chunks, so the materialized path walks them all.
      const sql = `SELECT * FROM (${featureQuery(loaded, parquetSource(first!.files), true)}) ORDER BY ALL LIMIT 5000`;
      const columns = [...featureColumns(loaded.spec), { name: LABEL_COLUMN, kind: 'numeric' as const }];
      const streamed = await readColumns(await db.connection.stream(sql), columns);
      const materialized = await readColumns(await db.connection.run(sql), columns);
      expect(materialized.rows).toBe(5000);
      expect(materialized).toEqual(streamed);
    } finally {
      db.close();
    }
  });
});
