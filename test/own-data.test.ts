// Bring your own data, as a new user would, on the real dev server: public tables that are not
// flights (vega-datasets' penguins, cars and Seattle weather), each carried through the
// commands and the API only: draft the dataset's declaration from the raw file -> ingest
// (IngestDatasetWorkflow) -> npm run spec -- init -> train and promote -> GET and POST /predict
// with a missing value -> batch -> monitor. Then malformed files, each refused naming the file,
// row or column with the lake left exactly as it was, and the same file ingested twice.
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../core/config.js';
import { loadDataset } from '../core/dataset.js';
import { openDuckDB, queryRows, quoteLiteral } from '../core/duckdb.js';
import type { MonitorModelResult } from '../core/monitoring.js';
import { openPredictions } from '../storage/predictions.js';
import { loadSpec, requestColumns } from '../core/spec.js';
import type { BatchInferenceResult, IngestResult, TrainModelResult } from '../core/types.js';
import { pathsEnv, startWorkerHarness, testApi, type TestApi, type WorkerHarness, listPartitions } from './helpers.js';

const VEGA = path.join(PROJECT_ROOT, 'node_modules', 'vega-datasets', 'data');
const CASE_TIMEOUT_MS = 600_000;

let harness: WorkerHarness;
let api: TestApi;
let raw: string;

beforeAll(async () => {
  harness = await startWorkerHarness('own-data');
  const settings = { address: harness.address, namespace: 'default', taskQueue: harness.taskQueue, uiUrl: 'http://localhost:8233' };
  api = await testApi(harness.paths, async () => harness.client, settings);
  raw = await mkdtemp(path.join(tmpdir(), 'mlops-raw-'));
}, 120_000);

afterAll(async () => {
  api?.close();
  await harness?.close();
});

/** A command of the product (`npm run lake -- ...`, `npm run spec -- ...`), against this test's folders and task queue. */
function cli(script: 'lake' | 'spec', args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, ...pathsEnv(harness.paths), TEMPORAL_ADDRESS: harness.address, MLOPS_TASK_QUEUE: harness.taskQueue };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'data', `${script}.ts`), ...args], { env, cwd: PROJECT_ROOT }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function post<T>(route: string, body: unknown): Promise<{ status: number; body: T }> {
  const res = await api.call(route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

async function runThroughApi<R>(route: string, body: unknown): Promise<R> {
  const started = await post<{ workflowId: string; runId: string }>(route, body);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  return (await harness.client.workflow.getHandle(started.body.workflowId, started.body.runId).result()) as R;
}

function toCsv(rows: readonly Record<string, unknown>[], headers: readonly string[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
  return [headers.map(cell).join(','), ...rows.map((r) => headers.map((h) => cell(r[h])).join(','))].join('\n') + '\n';
}

/** Every file under the dataset's lake folder: what "the lake as it was" means. */
async function lakeFiles(dataset: string): Promise<string[]> {
  const root = path.join(harness.paths.lakeDir, dataset);
  const entries = await readdir(root, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((e) => e !== '.staging').sort(); // the empty parent of finished stagings
}

interface Case {
  readonly dataset: string;
  readonly file: () => Promise<string>;
  readonly label: string;
  readonly task: string;
  readonly partitionBy?: string;
  readonly ingestBy: 'cli' | 'api';
}

const CASES: Case[] = [
  {
    // Multiclass, no time column, headers with spaces and parentheses, nulls in measurements.
    dataset: 'penguins',
    file: async () => {
      const rows = JSON.parse(await readFile(path.join(VEGA, 'penguins.json'), 'utf8')) as Record<string, unknown>[];
      const file = path.join(raw, 'penguins.csv');
      await writeFile(file, toCsv(rows, Object.keys(rows[0]!)));
      return file;
    },
    label: 'species',
    task: 'multiclass',
    ingestBy: 'cli',
  },
  {
    // Regression with nulls in features (Horsepower) and in the label (rows without one are left out).
    dataset: 'cars',
    file: async () => path.join(VEGA, 'cars.json'),
    label: 'miles_per_gallon',
    task: 'regression',
    ingestBy: 'api',
  },
  {
    // Binary with a date column, partitioned by month; the label is whether the day was sunny.
    dataset: 'seattle',
    file: async () => {
      const text = await readFile(path.join(VEGA, 'seattle-weather.csv'), 'utf8');
      const [header, ...lines] = text.trim().split('\n');
      const cols = header!.split(',');
      const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i]!, v])));
      const file = path.join(raw, 'seattle weather.csv');
      await writeFile(file, toCsv(rows.map((r) => ({ Date: r.date, 'Precipitation (in)': r.precipitation, 'Max Temp': r.temp_max, 'Min Temp': r.temp_min, Wind: r.wind, Sunny: r.weather === 'sun' })), ['Date', 'Precipitation (in)', 'Max Temp', 'Min Temp', 'Wind', 'Sunny']));
      return file;
    },
    label: 'sunny',
    task: 'binary',
    partitionBy: 'time:Date:month',
    ingestBy: 'api',
  },
];

