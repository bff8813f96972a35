// The console at /ui in headless Chromium, on a real stack: the three flights models trained by
// TrainModelWorkflow on the run's dev server (one binary, one multiclass, one regression), two
// versions of flight_delay and a monitoring report. Every page is opened signed in, its key
// content asserted, screenshotted (SCREENSHOT_DIR keeps them) and checked with axe-core (no
// serious or critical violation). The admin actions work from the page (approve, reject, roll
// back, start a training) and are refused for a predict token.
import { serve } from '@hono/node-server';
import { readFile, mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonitorModelInput, MonitorModelResult } from '../core/monitoring.js';
import type { TrainModelInput, TrainModelResult } from '../core/types.js';
import { openRegistry } from '../storage/registry.js';
import { declareVariant, startWorkerHarness, testApi, TEST_TOKENS, type TestApi, type WorkerHarness } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const MODELS = ['flight_delay', 'flight_delay_class', 'flight_delay_minutes'] as const;
const SETUP_TIMEOUT_MS = 600_000;

let harness: WorkerHarness;
let api: TestApi;
let server: ReturnType<typeof serve>;
let base: string;
let browser: Browser;
let shots: string;
let axeSource: string;

async function train(model: string, id: string): Promise<TrainModelResult> {
  return harness.client.workflow.execute<(i: TrainModelInput) => Promise<TrainModelResult>>('TrainModelWorkflow', {
    taskQueue: harness.taskQueue,
    workflowId: `console-${id}-${process.pid}`,
    args: [{ model, reason: 'console test' }],
  });
}

beforeAll(async () => {
  harness = await startWorkerHarness('console');
  const { paths } = harness;
  // The shipped specs, quicker: 20 rounds; no latency gate (two shared cores); no retraining from monitoring.
  for (const model of MODELS) {
    await declareVariant(paths, model, model, (spec) => {
      spec.trainer.params.numIterations = 20;
      delete spec.gate.latency;
      spec.monitoring = { ...(spec.monitoring ?? {}), retrain: { onFeatureDrift: false, onPredictionDrift: false, onDecay: false } };
    });
  }
  const firsts = await Promise.all(MODELS.map((m) => train(m, `${m}-1`)));
  for (const r of firsts) expect(r.promoted, JSON.stringify(r.promotion)).toBe(true);
  // A week of monitoring for flight_delay (it batch-scores what it needs first).
  await harness.client.workflow.execute<(i: MonitorModelInput) => Promise<MonitorModelResult>>('MonitorModelWorkflow', {
    taskQueue: harness.taskQueue,
    workflowId: `console-monitor-${process.pid}`,
    args: [{ model: 'flight_delay', window: { last: 2 }, reason: 'console test' }],
  });
  // v2 of flight_delay, with more rounds (so the two differ): promoted without asking. Then promotions wait for a person.
  await declareVariant(paths, 'flight_delay', 'flight_delay', (spec) => {
    spec.trainer.params.numIterations = 40;
  });
  expect((await train('flight_delay', 'flight_delay-2')).promoted).toBe(true);
  await declareVariant(paths, 'flight_delay', 'flight_delay', (spec) => {
    spec.approval = { required: true, timeoutSeconds: 3600 };
    spec.gate.champion = { tolerance: 0.5 };
  });

  api = await testApi(paths, async () => harness.client, { address: harness.address, namespace: 'default', taskQueue: harness.taskQueue, uiUrl: 'http://localhost:8233' });
  server = serve({ fetch: api.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  shots = process.env.SCREENSHOT_DIR ?? (await mkdtemp(path.join(tmpdir(), 'mlops-console-')));
  axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  server?.close();
  api?.close();
  await harness?.close();
});

async function signedIn(token: string): Promise<{ context: BrowserContext; page: Page }> {
  // The console's CSP allows no script at all: axe-core is injected past it, as a browser extension would be.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${base}/ui`);
  expect(new URL(page.url()).pathname).toBe('/ui/login');
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(`${base}/ui`), page.click('button[type=submit]')]);
  return { context, page };
}

