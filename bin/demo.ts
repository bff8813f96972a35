// `npm run demo`: watch the loop run on real arrivals. With the system running (`npm start` in
// another terminal), it releases the lake's next week, triggers the model's weekly batch and
// monitoring schedules, prints what they found with a link to the report, and follows any
// retraining the monitor starts by itself, week after week.
//
// Options: --model flight_delay   --weeks N (default: every week not released yet)
import { Client, Connection } from '@temporalio/client';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureTokenFile } from '../api/auth.js';
import { resolvePaths, temporalSettings, temporalUiLink } from '../core/config.js';
import { errorMessage, rootCause, UnknownScheduleError } from '../core/errors.js';
import { openLake } from '../storage/lake.js';
import type { DriftReport, MonitorModelResult } from '../core/monitoring.js';
import { describeSchedule, scheduleId, triggerSchedule } from '../runs/schedules.js';
import { loadSpec } from '../core/spec.js';
import type { BatchInferenceResult, MaterializedView } from '../core/types.js';
import { FLIGHTS_DATASET, FLIGHTS_PARTITION_KEY, lakeStatus, releaseWeeks } from '../data/flights.js';
import { describeMetrics } from '../tasks/index.js';
import { isTemporalUp } from '../worker/dev-server.js';
import { follow, followTraining, pendingLine } from './follow.js';

const USAGE = 'usage: npm run demo [-- --model NAME] [--weeks N]';