describe('your own data, from a raw file to a served model', () => {
  for (const c of CASES) {
    it(`${c.dataset}: draft, ingest, spec init, train, predict with a missing value, batch, monitor`, async () => {
      const file = await c.file();
      const draft = await cli('lake', ['draft', file, '--dataset', c.dataset, ...(c.partitionBy ? ['--partition-by', c.partitionBy] : [])]);
      expect(draft.code, draft.stderr).toBe(0);
      const { dataset } = await loadDataset(harness.paths.datasetsDir, c.dataset);
      expect(dataset.columns.every((col) => /^[a-z_][a-z0-9_]*$/.test(col.name))).toBe(true);

      let ingested: IngestResult;
      if (c.ingestBy === 'cli') {
        const out = await cli('lake', ['ingest', file, '--dataset', c.dataset]);
        expect(out.code, out.stderr).toBe(0);
        expect(out.stdout).toMatch(/ingested \d+ rows into 1 partition/);
        ingested = JSON.parse(await readFile(path.join(harness.paths.lakeDir, c.dataset, '_ingests', (await readdir(path.join(harness.paths.lakeDir, c.dataset, '_ingests'))).find((f) => f.endsWith('.json'))!), 'utf8')) as IngestResult;
      } else {
        ingested = await runThroughApi<IngestResult>(`/datasets/${c.dataset}/ingest`, { sources: [file] });
      }
      expect(ingested.rows).toBeGreaterThan(300);
      const partitions = await listPartitions(harness.paths, c.dataset, dataset.partitionKey);
      expect(partitions.length).toBe(ingested.partitions.length);
      if (c.partitionBy) expect(partitions.length).toBe(48); // four years of months, in date order
      // The same file again: nothing changes.
      const before = await lakeFiles(c.dataset);
      const again = await runThroughApi<IngestResult>(`/datasets/${c.dataset}/ingest`, { sources: [file] });
      expect(again.alreadyIngested).toBe(true);
      expect(await lakeFiles(c.dataset)).toEqual(before);

      const init = await cli('spec', ['init', '--dataset', c.dataset, '--label', c.label]);
      expect(init.code, init.stderr).toBe(0);
      const model = `${c.dataset}_${c.label}`;
      const loaded = await loadSpec(harness.paths, model);
      expect(loaded.spec.task).toBe(c.task);
      // Live: the API started before this spec existed, and documents it now.
      const doc = JSON.stringify(await (await api.call('/openapi.json')).json());
      expect(doc).toContain(`needed by ${model}`);

      const trained = await runThroughApi<TrainModelResult>('/workflows/train', { model });
      expect(trained.promoted, JSON.stringify(trained.promotion)).toBe(true);
      // Small data: 5-fold cross-validation of the chosen model, with its spread, on the card too.
      const cv = trained.training.crossValidation!;
      expect(cv).toMatchObject({ folds: 5, metric: loaded.spec.gate.metric });
      expect(cv.values).toHaveLength(5);
      expect(Number.isFinite(cv.std) && cv.std >= 0).toBe(true);
      expect(Math.abs(cv.mean - cv.values.reduce((a, b) => a + b, 0) / 5)).toBeLessThan(1e-9);

      // Rows with a missing value, served: POST with null, GET with the field left out.
      const nullable = requestColumns(loaded.spec).filter((col) => col.nullable);
      const batch = await runThroughApi<BatchInferenceResult>('/workflows/batch', { model, partitions: 'new' });
      expect(batch.partitions.length).toBe(partitions.length);
      const db = await openDuckDB();
      let withNulls: Record<string, unknown>[];
      try {
        const files = await Promise.all(partitions.map((p) => openPredictions(harness.paths).localFile(model, dataset.partitionKey, p.value, trained.version)));
        const where = nullable.length ? nullable.map((col) => `"${col.name}" IS NULL`).join(' OR ') : 'true';
        withNulls = await queryRows(db.connection, `SELECT * FROM read_parquet([${files.map(quoteLiteral).join(', ')}], hive_partitioning = false) WHERE ${where} LIMIT 5`);
      } finally {
        db.close();
      }
      const requestRows = withNulls.map((r) =>
        Object.fromEntries(
          requestColumns(loaded.spec).map((col) => {
            const v = r[col.name];
            const text = v === null || v === undefined ? null : v instanceof Date ? v.toISOString().slice(0, col.type === 'DATE' ? 10 : 16) : String(v);
            return [col.name, text];
          }),
        ),
      );
      expect(requestRows.length).toBeGreaterThan(0);
      if (c.task === 'regression') {
        // A gate nothing passes: /predict's 503 then names the evaluation and the check that failed.
        const strict = JSON.parse(await readFile(loaded.file, 'utf8')) as Record<string, unknown> & { gate: Record<string, unknown> };
        await writeFile(path.join(harness.paths.modelsDir, `${model}_strict.json`), JSON.stringify({ ...strict, name: `${model}_strict`, gate: { ...strict.gate, max: 0.001 } }));
        const refused = await runThroughApi<TrainModelResult>('/workflows/train', { model: `${model}_strict` });
        expect(refused.promoted).toBe(false);
        const res = await post<{ error: { message: string } }>('/predict', { model: `${model}_strict`, rows: [requestRows[0]] });
        const body = res.body;
        expect(res.status).toBe(503);
        expect(body.error.message).toMatch(/v1 was evaluated and refused by its gate \(failed: rmse <= 0.001: rmse = [0-9.]+\)/);
      }
      const served = await post<{ predictions: Record<string, unknown>[] }>('/predict', { model, rows: requestRows });
      expect(served.status, JSON.stringify(served.body)).toBe(200);
      // Parity: the API's answer for each row equals what batch scoring wrote for it.
      const outputs = c.task === 'regression' ? ['prediction'] : c.task === 'binary' ? ['probability'] : ['label'];
      served.body.predictions.forEach((p, i) => {
        for (const o of outputs) {
          const batchValue = withNulls[i]![o];
          if (typeof batchValue === 'number') expect(Number(p[o])).toBeCloseTo(batchValue, 5);
          else expect(String(p[o])).toBe(String(batchValue));
        }
      });
      const withNull = requestRows.find((r) => Object.values(r).includes(null));
      if (withNull) {
        const query = new URLSearchParams({ model, ...Object.fromEntries(Object.entries(withNull).filter(([, v]) => v !== null)) as Record<string, string> });
        const res = await api.call(`/predict?${query}`);
        expect(res.status, await res.clone().text()).toBe(200);
      }
      // A missing column that may not be missing is a 400 naming it.
      const required = requestColumns(loaded.spec).find((col) => !col.nullable);
      if (required) {
        const bad = await post<{ error: { fields: { field: string; problem: string }[] } }>('/predict', { model, rows: [{ ...requestRows[0], [required.name]: null }] });
        expect(bad.status).toBe(400);
        expect(JSON.stringify(bad.body.error.fields)).toContain(required.name);
      }

      const monitored = await runThroughApi<MonitorModelResult>('/workflows/monitor', { model });
      expect(monitored.model).toBe(model);
      expect(monitored.version).toBe(trained.version);
    }, CASE_TIMEOUT_MS);
  }
});

