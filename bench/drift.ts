// `npm run bench:drift`: how long MonitorModelWorkflow's statistics take on a big window, and
// what its report looks like in a browser.
//
// The reference is January to late May 2001 (21 weekly partitions, about 2.4 million flights),
// the window the next 5 weeks (about 570,000): drift of every feature and of the prediction,
// then performance per labelled partition, computed by the activity's own code (analyzeDrift)
// over the champion's batch predictions. Three runs, each in a fresh DuckDB. The report is
// written and opened in headless Chromium, and a screenshot is saved.
//
// Needs the lake and predictions that `npm run bench:batch` leaves in .state/bench/batch.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { analyzeDrift, type MonitorPlan } from '../activities/monitoring.js';
import { resolvePaths } from '../core/config.js';
import { openLake } from '../storage/lake.js';
import { scoredPartitions } from '../storage/predictions.js';
import { CHAMPION, openRegistry } from '../storage/registry.js';
import { renderReportHtml } from '../core/report-html.js';

const MODEL = 'flight_delay';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const main = resolvePaths();
const paths = { ...resolvePaths({ ...process.env, MLOPS_STATE_DIR: path.join(main.stateDir, 'bench', 'batch') }), arrivalsDir: main.arrivalsDir };
const outDir = path.join(main.stateDir, 'bench', 'drift');

async function run(): Promise<void> {
  const version = (await openRegistry(paths).getAlias(MODEL, CHAMPION))?.version;
  const lake = (await openLake(paths).partitions('flights', 'week')).map((p) => p.value);
  const scored = version === undefined ? new Set<string>() : await scoredPartitions(paths, MODEL, 'week', version);
  if (version === undefined || lake.length < 26 || lake.some((p) => !scored.has(p))) {
    throw new Error('this benchmark reads the champion’s predictions of all 26 weeks: run `npm run bench:batch` first');
  }
  const plan: MonitorPlan = { model: MODEL, version, partitionKey: 'week', reference: lake.slice(0, 21), window: lake.slice(21), unscored: [] };
  console.log(`reference ${plan.reference[0]} .. ${plan.reference.at(-1)} (${plan.reference.length} weeks), window ${plan.window[0]} .. ${plan.window.at(-1)} (${plan.window.length} weeks), v${version}`);
  let last;
  for (let i = 1; i <= 3; i++) {
    const started = performance.now();
    last = await analyzeDrift(paths, { plan, reportId: `bench-${i}`, workflowId: 'bench', runId: 'bench' });
    const total = (performance.now() - started) / 1000;
    console.log(
      `run ${i}: ${last.reference.rows} reference rows, ${last.window.rows} window rows; ` +
        `drift of ${last.features.length} features and the prediction ${last.timings.driftSeconds.toFixed(3)} s, ` +
        `performance of ${last.performance.overTime.length} partitions ${last.timings.performanceSeconds.toFixed(3)} s, all ${total.toFixed(3)} s; verdict ${last.summary.verdict}`,
    );
  }
  const report = { ...last!, retrain: { ...last!.retrain } };
  const html = renderReportHtml(report);
  await mkdir(outDir, { recursive: true });
  const htmlFile = path.join(outDir, 'report.html');
  await writeFile(htmlFile, html);
  await writeFile(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2));
  console.log(`report: ${htmlFile} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KB)`);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${htmlFile}`);
    const charts = await page.locator('svg').count();
    const bars = await page.locator('svg rect').count();
    const shot = path.join(outDir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`chromium: ${charts} charts, ${bars} bars drawn, ${requests.length - 1} requests beyond the page itself; screenshot ${shot}`);
  } finally {
    await browser.close();
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
