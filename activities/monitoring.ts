// Monitoring activities: plan a run (the champion, its training reference, the window, and
// which of them it has not scored yet), compute drift and performance in DuckDB SQL, look for
// a running training, and write the report (JSON and self-contained HTML).
//
// Both sides are read from batch predictions, which hold the features the model saw and its
// outputs, so nothing is recomputed; labels come from the lake, joined by row key.
import { Context } from '@temporalio/activity';
import type { Paths } from '../core/config.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { judgePerformance, summarize } from '../core/drift.js';
import { openDuckDB, queryRows, quoteIdent, quoteLiteral } from '../core/duckdb.js';
import { DataContractViolation, namingSqlFile, NoChampionError, UnknownPartitionError } from '../core/errors.js';
import { keyedFeatures, LABEL_COLUMN } from '../core/features.js';
import { higherIsBetter as metricHigherIsBetter } from '../core/gate.js';
import { metricValue } from '../ml/metrics.js';
import { comparePartitionValues } from '../core/dataset.js';
import type {
  DriftReport,
  FeatureDrift,
  MonitorModelInput,
  PerformanceCheck,
  PerformancePoint,
  RetrainDecision,
} from '../core/monitoring.js';
import { FEATURES_COLUMN, openPredictions, scoredPartitions, SOURCE_FILE, SOURCE_ROW } from '../storage/predictions.js';
import { CHAMPION, type ModelCard, openRegistry } from '../storage/registry.js';
import { nameInDataset, openLake } from '../storage/lake.js';
import { renderReportHtml } from '../core/report-html.js';
import { openReports } from '../storage/reports.js';
import { loadSpec, type LoadedSpec } from '../core/spec.js';
import { modelTask } from '../tasks/index.js';
import type { MonitoringPolicy } from '../core/spec-operations.js';
import { columnDrift, groupMetrics } from './drift-statistics.js';

export interface MonitoringDeps {
  readonly paths: Paths;
}

export interface MonitorPlan {
  readonly model: string;
  readonly version: number;
  readonly partitionKey: string;
  /** The partitions the champion was trained and early-stopped on. */
  readonly reference: readonly string[];
  readonly window: readonly string[];
  /** Reference and window partitions the champion has not scored yet: a batch run scores them first. */
  readonly unscored: readonly string[];
}

export function createMonitoringActivities({ paths }: MonitoringDeps) {
  const registry = openRegistry(paths);

  async function planMonitor(input: MonitorModelInput): Promise<MonitorPlan> {
    const { spec } = await loadSpec(paths, input.model);
    const version = (await registry.getAlias(input.model, CHAMPION))?.version;
    if (version === undefined) throw new NoChampionError(input.model);
    const card = await registry.readCard(input.model, version);
    const { name: dataset, partitionKey } = spec.dataset;
    const lake = (await openLake(paths).partitions(dataset, partitionKey)).map((p) => p.value);
    const reference = [...card.lineage.dataset.trainPartitions, ...(card.lineage.dataset.validationPartitions ?? [])];
    const gone = reference.filter((p) => !lake.includes(p));
    if (gone.length) {
      throw new DataContractViolation(
        'empty',
        `v${version} was trained on ${partitionKey}=${gone.join(', ')}, which the lake no longer has: there is no reference to compare with`,
        openLake(paths).location(dataset),
      );
    }
    let window: string[];
    if (input.window?.partitions?.length) {
      window = [...new Set(input.window.partitions)].sort(comparePartitionValues);
      const unknown = window.find((p) => !lake.includes(p));
      if (unknown) throw new UnknownPartitionError(dataset, `${partitionKey}=${unknown}`, lake);
    } else {
      window = lake.slice(-(input.window?.last ?? spec.monitoring.windowPartitions));
    }
    const scored = await scoredPartitions(paths, input.model, partitionKey, version);
    const unscored = [...new Set([...reference, ...window])].filter((p) => !scored.has(p)).sort(comparePartitionValues);
    return { model: input.model, version, partitionKey, reference, window, unscored };
  }

  /** Drift of every feature and of the prediction, and performance where labels have arrived. */
  async function computeDrift(input: DriftInput): Promise<Omit<DriftReport, 'retrain'> & { retrain: RetrainDecision }> {
    const ctx = Context.current();
    return analyzeDrift(paths, input, (details) => ctx.heartbeat(details));
  }

  /** Running TrainModelWorkflows of the model, found through the ModelName search attribute. */
  async function findRunningTraining(input: { model: string }): Promise<string[]> {
    const { spec } = await loadSpec(paths, input.model); // the name is a checked identifier
    const ids: string[] = [];
    const query = `WorkflowType = 'TrainModelWorkflow' AND ExecutionStatus = 'Running' AND ModelName = '${spec.name}'`;
    for await (const w of Context.current().client.workflow.list({ query })) ids.push(w.workflowId);
    return ids;
  }

  /** report.html and report.json under <model>/<reportId>/ in the reports area; the JSON last (it marks the report complete). */
  async function writeReport(input: { report: DriftReport }): Promise<string> {
    const { model, reportId } = input.report;
    return openReports(paths).write(model, reportId, renderReportHtml(input.report), JSON.stringify(input.report, null, 2));
  }

  return { planMonitor, computeDrift, findRunningTraining, writeReport };
}