/** --model and --weeks; anything else, or a flag without its value, stops the demo before it changes anything. */
function demoOptions(args: readonly string[]): { model: string; weeks: number | undefined } {
  let values: { model?: string; weeks?: string };
  try {
    ({ values } = parseArgs({ args: [...args], options: { model: { type: 'string' }, weeks: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new Error(`${errorMessage(err)}\n${USAGE}`);
  }
  if (values.weeks !== undefined && !(/^\d+$/.test(values.weeks) && Number(values.weeks) >= 1)) {
    throw new Error(`--weeks ${values.weeks}: must be a whole number of weeks, 1 or more\n${USAGE}`);
  }
  return { model: values.model ?? 'flight_delay', weeks: values.weeks === undefined ? undefined : Number(values.weeks) };
}

const paths = resolvePaths();
const temporal = temporalSettings();
const apiUrl = (process.env.MLOPS_API_URL ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`).replace(/\/$/, '');
const say = (line: string) => console.log(`[demo] ${line}`);
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)}%`);

async function main(): Promise<void> {
  const { model, weeks: weeksAsked } = demoOptions(process.argv.slice(2));
  const { spec } = await loadSpec(paths, model);
  if (!(await isTemporalUp(temporal.address))) {
    throw new Error(`Temporal is not reachable at ${temporal.address}. Start the system first, in another terminal:\n  npm start\nthen run npm run demo again.`);
  }
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace });
  const tokensFile = process.env.MLOPS_API_TOKENS_FILE ?? path.join(paths.stateDir, 'api-tokens.json');
  const adminToken = existsSync(tokensFile) ? (ensureTokenFile(tokensFile)['local-admin'] ?? '<admin token>') : '<admin token>';
  try {
    // Both schedules must exist before a week is released: a week released and not scored stays released.
    for (const kind of ['batch', 'monitor'] as const) {
      await describeSchedule(client, scheduleId(kind, model)).catch((err: unknown) => {
        if (!(err instanceof UnknownScheduleError)) throw err;
        throw new Error(
          `the ${kind} schedule of '${model}' (${scheduleId(kind, model)}) does not exist: the spec must declare schedules.${kind}, ` +
            'and a worker of the main queue with MLOPS_SCHEDULES on must have started (npm start does both); nothing was released',
        );
      });
    }
    const pending = (await lakeStatus(paths)).pending;
    const weeks = Math.min(weeksAsked ?? pending.length, pending.length);
    if (weeks === 0) {
      say(`every week is in the lake already (${openLake(paths).location(FLIGHTS_DATASET)}); nothing to release. Start over with a fresh state folder to see it again.`);
      return;
    }
    say(`${model}: ${spec.description}`);
    say(`releasing ${weeks} week(s) one at a time; each week the batch and monitoring schedules run (${temporal.uiUrl}/namespaces/${temporal.namespace}/schedules)`);
    const rows: string[][] = [];
    for (let i = 0; i < weeks; i++) {
      const [week] = await releaseWeeks(paths, 1);
      if (!week) break;
      const lake = openLake(paths);
      const released = (await lake.partitions(FLIGHTS_DATASET, FLIGHTS_PARTITION_KEY)).find((p) => p.value === week)!;
      const flights = [...(await lake.rowCounts(released.files)).values()].reduce((a, b) => a + b, 0);
      say('');
      say(`week ${week}: ${flights.toLocaleString('en-US')} flights arrived in the lake`);
      if (spec.features.views.length > 0) {
        // The lake gained a week: the online store catches up, as an ingest makes it do.
        const views = await triggerSchedule(client, scheduleId('materialize', model));
        const done = await follow<MaterializedView[]>(client, views.workflowId, say, { runId: views.runId });
        say(`  feature views now as of ${[...new Set(done.map((v) => v.asOf))].join(', ')}`);
      }

      const batchRun = await triggerSchedule(client, scheduleId('batch', model));
      say(`batch scoring (${batchRun.workflowId}):`);
      const batch = await follow<BatchInferenceResult>(client, batchRun.workflowId, say, { runId: batchRun.runId });
      say(`  v${batch.version} scored ${batch.partitions.length} partition(s) it had not scored yet: ${batch.rowsOut.toLocaleString('en-US')} predictions for ${batch.rowsIn.toLocaleString('en-US')} rows`);

      const monitorRun = await triggerSchedule(client, scheduleId('monitor', model));
      say(`monitoring (${monitorRun.workflowId}):`);
      const monitor = await follow<MonitorModelResult>(client, monitorRun.workflowId, say, {
        runId: monitorRun.runId,
        whenIdle: async () => pendingLine(await client.workflow.getHandle(`${monitorRun.workflowId}-batch`).describe().catch(() => undefined)),
      });
      const report = JSON.parse(await readFile(path.join(monitor.report, 'report.json'), 'utf8')) as DriftReport;
      const perf = report.performance;
      say(`  verdict: ${report.summary.verdict}${report.summary.driftedFeatures.length ? ` (drifted: ${report.summary.driftedFeatures.join(', ')})` : ''}`);
      say(
        `  ${perf.metric} this week ${perf.current?.toFixed(4) ?? '—'} against ${perf.atPromotion?.toFixed(4) ?? '—'} at promotion; ` +
          `calibration error ${perf.calibrationError?.toFixed(4) ?? '—'}; delay rate ${pct(report.labels?.kind === 'categorical' ? report.labels.bars.find((b) => b.value === 'true')?.currentShare : null)} ` +
          `(reference ${pct(report.labels?.kind === 'categorical' ? report.labels.bars.find((b) => b.value === 'true')?.referenceShare : null)})`,
      );
      for (const r of [...report.features, report.prediction, perf].flatMap((c) => (c.verdict === 'drift' ? c.reasons.map((x) => `${'name' in c ? c.name : 'performance'}: ${x}`) : []))) {
        say(`    ${r}`);
      }
      say(`  report: ${apiUrl}/reports/${model}/${monitor.reportId}   (file: ${path.join(monitor.report, 'report.html')})`);
      let retrained = '';
      if (monitor.retrain.started) {
        const { workflowId, runId } = monitor.retrain.started;
        say(`  the monitor started a retraining by itself: ${temporalUiLink(temporal, workflowId, runId)}`);
        try {
          const trained = await followTraining(client, model, workflowId, { url: apiUrl, adminToken }, say);
          retrained = `v${trained.version} ${trained.promotion.outcome}`;
          say(`  v${trained.version} trained on the newest weeks: holdout ${describeMetrics(trained.holdout)}; ${trained.promotion.outcome}${trained.promoted ? ' (the new champion)' : ''}`);
          for (const check of trained.promotion.gate.checks.filter((c) => !c.passed)) say(`    gate: ${check.name} failed: ${check.detail}`);
        } catch (err) {
          retrained = 'failed';
          say(`  the retraining failed: ${rootCause(err).message}`);
        }
      } else if (monitor.retrain.skipped) {
        say(`  retraining wanted but not started: ${monitor.retrain.skipped}`);
      }
      rows.push([week, `v${report.version}`, report.summary.verdict, perf.current?.toFixed(4) ?? '—', perf.calibrationError?.toFixed(4) ?? '—', retrained]);
    }
    say('');
    say('week        champion  verdict           metric  calibration  retraining');
    for (const r of rows) say(`${r[0]!.padEnd(12)}${r[1]!.padEnd(10)}${r[2]!.padEnd(18)}${r[3]!.padEnd(8)}${r[4]!.padEnd(13)}${r[5]}`);
    say(`reports: ${apiUrl}/reports/${model}`);
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`[demo] ${errorMessage(err)}`);
  process.exit(1);
});