describe('malformed files', () => {
  const ingestThrough = async (dataset: string, file: string): Promise<string> => {
    const started = await post<{ workflowId: string; runId: string }>(`/datasets/${dataset}/ingest`, { sources: [file] });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    try {
      await harness.client.workflow.getHandle(started.body.workflowId).result();
    } catch (err) {
      let e: unknown = err;
      while ((e as { cause?: unknown }).cause) e = (e as { cause: unknown }).cause;
      return (e as Error).message;
    }
    throw new Error(`${path.basename(file)} was ingested`);
  };

  it('each fails naming the file and the row or column, and the lake stays exactly as it was', async () => {
    const good = path.join(raw, 'trips.csv');
    await writeFile(good, 'Trip Id,Start Date,Distance (km),Mode\n1,2024-01-03,12.5,bike\n2,2024-02-10,,walk\n');
    const drafted = await cli('lake', ['draft', good, '--dataset', 'trips', '--partition-by', 'time:Start Date:month']);
    expect(drafted.code, drafted.stderr).toBe(0);
    await runThroughApi<IngestResult>('/datasets/trips/ingest', { sources: [good] });
    const before = await lakeFiles('trips');
    expect(before.filter((f) => f.endsWith('.parquet'))).toHaveLength(2);

    const cases: [string, string | Buffer, RegExp][] = [
      ['ragged.csv', 'Trip Id,Start Date,Distance (km),Mode\n3,2024-03-01,1.0,bike\n4,2024-03-02,2.0,bike,extra\n', /ragged\.csv: line 3: expected 4 fields, found 5/],
      ['types.csv', 'Trip Id,Start Date,Distance (km),Mode\n3,2024-03-01,1.0,bike\n4,2024-03-02,far,bike\n', /types\.csv: row 2, column 'distance_km' \(source 'Distance \(km\)'\): "far" is not a DOUBLE/],
      ['missing.csv', 'Trip Id,Start Date,Mode\n3,2024-03-01,bike\n', /missing\.csv: column distance_km: a declared column is missing: 'distance_km' \(source 'Distance \(km\)'\)/],
      ['empty.csv', '', /empty\.csv: is empty: no header and no rows/],
      ['latin1.csv', Buffer.concat([Buffer.from('Trip Id,Start Date,Distance (km),Mode\n3,2024-03-01,1.0,'), Buffer.from([0x76, 0xe9, 0x6c, 0x6f]), Buffer.from('\n')]), /latin1\.csv: line 2: is not UTF-8 text/],
      ['header-only.csv', 'Trip Id,Start Date,Distance (km),Mode\n', /header-only\.csv: has a header but no rows/],
      ['no-date.csv', 'Trip Id,Start Date,Distance (km),Mode\n3,,1.0,bike\n', /no-date\.csv: row 1, column 'start_date' \(source 'Start Date'\): is empty, and it decides the row's partition/],
    ];
    for (const [name, content, expected] of cases) {
      const file = path.join(raw, name);
      await writeFile(file, content);
      expect(await ingestThrough('trips', file), name).toMatch(expected);
      expect(await lakeFiles('trips'), name).toEqual(before);
    }
  }, CASE_TIMEOUT_MS);
});
