// What people open, in a real browser (headless Chromium): Swagger UI at /docs, served by the
// API over HTTP with no network beyond it, lists every documented operation; a monitoring
// report opens from a file and draws its charts. Screenshots are kept in SCREENSHOT_DIR when set.
import { serve } from '@hono/node-server';
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporalUnavailableError } from '../core/errors.js';
import type { DriftReport } from '../core/monitoring.js';
import { renderReportHtml } from '../core/report-html.js';
import { testApi, testPaths, type TestApi } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let browser: Browser;
let api: TestApi;
let shots: string;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  api = await testApi(await testPaths(), async () => {
    throw new TemporalUnavailableError('127.0.0.1:1', 'connection refused');
  }, { address: '127.0.0.1:1', namespace: 'default', taskQueue: 'unused', uiUrl: 'http://localhost:8233' });
  shots = process.env.SCREENSHOT_DIR ?? (await mkdtemp(path.join(tmpdir(), 'mlops-shots-')));
});

afterAll(async () => {
  await browser?.close();
  api?.close();
});

describe('in a browser', () => {
  it('renders Swagger UI at /docs from the API alone, every operation listed', async () => {
    const server = serve({ fetch: api.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const elsewhere: string[] = [];
      const errors: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(base) && !r.url().startsWith('data:')) elsewhere.push(r.url());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${base}/docs`);
      await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
      const doc = (await (await api.call('/openapi.json', {}, null)).json()) as { paths: Record<string, Record<string, unknown>> };
      const operations = Object.values(doc.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
      expect(await page.locator('.opblock').count()).toBe(operations);
      expect(await page.locator('.opblock-summary-path', { hasText: '/predict' }).count()).toBe(2);
      await page.screenshot({ path: path.join(shots, 'docs.png'), fullPage: true });
      expect(elsewhere).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('opens a monitoring report offline and draws a chart per feature', async () => {
    const hist = { edges: [0, 500, 1000, 1500, 2000], reference: [40, 30, 20, 10], current: [10, 20, 30, 40] };
    const numeric = (name: string) => ({
      kind: 'numeric' as const, name, referenceRows: 100, currentRows: 100, referenceNulls: 0, currentNulls: 0, referenceMean: 800, currentMean: 1200,
      referenceStd: 500, currentStd: 500, psi: 0.4, wasserstein: 400, wassersteinNormalized: 0.8, standardizedMeanDifference: 0.8, verdict: 'drift' as const,
      reasons: ['PSI 0.4 >= 0.2'], histogram: hist,
    });
    const share = (value: string, r: number, c: number) => ({ value, referenceCount: r, currentCount: c, referenceShare: r / 100, currentShare: c / 100 });
    const report: DriftReport = {
      model: 'flight_delay', version: 3, reportId: 'browser-test', createdAt: '2001-06-25T05:00:00Z', workflowId: 'monitor-x', runId: 'run-x',
      reference: { partitions: ['2001-01-01', '2001-02-19'], rows: 100 }, window: { partitions: ['2001-06-25'], rows: 100 },
      features: [
        numeric('distance'),
        { kind: 'categorical', name: 'origin', referenceRows: 100, currentRows: 100, referenceCategories: 3, currentCategories: 4, psi: 0.3, jensenShannon: 0.2,
          newCategories: [{ value: 'XXX', count: 25, share: 0.25 }], newCategoryCount: 1, largestShift: share('ORD', 50, 20), verdict: 'drift', reasons: ['PSI 0.3 >= 0.2'],
          bars: [share('ORD', 50, 20), share('LAX', 30, 30), share('XXX', 0, 25), share('(other)', 20, 25)] },
      ],
      prediction: numeric('probability'), labels: null,
      performance: { metric: 'auc', higherIsBetter: true, atPromotion: 0.74, current: 0.7, degradation: 0.04, maxDegradation: 0.02, calibrationError: 0.03, maxCalibrationError: 0.05,
        labelledRows: 100, verdict: 'drift', reasons: ['auc 0.7 is 0.04 worse'], overTime: [
          { partition: '2001-01-01', rows: 50, metrics: { auc: 0.75 }, role: 'reference' }, { partition: '2001-06-25', rows: 50, metrics: { auc: 0.7 }, role: 'window' }] },
      summary: { verdict: 'drift-and-decay', driftedFeatures: ['distance', 'origin'], predictionDrift: true, decay: true },
      retrain: { wanted: true, reasons: ['feature drift in distance, origin'], started: { workflowId: 'train-flight_delay-on-drift', runId: 'r' } },
      timings: { driftSeconds: 0.5, performanceSeconds: 0.5 },
    };
    const file = path.join(shots, 'report.html');
    await writeFile(file, renderReportHtml(report));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);
    // One chart per feature, the prediction, and the metric over time; each with its bars or points.
    expect(await page.locator('svg').count()).toBe(4);
    expect(await page.locator('svg rect').count()).toBeGreaterThan(16);
    expect(await page.locator('text=XXX').count()).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(shots, 'report.png'), fullPage: true });
    expect(requests).toEqual([`file://${file}`]);
  });
});