/** The metric when the version was promoted (its evaluation's candidate metrics), else on its card's holdout. */
function valueAtPromotion(card: ModelCard, metric: string): number | null {
  const promoted = card.evaluations?.findLast((e) => e.outcome === 'promoted');
  const value = metricValue(promoted?.report.candidate.metrics ?? card.metrics.holdout, metric);
  return Number.isFinite(value) ? value : null;
}

export interface DriftInput {
  readonly plan: MonitorPlan;
  readonly reportId: string;
  readonly workflowId: string;
  readonly runId: string;
}

/**
 * Drift of every feature and of the prediction (window against reference, both read from the
 * champion's batch predictions), and performance where labels have arrived, all in DuckDB.
 * `progress` receives what the activity heartbeats.
 */
export async function analyzeDrift(
  paths: Paths,
  input: DriftInput,
  progress: (details: Record<string, unknown>) => void = () => {},
): Promise<Omit<DriftReport, 'retrain'> & { retrain: RetrainDecision }> {
  const { plan } = input;
  const registry = openRegistry(paths);
  const loaded = await loadSpec(paths, plan.model);
  const { spec } = loaded;
  const policy = spec.monitoring;
  const card = await registry.readCard(plan.model, plan.version);
  const predictions = openPredictions(paths);
  const files = (partitions: readonly string[]) => Promise.all(partitions.map((p) => predictions.localFile(plan.model, plan.partitionKey, p, plan.version)));
  const db = await openDuckDB({ threads: 2 });
  try {
    const c = db.connection;
    const started = performance.now();
    // One column per monitored value: the features the model saw, then its outputs.
    const outputs = modelTask(card).monitoredOutputs;
    const monitored = [
      ...spec.features.columns.map((f, i) => ({ name: f.name, kind: f.kind, expression: `${FEATURES_COLUMN}.${quoteIdent(f.name)}`, column: `v${i}` })),
      ...outputs.map((o, i) => ({ ...o, column: `o${i}` })),
    ];
    const select = monitored.map((m) => `${m.expression} AS ${quoteIdent(m.column)}`).join(', ');
    const read = (list: string[]) => `SELECT ${select} FROM read_parquet([${list.map(quoteLiteral).join(', ')}], hive_partitioning = false)`;
    progress({ stage: 'reading predictions', reference: plan.reference.length, window: plan.window.length });
    await c.run(`CREATE TABLE reference AS ${read(await files(plan.reference))}`);
    await c.run(`CREATE TABLE current AS ${read(await files(plan.window))}`);
    const results: FeatureDrift[] = [];
    for (const m of monitored) {
      progress({ stage: 'drift', column: m.name });
      results.push(await columnDrift(c, paths.sqlDir, m.name, quoteIdent(m.column), m.kind, policy));
    }
    const driftSeconds = (performance.now() - started) / 1000;

    progress({ stage: 'performance' });
    const perfStarted = performance.now();
    const { performance: perf, labels } = await namingSqlFile(spec.features.sql, () => performanceAndLabels(paths, c, loaded, card, plan, policy));
    const performanceSeconds = (performance.now() - perfStarted) / 1000;

    const features = results.slice(0, spec.features.columns.length);
    const [prediction, ...predictionDetails] = results.slice(spec.features.columns.length) as [FeatureDrift, ...FeatureDrift[]];
    const referenceRows = Number((await queryRows(c, 'SELECT count(*)::BIGINT AS n FROM reference'))[0]!.n);
    const windowRows = Number((await queryRows(c, 'SELECT count(*)::BIGINT AS n FROM current'))[0]!.n);
    return {
      model: plan.model,
      version: plan.version,
      reportId: input.reportId,
      createdAt: new Date().toISOString(),
      workflowId: input.workflowId,
      runId: input.runId,
      reference: { partitions: plan.reference, rows: referenceRows },
      window: { partitions: plan.window, rows: windowRows },
      features,
      prediction,
      ...(predictionDetails.length ? { predictionDetails } : {}),
      labels,
      performance: perf,
      ...summarize(features, [prediction, ...predictionDetails], perf, policy.retrain),
      timings: { driftSeconds, performanceSeconds },
    };
  } finally {
    db.close();
  }
}

