// Feature views offline: each row sees a view's value as of the start of its grain, computed
// from rows known before that instant and never later (planted leaks are refused or excluded),
// and a snapshot at an instant holds what the offline join gives every row as of it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDB, parquetSource, queryRows, quoteLiteral } from '../core/duckdb.js';
import { InvalidSpecError } from '../core/errors.js';
import { checkViews, featureQuery } from '../core/features.js';
import { specFromTexts, type LoadedSpec } from '../core/spec.js';
import { SNAPSHOT_LOOKUP_MAX_ENTITIES, snapshotLookupQuery, snapshotQuery, type SnapshotTable } from '../core/views.js';

const DATASET = {
  name: 'shipments',
  columns: [
    { name: 'shipped_at', type: 'TIMESTAMP' },
    { name: 'depot', type: 'VARCHAR' },
    { name: 'weight', type: 'DOUBLE' },
    { name: 'late', type: 'BOOLEAN', knownAtPrediction: false },
  ],
  partitioning: { by: 'time', column: 'shipped_at', grain: 'day' },
};
const FEATURES = 'SELECT shipped_at AS shipped, depot, weight, late FROM source';
// A shipment's outcome is known 90 minutes after it leaves.
const KNOWN_AT = "SELECT *, shipped_at + INTERVAL '90 minutes' AS known_at FROM source";
const LATE_RATE = 'SELECT depot, avg(CAST(late AS DOUBLE)) AS depot_late_rate, count(*) AS depot_shipments FROM events GROUP BY depot';

function modelSpec(view: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'late_shipment',
    task: 'binary',
    dataset: 'shipments',
    features: {
      sql: 'features/shipments.sql',
      time: 'shipped',
      columns: [
        { name: 'depot', kind: 'categorical' },
        { name: 'weight', kind: 'numeric' },
        { name: 'depot_late_rate', kind: 'numeric' },
        { name: 'depot_shipments', kind: 'numeric' },
      ],
      views: [
        {
          name: 'depot_recent',
          sql: 'views/late_rate.sql',
          knownAt: 'views/shipments_known_at.sql',
          entity: ['depot'],
          window: '3 hours',
          grain: 'hour',
          maxAge: '2 hours',
          values: { depot_late_rate: null, depot_shipments: 0 },
          ...view,
        },
      ],
    },
    label: { column: 'late' },
    split: { trainPartitions: 1, validationPartitions: 0, holdoutPartitions: 1 },
    trainer: { type: 'gbdt', params: {} },
    gate: { metric: 'auc' },
  };
}

async function load(spec: Record<string, unknown>, sql: Record<string, string> = {}): Promise<LoadedSpec> {
  const files: Record<string, string> = { 'features/shipments.sql': FEATURES, 'views/late_rate.sql': LATE_RATE, 'views/shipments_known_at.sql': KNOWN_AT, ...sql };
  return specFromTexts({ modelsDir: '/specs/models' }, 'late_shipment', '/specs/models/late_shipment.json', JSON.stringify(spec), async () => JSON.stringify(DATASET), async (file) => {
    const text = files[file];
    if (text === undefined) throw new Error(`no ${file}`);
    return text;
  });
}