/** axe-core on the page: serious and critical violations, as 'rule: target' lines. */
async function accessibility(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: axeSource });
  const result = (await page.evaluate(() => (globalThis as unknown as { axe: { run(): Promise<unknown> } }).axe.run())) as {
    violations: { id: string; impact: string | null; nodes: { target: string[] }[] }[];
  };
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`));
}

async function open(page: Page, url: string, shot: string): Promise<void> {
  const res = await page.goto(`${base}${url}`);
  expect(res?.status(), url).toBe(200);
  await page.screenshot({ path: path.join(shots, `${shot}.png`), fullPage: true });
  expect(await accessibility(page), url).toEqual([]);
}

describe('console', () => {
  it('shows every page to a signed-in reader, with its key content, accessibly', async () => {
    const { context, page } = await signedIn(TEST_TOKENS.predict);
    try {
      const outside: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(base) && !r.url().startsWith('data:')) outside.push(r.url());
      });
      await open(page, '/ui', 'models');
      for (const m of MODELS) await expect(page.locator('tbody tr', { hasText: m }).first().textContent()).resolves.toMatch(/promoted/);
      await expect(page.locator('tbody tr', { hasText: 'flight_delay' }).first().textContent()).resolves.toMatch(/v2/);
      expect(await page.locator('form.action').count()).toBe(0); // a reader gets no actions

      await open(page, '/ui/models/flight_delay', 'model');
      const body = (await page.textContent('main'))!;
      expect(body).toMatch(/Champion\s*v2/);
      expect(await page.locator('tbody tr th[scope=row]', { hasText: /^v\d/ }).count()).toBe(2);
      expect(body).toMatch(/✓ auc/);
      expect(await page.locator('a', { hasText: 'training run' }).first().getAttribute('href')).toMatch(/^http:\/\/localhost:8233\/namespaces\/default\/workflows\/console-flight_delay-2-/);
      expect(await page.locator('svg[aria-label^="Champion version over time"]').count()).toBe(1);
      expect(await page.locator('svg[aria-label^="auc per week"]').count()).toBe(1);
      expect(await page.locator('a', { hasText: 'monitoring run' }).first().getAttribute('href')).toMatch(/\/workflows\/console-monitor-\d+\//);
      const report = page.locator('a[href^="/ui/models/flight_delay/reports/"]').first();
      const reportUrl = (await report.getAttribute('href'))!;

      await open(page, '/ui/models/flight_delay/versions/2', 'version-binary');
      expect(await page.locator('svg[aria-label^="Training curve"] path').count()).toBeGreaterThanOrEqual(2); // train and validation
      for (const chart of ['Feature importance', 'ROC curve', 'Precision-recall curve', 'Calibration', 'Confusion matrix v2']) {
        expect(await page.locator(`svg[aria-label^="${chart}"]`).count(), chart).toBe(1);
      }
      expect(await page.textContent('main')).toMatch(/AUC 0\.\d{3}/);

      await open(page, '/ui/models/flight_delay_class/versions/1', 'version-multiclass');
      const classes = (await openRegistry(harness.paths).readCard('flight_delay_class', 1)).classes!;
      for (const c of classes) expect(await page.textContent('svg[aria-label^="ROC curve"]')).toContain(c);
      expect(await page.locator('svg[aria-label^="Confusion matrix v1"] rect').count()).toBe(classes.length ** 2);

      await open(page, '/ui/models/flight_delay_minutes/versions/1', 'version-regression');
      expect(await page.locator('svg[aria-label^="Residuals against predictions"] circle').count()).toBeGreaterThan(100);
      expect(await page.locator('svg[aria-label^="ROC curve"]').count()).toBe(0);

      await open(page, '/ui/models/flight_delay/compare?a=2&b=1', 'compare');
      const table = (await page.textContent('table'))!;
      for (const metric of ['auc', 'logLoss', 'accuracy']) expect(table).toContain(metric);
      expect(table).toMatch(/\[-?\d\.\d{4}, -?\d\.\d{4}\]/);
      expect(await page.locator('svg[aria-label^="ROC curve"] path').count()).toBe(2); // both versions overlaid

      const res = await page.goto(`${base}${reportUrl}`);
      expect(res?.status()).toBe(200);
      expect(await page.textContent('body')).toContain('flight_delay');
      expect(outside).toEqual([]);
    } finally {
      await context.close();
    }
  }, 240_000);

  it('answers bad input with a page that names it', async () => {
    const cookie = { cookie: `mlops_console=${encodeURIComponent(TEST_TOKENS.admin)}` };
    const get = async (url: string) => {
      const res = await api.app.request(url, { headers: cookie });
      return { status: res.status, text: await res.text(), csp: res.headers.get('content-security-policy') };
    };
    const login = await api.app.request('/ui/login', { method: 'POST', body: new URLSearchParams({ token: 'not-a-token-at-all-0000', next: '/ui' }) });
    expect(login.status).toBe(401);
    expect(await login.text()).toContain('That token is not accepted');
    const away = await api.app.request('/ui/login', { method: 'POST', body: new URLSearchParams({ token: TEST_TOKENS.predict, next: 'https://elsewhere.example/' }) });
    expect(away.headers.get('location')).toBe('/ui'); // never sent off-site after signing in
    expect(away.headers.get('set-cookie')).toMatch(/^mlops_console=.*; Path=\/ui; HttpOnly; SameSite=Strict/);

    const unknown = await get('/ui/models/no_such_model');
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('UnknownModelError');
    const same = await get('/ui/models/flight_delay/compare?a=2&b=2');
    expect(same.status).toBe(400);
    expect(same.text).toMatch(/a and b must be two different versions of flight_delay: v1, v2/);
    expect(same.csp).toContain("default-src 'none'");
    const stale = await api.app.request('/ui/models/flight_delay/actions/rollback', { method: 'POST', headers: cookie, body: new URLSearchParams({ csrf: 'forged', reason: 'x' }) });
    expect(stale.status).toBe(403);
    expect(await stale.text()).toContain('did not come from this console');
    expect((await openRegistry(harness.paths).getAlias('flight_delay', 'champion'))?.version).toBe(2);
  });

  it('refuses the admin actions to a predict token, in the API’s words', async () => {
    const { context, page } = await signedIn(TEST_TOKENS.predict);
    try {
      const csrf = (await page.locator('input[name=csrf]').first().getAttribute('value'))!;
      const res = await page.request.post(`${base}/ui/models/flight_delay/actions/rollback`, { form: { csrf, reason: 'not allowed' }, maxRedirects: 0 });
      expect(res.status()).toBe(403);
      expect(await res.text()).toMatch(/ForbiddenError: .*admin/);
      expect((await openRegistry(harness.paths).getAlias('flight_delay', 'champion'))?.version).toBe(2);
    } finally {
      await context.close();
    }
  });

  it('approves, rejects, rolls back and starts a training from the pages, each with its reason in the log', async () => {
    const { context, page } = await signedIn(TEST_TOKENS.admin);
    const registry = openRegistry(harness.paths);
    const submit = async (button: string, reason: string) => {
      const form = page.locator('form.action', { has: page.locator(`button`, { hasText: button }) });
      await form.locator('input[name=reason]').fill(reason);
      await Promise.all([page.waitForLoadState('load'), form.locator('button').click()]);
    };
    const awaitApproval = async (version: number) => {
      for (let i = 0; i < 600; i++) {
        await page.goto(`${base}/ui/models/flight_delay`);
        if ((await page.locator('button', { hasText: `Approve v${version}` }).count()) > 0) return;
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`v${version} never waited for approval`);
    };
    try {
      await page.goto(`${base}/ui/models/flight_delay`);
      await submit('Start a training', 'new data arrived');
      expect(await page.textContent('.notice')).toMatch(/training started/);
      await awaitApproval(3);
      expect(await accessibility(page)).toEqual([]);
      await page.screenshot({ path: path.join(shots, 'model-awaiting-approval.png'), fullPage: true });
      await submit('Approve v3', 'curves look right');
      expect(await page.textContent('.notice')).toMatch(/v3 approved/);
      expect((await registry.getAlias('flight_delay', 'champion'))?.version).toBe(3);

      await submit('Roll back from v3', 'v3 misbehaves');
      expect(await page.textContent('.notice')).toMatch(/rolled back/);
      expect((await registry.getAlias('flight_delay', 'champion'))?.version).toBe(2);

      await submit('Start a training', 'try again');
      await awaitApproval(4);
      await submit('Reject v4', 'not better');
      expect(await page.textContent('.notice')).toMatch(/v4 rejected/);
      expect((await registry.getAlias('flight_delay', 'champion'))?.version).toBe(2);

      // The alias log holds each decision with the console's principal and the reason typed in.
      const log = await registry.aliasHistory('flight_delay');
      const champion = log.filter((e) => e.alias === 'champion');
      expect(champion.slice(-2).map((e) => [e.action, e.version, e.actor])).toEqual([
        ['promote', 3, 'test-admin'],
        ['rollback', 2, 'test-admin'],
      ]);
      expect(champion.at(-2)!.reason).toContain('curves look right');
      expect(champion.at(-1)!.reason).toContain('v3 misbehaves');
      expect(log.at(-1)).toMatchObject({ alias: 'challenger', action: 'clear', actor: 'test-admin' });
      expect(log.at(-1)!.reason).toContain('not better');
    } finally {
      await context.close();
    }
  }, 300_000);
});
