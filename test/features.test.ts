// The feature SQL on a real slice of the lake, and the promise that /predict's request path
// yields exactly the features training saw for the same raw flight (for the views joined to
// them, test/views.test.ts and test/feature-views.test.ts).
import { describe, expect, it } from 'vitest';
import { openDuckDB, parquetSource, queryRows, readColumns } from '../core/duckdb.js';
import { featureColumns, featureQuery, LABEL_COLUMN, requestParameters, requestSource } from '../core/features.js';
import { loadSpec } from '../core/spec.js';
import type { ViewSource } from '../core/views.js';
import { testPaths, listPartitions } from './helpers.js';

describe('the flights feature SQL', async () => {
  const paths = await testPaths();
  const loaded = await loadSpec(paths, 'flight_delay');
  const [first] = await listPartitions(paths, 'flights', 'week');
  // flight_delay's views read the week's own history; requests and lake rows alike see them as
  // of one instant here (the snapshot path is test/feature-views.test.ts's).
  const history = (asOf?: string): ViewSource => ({ kind: 'history', historySql: parquetSource(first!.files), ...(asOf ? { asOf } : {}) });

  it('computes hour, weekday, airports and the label from real lake rows', async () => {
    const db = await openDuckDB();
    try {
      const rows = await queryRows(
        db.connection,
        `SELECT * FROM (${featureQuery(loaded, parquetSource(first!.files), true, history())}) LIMIT 5000`,
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
        expect(r.origin).toBe(src.origin);
        expect(r.destination).toBe(src.destination);
        expect(r[LABEL_COLUMN]).toBe(Number(src.delay) > 15 ? 1 : 0);
      });
    } finally {
      db.close();
    }
  });

  it('gives requests the same features as the same flights read from the lake, row by row', async () => {
    const db = await openDuckDB();
    try {
      // 50 flights in a fixed order: through the feature SQL over the lake, and as the raw
      // fields of one micro-batch of requests (one text per column, split by DuckDB).
      const flights = `SELECT * FROM (${parquetSource(first!.files)}) ORDER BY date, origin, destination, distance LIMIT 50`;
      const [{ asOf }] = (await queryRows(db.connection, `SELECT strftime(max(date) - INTERVAL 1 DAY, '%Y-%m-%d %H:00:00') AS asOf FROM (${parquetSource(first!.files)})`)) as [{ asOf: string }];
      const fromLake = await readColumns(await db.connection.stream(featureQuery(loaded, flights, false, history(asOf))), featureColumns(loaded.spec));
      const raw = await queryRows(db.connection, `SELECT date::VARCHAR AS date, distance::VARCHAR AS distance, origin, destination FROM (${flights})`);
      const statement = await db.connection.prepare(featureQuery(loaded, requestSource(loaded.spec), false, history(asOf)));
      const rows = raw.map((f) => [String(f.date), String(f.distance), String(f.origin), String(f.destination)]);
      requestParameters(rows, 4).forEach((text, k) => statement.bindVarchar(k + 1, text));
      const fromRequest = await readColumns(await statement.run(), featureColumns(loaded.spec)); // materialized, as the predictor reads it
      const values = (t: typeof fromLake) =>
        Array.from({ length: t.rows }, (_, r) => t.columns.map((c) => (c.kind === 'numeric' ? c.values[r] : c.dictionary[c.codes[r]!])));
      expect(fromRequest.rows).toBe(50);
      const rate = fromRequest.columns.find((c) => c.name === 'origin_delay_rate');
      expect(rate?.kind === 'numeric' && Array.from(rate.values).filter((v) => !Number.isNaN(v)).length).toBeGreaterThan(25); // the views joined, not all missing
      expect(values(fromRequest)).toEqual(values(fromLake));
    } finally {
      db.close();
    }
  });

  it('refuses a request value holding the separator of its parameter text', () => {
    expect(requestParameters([['a', 'b'], ['c', 'd']], 2)).toEqual(['a\x1fc', 'b\x1fd']);
    expect(() => requestParameters([['ORD\x1fLAX', 'b']], 2)).toThrow(/control character/);
  });

  it('reads a materialized result into the same columns as a streamed one, across chunks', async () => {
    const db = await openDuckDB();
    try {
      // 5,000 rows: three of DuckDB's 2,048-row chunks, so the materialized path walks them all.
      const sql = `SELECT * FROM (${featureQuery(loaded, parquetSource(first!.files), true, history())}) ORDER BY ALL LIMIT 5000`;
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
