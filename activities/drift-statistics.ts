// Drift statistics of one column, computed in DuckDB by the SQL in sql/monitoring/ over two
// tables of the same connection, `reference` and `current`, then judged against the spec's
// thresholds (core/drift.ts). Used by the monitoring activity, and by tests on known data.
import { BIGINT, DOUBLE, LIST, listValue, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { judgeCategorical, judgeNumeric } from '../core/drift.js';
import { queryRows } from '../core/duckdb.js';
import type { CategoricalDrift, CategoryShare, FeatureDrift, NumericDrift } from '../core/monitoring.js';
import type { MonitoringPolicy } from '../core/spec-operations.js';
import { readSql } from '../core/sql.js';

type SqlFile = (name: string) => Promise<string>;

const DOUBLES = LIST(DOUBLE);
/** PSI bins are the reference's deciles (for `bins` = 10); the chart spans its 0.5% to 99.5% quantiles. */
const CHART_QUANTILES = [0.005, 0.995];
const CHART_BINS = 20;
/** Categorical PSI and Jensen-Shannon are computed over this many of the reference's top categories, the rest pooled. */
const TOP_CATEGORIES = 50;
/** Share given to an empty bin in the PSI, whose logarithm needs one. */
const PSI_FLOOR = 1e-4;
/** Categories drawn, and new categories listed, per feature. */
const LISTED_CATEGORIES = 20;

/**
 * Drift of one column between the tables `reference` and `current` of connection `c`, judged
 * against the spec's thresholds. `column` is a quoted column name; `name` is what reports call it.
 */
export async function columnDrift(
  c: DuckDBConnection,
  sqlDir: string,
  name: string,
  column: string,
  kind: 'numeric' | 'categorical',
  policy: MonitoringPolicy,
): Promise<FeatureDrift> {
  const sql = (file: string) => readSql(sqlDir, `monitoring/${file}.sql`);
  return kind === 'numeric' ? numericDrift(c, sql, name, column, policy) : categoricalDrift(c, sql, name, column, policy);
}

async function numericDrift(c: DuckDBConnection, sql: SqlFile, name: string, column: string, policy: MonitoringPolicy): Promise<NumericDrift> {
  await c.run((await sql('numeric_counts')).replaceAll('{{column}}', column));
  const psiQuantiles = Array.from({ length: policy.bins - 1 }, (_, i) => (i + 1) / policy.bins);
  const [s] = await queryRows(c, (await sql('numeric_summary')).replaceAll('{{column}}', column), [listValue(psiQuantiles), listValue(CHART_QUANTILES)], [DOUBLES, DOUBLES]);
  const num = (v: unknown) => (v === null || v === undefined || Number.isNaN(Number(v)) ? null : Number(v));
  const referenceRows = Number(s!.reference_rows);
  const currentRows = Number(s!.current_rows);
  const std = num(s!.reference_std);
  const wasserstein = num(s!.wasserstein);
  const referenceMean = num(s!.reference_mean);
  const currentMean = num(s!.current_mean);
  const bins = async (edges: number[]) => {
    const rows = await queryRows(c, await sql('numeric_bins'), [listValue(edges), PSI_FLOOR], [DOUBLES, DOUBLE]);
    const reference = new Array<number>(edges.length - 1).fill(0);
    const current = new Array<number>(edges.length - 1).fill(0);
    for (const r of rows) {
      reference[Number(r.bin)] = Number(r.reference);
      current[Number(r.bin)] = Number(r.current);
    }
    return { reference, current, psi: rows.length ? Number(rows[0]!.psi) : null };
  };
  let psi: number | null = null;
  let histogram = { edges: [] as number[], reference: [] as number[], current: [] as number[] };
  if (referenceRows > 0 && currentRows > 0) {
    ({ psi } = await bins([Number.NEGATIVE_INFINITY, ...(s!.psi_edges as number[]), Number.POSITIVE_INFINITY]));
    const [lo, hi] = (s!.chart_range as number[]).map(Number) as [number, number];
    const width = hi > lo ? (hi - lo) / CHART_BINS : 1;
    const edges = Array.from({ length: CHART_BINS + 1 }, (_, i) => lo + i * width);
    const counts = await bins(edges);
    histogram = { edges, reference: counts.reference, current: counts.current };
  }
  return judgeNumeric(
    {
      kind: 'numeric',
      name,
      referenceRows,
      currentRows,
      referenceNulls: Number(s!.reference_nulls),
      currentNulls: Number(s!.current_nulls),
      referenceMean,
      currentMean,
      referenceStd: std,
      currentStd: num(s!.current_std),
      psi,
      wasserstein,
      wassersteinNormalized: wasserstein !== null && std ? wasserstein / std : null,
      standardizedMeanDifference: referenceMean !== null && currentMean !== null && std ? (currentMean - referenceMean) / std : null,
      histogram,
    },
    policy.numeric,
    policy.minRows,
  );
}

async function categoricalDrift(c: DuckDBConnection, sql: SqlFile, name: string, column: string, policy: MonitoringPolicy): Promise<CategoricalDrift> {
  await c.run((await sql('categorical_counts')).replaceAll('{{column}}', column));
  const [s] = await queryRows(c, await sql('categorical_summary'), [TOP_CATEGORIES, PSI_FLOOR, LISTED_CATEGORIES], [BIGINT, DOUBLE, BIGINT]);
  const share = (x: Record<string, unknown>): CategoryShare => ({
    value: String(x.value),
    referenceCount: Number(x.referenceCount),
    currentCount: Number(x.currentCount),
    referenceShare: Number(x.referenceShare),
    currentShare: Number(x.currentShare),
  });
  const referenceRows = Number(s!.reference_rows);
  const currentRows = Number(s!.current_rows);
  const both = referenceRows > 0 && currentRows > 0;
  const top = ((s!.top as Record<string, unknown>[] | null) ?? []).map(share);
  // The chart's bars: the most frequent categories of either side, then the rest pooled.
  const rest = top.length
    ? {
        value: '(other)',
        referenceCount: referenceRows - top.reduce((t, b) => t + b.referenceCount, 0),
        currentCount: currentRows - top.reduce((t, b) => t + b.currentCount, 0),
        referenceShare: 1 - top.reduce((t, b) => t + b.referenceShare, 0),
        currentShare: 1 - top.reduce((t, b) => t + b.currentShare, 0),
      }
    : null;
  return judgeCategorical(
    {
      kind: 'categorical',
      name,
      referenceRows,
      currentRows,
      referenceCategories: Number(s!.reference_categories),
      currentCategories: Number(s!.current_categories),
      psi: both ? Number(s!.psi) : null,
      jensenShannon: both ? Number(s!.jensen_shannon) : null,
      newCategories: ((s!.new_categories as Record<string, unknown>[] | null) ?? []).map((n) => ({
        value: String(n.value),
        count: Number(n.count),
        share: Number(n.share),
      })),
      newCategoryCount: Number(s!.new_category_count),
      largestShift: s!.largest_shift ? share(s!.largest_shift as Record<string, unknown>) : null,
      bars: rest && (rest.referenceCount > 0 || rest.currentCount > 0) ? [...top, rest] : top,
    },
    policy.categorical,
    policy.minRows,
  );
}

/**
 * The task's metrics per group over labelled rows `relation` (grp, y, and p or probs), by the
 * task's performance SQL (ModelTask.performanceQuery); metric names as in ml/metrics.ts (camelCase).
 */
export async function groupMetrics(
  c: DuckDBConnection,
  sqlDir: string,
  query: { readonly file: string; readonly params: DuckDBValue[]; readonly types: DuckDBType[] },
  relation: string,
): Promise<{ grp: string; rows: number; metrics: Record<string, number | null> }[]> {
  const rows = await queryRows(c, (await readSql(sqlDir, query.file)).replaceAll('{{rows}}', `(${relation})`), query.params, query.types);
  return rows.map((r) => {
    const metrics: Record<string, number | null> = {};
    for (const [k, v] of Object.entries(r)) {
      if (k === 'grp' || k === 'rows') continue;
      metrics[k.replace(/_([a-z])/g, (_, x: string) => x.toUpperCase())] = v === null || v === undefined || Number.isNaN(Number(v)) ? null : Number(v);
    }
    return { grp: String(r.grp), rows: Number(r.rows), metrics };
  });
}