/**
 * The metric per labelled partition (from the first reference partition to the window's
 * last), the window's pooled metric against its value at promotion, and the label's drift.
 */
async function performanceAndLabels(
  paths: Paths,
  c: DuckDBConnection,
  loaded: LoadedSpec,
  card: ModelCard,
  plan: MonitorPlan,
  policy: MonitoringPolicy,
): Promise<{ performance: PerformanceCheck; labels: FeatureDrift | null }> {
  const { spec } = loaded;
  const lakeStore = openLake(paths);
  const lake = await lakeStore.partitions(spec.dataset.name, plan.partitionKey);
  const scored = await scoredPartitions(paths, plan.model, plan.partitionKey, plan.version);
  const first = [...plan.reference, ...plan.window].sort(comparePartitionValues)[0]!;
  const last = [...plan.window].sort(comparePartitionValues).at(-1)!;
  const span = lake.filter((p) => p.value >= first && p.value <= last && scored.has(p.value));
  const task = modelTask(card);
  const locals = await Promise.all(span.map((p) => lakeStore.localFiles(p.files)));
  const outputs = await Promise.all(span.map((p) => openPredictions(paths).localFile(plan.model, plan.partitionKey, p.value, plan.version)));
  // One SELECT per partition: its predictions joined to its labels by row key.
  const parts = span.map((p, i) => {
    const keyed = keyedFeatures(loaded, p.files.map((f, j) => ({ local: locals[i]![j]!, name: nameInDataset(f) })), 'only');
    return (
      `SELECT ${quoteLiteral(p.value)} AS grp, l.y, ${task.labelledOutputs('p').join(', ')}\n` +
      `FROM read_parquet(${quoteLiteral(outputs[i]!)}, hive_partitioning = false) AS p\n` +
      `JOIN (SELECT ${keyed.sourceFile} AS ${SOURCE_FILE}, ${keyed.sourceRow} AS ${SOURCE_ROW}, f.${LABEL_COLUMN} AS y FROM ${keyed.from}) AS l\n` +
      `USING (${SOURCE_FILE}, ${SOURCE_ROW}) WHERE l.y IS NOT NULL`
    );
  });
  await c.run(
    parts.length
      ? `CREATE TABLE labelled AS ${parts.join('\nUNION ALL\n')}`
      : `CREATE TABLE labelled AS SELECT * FROM (SELECT NULL::VARCHAR AS grp, NULL::DOUBLE AS y) WHERE false`,
  );

  const rowsOf = async (relation: string) =>
    parts.length
      ? groupMetrics(c, paths.sqlDir, task.performanceQuery(spec.gate.calibration?.bins ?? 10), relation)
      : [];
  const reference = new Set(plan.reference);
  const windowSet = new Set(plan.window);
  const overTime: PerformancePoint[] = (await rowsOf('SELECT * FROM labelled')).map((r) => ({
    partition: r.grp,
    rows: r.rows,
    metrics: r.metrics,
    role: windowSet.has(r.grp) ? 'window' : reference.has(r.grp) ? 'reference' : 'other',
  }));
  const windowList = [...windowSet].map(quoteLiteral).join(', ');
  const [pooled] = await rowsOf(`SELECT '(window)' AS grp, * EXCLUDE (grp) FROM labelled WHERE grp IN (${windowList})`);
  const current = pooled?.metrics ?? {};
  const promotion = valueAtPromotion(card, policy.performance.metric);
  const perf = judgePerformance(
    {
      metric: policy.performance.metric,
      higherIsBetter: metricHigherIsBetter(card.metrics.holdout, policy.performance.metric),
      atPromotion: promotion,
      current: current[policy.performance.metric] ?? null,
      maxDegradation: policy.performance.maxDegradation,
      calibrationError: current.calibrationError ?? null,
      maxCalibrationError: policy.performance.maxCalibrationError ?? null,
      labelledRows: pooled?.rows ?? 0,
      overTime,
    },
    policy.performance.minLabelledRows,
  );

  // The label's own drift, reference partitions against the window's, where both have labels.
  const referenceList = [...reference].map(quoteLiteral).join(', ');
  const label = task.labelForDrift;
  await c.run(`CREATE OR REPLACE TABLE reference AS SELECT ${label.expression} AS label FROM labelled WHERE grp IN (${referenceList || "''"})`);
  await c.run(`CREATE OR REPLACE TABLE current AS SELECT ${label.expression} AS label FROM labelled WHERE grp IN (${windowList || "''"})`);
  const labels = await columnDrift(c, paths.sqlDir, spec.label.column, 'label', label.kind, policy);
  return { performance: perf, labels: labels.referenceRows > 0 || labels.currentRows > 0 ? labels : null };
}