interface Shipment {
  readonly at: number; // ms since the epoch
  readonly depot: string;
  readonly late: boolean;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The start of the grain `at` falls in, as DuckDB's date_trunc gives it (weeks start on Monday). */
function grainStart(at: number, grain: string): number {
  const step: Record<string, number> = { minute: 60_000, hour: HOUR, day: DAY };
  if (step[grain]) return Math.floor(at / step[grain]!) * step[grain]!;
  const d = new Date(at);
  if (grain === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const day = Math.floor(at / DAY) * DAY;
  return day - ((d.getUTCDay() + 6) % 7) * DAY; // week: back to Monday
}
const START = Date.UTC(2024, 2, 4);
/** Two days of shipments: each depot ships at uneven minutes, late by a fixed pattern. */
const SHIPMENTS: Shipment[] = [];
for (let m = 0; m < 48 * 60; m += 17) {
  SHIPMENTS.push({ at: START + m * 60_000, depot: 'north', late: m % 3 === 0 });
  if (m % 2 === 0) SHIPMENTS.push({ at: START + m * 60_000 + 5 * 60_000, depot: 'south', late: m % 5 < 2 });
}

let dir: string;
let file: string;

async function writeShipments(target: string, rows: readonly Shipment[]): Promise<void> {
  const db = await openDuckDB({ threads: 1 });
  try {
    const values = rows.map((s) => `(make_timestamp(${s.at * 1000}), ${quoteLiteral(s.depot)}, 1.5, ${s.late})`).join(', ');
    await db.connection.run(`COPY (SELECT * FROM (VALUES ${values}) AS t(shipped_at, depot, weight, late)) TO ${quoteLiteral(target)} (FORMAT parquet)`);
  } finally {
    db.close();
  }
}

/** The value a row at `at` must see: rows of its depot known in the 3 hours before its hour began. */
function expected(rows: readonly Shipment[], at: number, depot: string): { rate: number | null; count: number } {
  const instant = Math.floor(at / HOUR) * HOUR;
  const seen = rows.filter((s) => s.depot === depot && s.at + 90 * 60_000 < instant && s.at + 90 * 60_000 >= instant - 3 * HOUR);
  return { rate: seen.length ? seen.filter((s) => s.late).length / seen.length : null, count: seen.length };
}

async function offline(loaded: LoadedSpec, rowsFile: string, historyFile: string, asOf?: string): Promise<Record<string, unknown>[]> {
  const db = await openDuckDB({ threads: 1 });
  try {
    return await queryRows(db.connection, featureQuery(loaded, parquetSource([rowsFile]), true, { kind: 'history', historySql: parquetSource([historyFile]), ...(asOf ? { asOf } : {}) }));
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mlops-views-'));
  file = path.join(dir, 'shipments.parquet');
  await writeShipments(file, SHIPMENTS);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('feature views offline', () => {
  it('gives each row the value as of the start of its grain, from rows known before it, in row order', async () => {
    const loaded = await load(modelSpec());
    await checkViews(loaded);
    const rows = await offline(loaded, file, file);
    expect(rows).toHaveLength(SHIPMENTS.length);
    let withHistory = 0;
    rows.forEach((row, i) => {
      const s = SHIPMENTS[i]!;
      expect(row.depot).toBe(s.depot); // order kept
      const want = expected(SHIPMENTS, s.at, s.depot);
      expect(row.depot_shipments).toBe(want.count);
      if (want.rate === null) expect(row.depot_late_rate).toBeNull();
      else expect(row.depot_late_rate as number).toBeCloseTo(want.rate, 6);
      if (want.count > 0) withHistory++;
    });
    expect(withHistory).toBeGreaterThan(SHIPMENTS.length * 0.9);
  });

  it('gives the brute-force value at every grain, for windows shorter, longer and not a multiple of the grain', async () => {
    // 120 days of shipments every 7 h 13 min, so instants fall at every offset within a grain.
    const long: Shipment[] = [];
    for (let at = START, k = 0; at < START + 120 * DAY; at += 433 * 60_000, k++) long.push({ at, depot: k % 3 === 0 ? 'south' : 'north', late: k % 4 === 1 || k % 7 === 0 });
    const longFile = path.join(dir, 'long.parquet');
    await writeShipments(longFile, long);
    const cases: { grain: string; window: string; windowMs: number }[] = [
      { grain: 'minute', window: '400 minutes', windowMs: 400 * 60_000 },
      { grain: 'hour', window: '590 minutes', windowMs: 590 * 60_000 },
      { grain: 'day', window: '36 hours', windowMs: 36 * HOUR },
      { grain: 'week', window: '10 days', windowMs: 10 * DAY },
      { grain: 'month', window: '40 days', windowMs: 40 * DAY },
    ];
    for (const c of cases) {
      const loaded = await load(modelSpec({ grain: c.grain, window: c.window }));
      const rows = await offline(loaded, longFile, longFile);
      let withHistory = 0;
      rows.forEach((row, i) => {
        const s = long[i]!;
        const instant = grainStart(s.at, c.grain);
        const seen = long.filter((h) => h.depot === s.depot && h.at + 90 * 60_000 < instant && h.at + 90 * 60_000 >= instant - c.windowMs);
        expect(row.depot_shipments, `${c.grain} / ${c.window}, row ${i}`).toBe(seen.length);
        if (seen.length) expect(row.depot_late_rate as number).toBeCloseTo(seen.filter((h) => h.late).length / seen.length, 6);
        else expect(row.depot_late_rate).toBeNull();
        if (seen.length) withHistory++;
      });
      expect(withHistory, `${c.grain} / ${c.window}`).toBeGreaterThan(rows.length * 0.2);
    }
  });

  it('never lets a later row in: rewriting everything known after an instant leaves the values before it as they were', async () => {
    const loaded = await load(modelSpec());
    const cut = START + 30 * HOUR;
    const planted = SHIPMENTS.map((s) => (s.at + 90 * 60_000 >= cut ? { ...s, late: !s.late } : s));
    const plantedFile = path.join(dir, 'planted.parquet');
    await writeShipments(plantedFile, planted);
    const before = await offline(loaded, file, file);
    const after = await offline(loaded, file, plantedFile);
    let compared = 0;
    let changed = 0;
    SHIPMENTS.forEach((s, i) => {
      if (Math.floor(s.at / HOUR) * HOUR <= cut) {
        expect(after[i]).toEqual(before[i]);
        compared++;
      } else if (after[i]!.depot_late_rate !== before[i]!.depot_late_rate) changed++;
    });
    expect(compared).toBeGreaterThan(100);
    expect(changed).toBeGreaterThan(50); // the planted rows do count for rows after them
  });

  it('refuses view SQL that reads anything but the rows known before its instant', async () => {
    for (const sql of [
      'SELECT depot, avg(CAST(late AS DOUBLE)) AS depot_late_rate, count(*) AS depot_shipments FROM source GROUP BY depot',
      `SELECT depot, avg(CAST(late AS DOUBLE)) AS depot_late_rate, count(*) AS depot_shipments FROM read_parquet(${quoteLiteral(file)}) GROUP BY depot`,
      'SELECT e.depot, avg(CAST(s.late AS DOUBLE)) AS depot_late_rate, count(*) AS depot_shipments FROM events e JOIN main.shipments s USING (depot) GROUP BY e.depot',
    ]) {
      const loaded = await load(modelSpec(), { 'views/late_rate.sql': sql });
      await expect(checkViews(loaded)).rejects.toThrow(/features\.views\[0\]\.sql \(views\/late_rate\.sql\).*may read only `events`/);
    }
    const leakyKnownAt = await load(modelSpec(), { 'views/shipments_known_at.sql': `SELECT *, shipped_at AS known_at FROM read_parquet(${quoteLiteral(file)})` });
    await expect(checkViews(leakyKnownAt)).rejects.toThrow(/features\.views\[0\]\.knownAt.*may read only `source`/);
  });

  it('refuses a window that reaches past the row, an unknown entity and a missing row time, naming the field', async () => {
    await expect(load(modelSpec({ window: '-3 hours' }))).rejects.toThrow(InvalidSpecError);
    await expect(load(modelSpec({ window: '-3 hours' }))).rejects.toThrow(/features\.views\[0\]\.window/);
    await expect(load(modelSpec({ grain: 'minute', window: '30 days' }))).rejects.toThrow(/features\.views\[0\]\.window.*coarser grain/);
    await expect(checkViews(await load(modelSpec({ entity: ['warehouse'] })))).rejects.toThrow(/features\.views\[0\]\.entity.*'warehouse'/);
    const noTime = modelSpec();
    delete (noTime.features as Record<string, unknown>).time;
    await expect(load(noTime)).rejects.toThrow(/features\.time/);
  });

  it('a snapshot at an instant holds what the offline join gives every row scored as of that instant', async () => {
    const loaded = await load(modelSpec());
    const asOf = '2024-03-05 07:00:00';
    const view = loaded.spec.features.views[0]!;
    const db = await openDuckDB({ threads: 1 });
    let snapshot: Record<string, unknown>[];
    try {
      snapshot = await queryRows(db.connection, `SELECT depot, depot_late_rate, depot_shipments FROM (${snapshotQuery(view, loaded.viewTexts.get(view.name)!, parquetSource([file]), asOf)}) ORDER BY depot`);
    } finally {
      db.close();
    }
    expect(snapshot.map((r) => r.depot)).toEqual(['north', 'south']);
    const rows = await offline(loaded, file, file, asOf);
    for (const row of rows) {
      const snap = snapshot.find((s) => s.depot === row.depot)!;
      expect(row.depot_late_rate as number).toBeCloseTo(snap.depot_late_rate as number, 6);
      expect(row.depot_shipments).toBe(Number(snap.depot_shipments));
    }
  });
});

describe('feature views online', () => {
  // /predict looks a small snapshot up in a MAP constant instead of joining its table: the rows
  // must be the same either way, whatever the snapshot holds.
  const ROWS = `SELECT * FROM (VALUES
    (TIMESTAMP '2024-03-05 08:10:00', 'north', 1.5, NULL::BOOLEAN),
    (TIMESTAMP '2024-03-05 09:10:00', 'o''hare', 2.25, NULL),
    (TIMESTAMP '2024-03-05 13:10:00', 'south', 1.5, NULL),
    (TIMESTAMP '2024-03-05 08:10:00', 'nowhere', 1.5, NULL),
    (TIMESTAMP '2024-03-05 08:10:00', NULL, 1.5, NULL),
    (TIMESTAMP '2024-03-05 08:10:00', 'north', NULL, NULL),
    (TIMESTAMP '2024-03-05 08:10:00', 'south', 2.25, NULL)
  ) AS t(shipped_at, depot, weight, late)`;
  const SNAPSHOT = `SELECT * FROM (VALUES
    ('north', 1.5, 0.1 * 3, 7::BIGINT), ('o''hare', 2.25, 1 / 3, 2), ('south', 1.5, NULL, 0),
    ('south', 2.25, 'inf'::DOUBLE, 9), (NULL, 1.5, 0.5, 1)
  ) AS s(depot, weight, depot_late_rate, depot_shipments)`;
  const BY_DEPOT_AND_WEIGHT = 'SELECT depot, weight, avg(CAST(late AS DOUBLE)) AS depot_late_rate, count(*) AS depot_shipments FROM events GROUP BY depot, weight';
  const asOf = '2024-03-05 07:00:00';

  async function both(entity: string[], snapshotSql: string): Promise<{ joined: Record<string, unknown>[]; looked: Record<string, unknown>[]; lookup: string | null }> {
    const loaded = await load(modelSpec({ entity, ...(entity.length > 1 ? { sql: 'views/by_weight.sql' } : {}) }), { 'views/by_weight.sql': BY_DEPOT_AND_WEIGHT });
    const view = loaded.spec.features.views[0]!;
    const db = await openDuckDB({ threads: 1 });
    try {
      await db.connection.run(`CREATE TABLE snap AS SELECT ${[...entity, 'depot_late_rate', 'depot_shipments'].join(', ')} FROM (${snapshotSql})`);
      const lookup = (await queryRows(db.connection, snapshotLookupQuery(view, 'snap', asOf)))[0]!.lookup as string | null;
      const query = (table: SnapshotTable) => featureQuery(loaded, ROWS, false, { kind: 'snapshots', tables: { [view.name]: table } }, true);
      const joined = await queryRows(db.connection, query({ table: 'snap', asOf }));
      const looked = lookup === null ? [] : await queryRows(db.connection, query({ table: 'snap', asOf, lookup }));
      return { joined, looked, lookup };
    } finally {
      db.close();
    }
  }

  it('a snapshot looked up in a MAP constant gives the rows its table joined gives, missing and null entities included', async () => {
    // By depot alone, one row per depot: without the second south.
    const byDepot = await both(['depot'], SNAPSHOT.replace("('south', 2.25, 'inf'::DOUBLE, 9), ", ''));
    const byDepotAndWeight = await both(['depot', 'weight'], SNAPSHOT);
    for (const [name, { joined, looked, lookup }, missing] of [
      ['depot', byDepot, [0, 0, 0, 1, 1, 0, 0]],
      ['depot x weight', byDepotAndWeight, [0, 0, 0, 1, 1, 1, 0]],
    ] as const) {
      expect(lookup, name).toMatch(/^MAP \{/);
      expect(looked, name).toEqual(joined);
      expect(joined.map((r) => r.__missing_depot_recent), name).toEqual(missing);
    }
    const { looked } = byDepot;
    expect(looked[0]!.depot_late_rate).toBe(Math.fround(0.1 * 3)); // the double as stored, then cast to the feature's FLOAT
    expect(looked[1]!.depot).toBe("o'hare");
    expect(looked[2]!.depot_late_rate).toBeNull(); // a null value gets the view's default (null)
    expect(looked[3]!.depot_shipments).toBe(0); // a missing entity gets the view's default (0)
    expect(looked.map((r) => r.__stale_depot_recent)).toEqual([0, 1, 1, 0, 0, 0, 0]); // over 2 hours after the snapshot (07:00): 09:10 and 13:10
  });

  it('joins the table instead when the snapshot has no entity or more than the lookup takes', async () => {
    expect((await both(['depot'], `${SNAPSHOT} WHERE false`)).lookup).toBeNull();
    const many = `SELECT 'depot ' || i AS depot, 1.5 AS weight, 0.5 AS depot_late_rate, 1 AS depot_shipments FROM range(${SNAPSHOT_LOOKUP_MAX_ENTITIES + 1}) r(i)`;
    expect((await both(['depot'], many)).lookup).toBeNull();
    const just = `SELECT 'depot ' || i AS depot, 1.5 AS weight, 0.5 AS depot_late_rate, 1 AS depot_shipments FROM range(${SNAPSHOT_LOOKUP_MAX_ENTITIES}) r(i)`;
    expect((await both(['depot'], just)).lookup).toMatch(/^MAP \{/);
  });
});
