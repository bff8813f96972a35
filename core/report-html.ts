// A DriftReport as one self-contained HTML page: inline CSS and SVG charts drawn here from the
// report's aggregates (histograms, bars, metrics per partition), no script, no URL. It opens
// offline, can be mailed or archived as is, and stays small because the report never holds rows.
// Every string from the report is escaped: category values and partition names are users' data.
import { axisNum, escapeHtml as esc, isNum, niceScale } from './html.js';
import type { CategoricalDrift, DriftReport, FeatureDrift, NumericDrift, PerformanceCheck } from './monitoring.js';

// Colour-blind safe pair (seaborn "deep" blue and orange), plus a neutral for anything else.
const REFERENCE = '#4C72B0';
const CURRENT = '#DD8452';
const OTHER = '#8C8C8C';
const LIMIT = '#C44E52';
const GRID = '#E6E6E6';
const INK = '#444';
const WIDTH = 600;
const WIDE = 900;
// Rough width of one character of 10-11px system font: enough to thin and truncate labels.
const CHAR = 6.2;

/** Four significant digits; a statistic that could not be computed (null, NaN) as a dash. */
function fmt(x: number | null | undefined): string {
  return isNum(x) ? String(Number(x.toPrecision(4))) : '—';
}

function count(x: number): string {
  return isNum(x) ? String(Math.round(x)).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : '—';
}

function pct(share: number | null | undefined): string {
  return isNum(share) ? `${(share * 100).toFixed(1)}%` : '—';
}

function axisPct(share: number): string {
  return `${Number((share * 100).toPrecision(3)) || 0}%`;
}

/** Truncates before escaping, so an entity is never cut in half; by code point, so no emoji is either. */
function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** One decimal is plenty for SVG coordinates and keeps the page small. */
function r(x: number): string {
  return String(Math.round(x * 10) / 10);
}

function plural(n: number, word: string): string {
  return `${count(n)} ${word}${n === 1 ? '' : 's'}`;
}

function range(partitions: readonly string[]): string {
  const first = partitions[0];
  const last = partitions.at(-1);
  if (first === undefined || last === undefined) return 'none';
  return first === last ? first : `${first} … ${last}`;
}

/** Every how many slots a label fits, so horizontal tick labels never overlap. */
function labelEvery(slot: number, longest: number): number {
  return Math.max(1, Math.ceil((longest * CHAR + 10) / Math.max(slot, 1)));
}

function svgOpen(width: number, height: number, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${r(height)}" viewBox="0 0 ${width} ${r(height)}" role="img" aria-label="${esc(label)}">`;
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${r(x)}" y="${r(y)}"${attrs ? ` ${attrs}` : ''}>${esc(content)}</text>`;
}

interface LegendItem {
  readonly color: string;
  readonly label: string;
  readonly mark?: 'box' | 'dot' | 'dash' | 'band';
}

/** A legend laid out left to right from estimated text widths. */
function legend(items: readonly LegendItem[], x: number, y: number): string {
  let at = x;
  return items
    .map((item) => {
      const mark =
        item.mark === 'dot' ? `<circle cx="${r(at + 5)}" cy="${r(y - 4)}" r="4" fill="${item.color}"/>`
        : item.mark === 'dash' ? `<line x1="${r(at)}" x2="${r(at + 12)}" y1="${r(y - 4)}" y2="${r(y - 4)}" stroke="${item.color}" stroke-width="1.5" stroke-dasharray="4 3"/>`
        : item.mark === 'band' ? `<rect x="${r(at)}" y="${r(y - 9)}" width="12" height="10" fill="${item.color}" fill-opacity="0.25"/>`
        : `<rect x="${r(at)}" y="${r(y - 9)}" width="12" height="10" fill="${item.color}" fill-opacity="0.85"/>`;
      // Long partition names must not push the legend off the chart.
      const label = clip(item.label, 90);
      const out = `${mark}${text(at + 17, y, label)}`;
      at += 17 + label.length * CHAR + 16;
      return out;
    })
    .join('');
}

function emptyChart(width: number, label: string, message: string): string {
  return `${svgOpen(width, 60, label)}${text(width / 2, 34, message, 'text-anchor="middle" class="muted"')}</svg>`;
}

/** The two legend lines every distribution chart shares. */
interface Sides {
  readonly reference: string;
  readonly current: string;
}

function sides(report: DriftReport, f: FeatureDrift): Sides {
  const ref = report.reference.partitions;
  const win = report.window.partitions;
  return {
    reference: `reference (${range(ref)}, ${plural(ref.length, 'partition')}, ${count(f.referenceRows)} rows)`,
    current: `current (window ${range(win)}, ${plural(win.length, 'partition')}, ${count(f.currentRows)} rows)`,
  };
}

/** Counts as shares of their side's total, so a small window compares with a large reference. */
function shares(counts: readonly number[]): number[] {
  const total = counts.reduce((s, c) => s + (isNum(c) ? c : 0), 0);
  return counts.map((c) => (total > 0 && isNum(c) ? c / total : 0));
}

/** Bins are equally wide (the activity's edges are), but the first and last also hold the tails. */
function binRange(edges: readonly number[], i: number, bins: number): string {
  const [a, b] = [axisNum(edges[i] ?? Number.NaN), axisNum(edges[i + 1] ?? Number.NaN)];
  if (bins > 1 && i === 0) return `≤ ${b}`;
  if (bins > 1 && i === bins - 1) return `> ${a}`;
  return `${a} – ${b}`;
}

/**
 * Round ticks on a linear axis when the edges are evenly spaced, as the activity makes them;
 * otherwise (quantile edges, say) the bins are still drawn equally wide and every few edges labelled.
 */
function histogramAxis(edges: readonly number[], left: number, plotW: number, y: number): string {
  const first = edges[0] ?? 0;
  const last = edges.at(-1) ?? 0;
  const step = (last - first) / (edges.length - 1);
  const even = isNum(step) && step > 0 && edges.every((e, i) => Math.abs(e - (first + i * step)) <= step * 1e-6);
  if (even) {
    const xOf = (v: number): number => left + (plotW * (v - first)) / (last - first);
    return niceScale(first, last, 6).ticks
      .filter((t) => t >= first - step * 1e-6 && t <= last + step * 1e-6)
      .map((t) => `<line x1="${r(xOf(t))}" x2="${r(xOf(t))}" y1="${r(y - 14)}" y2="${r(y - 10)}" stroke="${INK}"/>${text(xOf(t), y, axisNum(t), 'text-anchor="middle"')}`)
      .join('');
  }
  const slot = plotW / (edges.length - 1);
  const labels = edges.map(axisNum);
  const every = labelEvery(slot, Math.max(...labels.map((l) => l.length)));
  return labels.map((label, i) => (i % every === 0 ? text(left + i * slot, y, label, 'text-anchor="middle"') : '')).join('');
}

function histogramChart(f: NumericDrift, legendText: Sides): string {
  const { edges, reference, current } = f.histogram;
  const bins = Math.max(0, Math.min(edges.length - 1, reference.length, current.length));
  if (bins === 0) return emptyChart(WIDTH, `${f.name}: no histogram`, 'no values to draw');
  const [top, bottom, left, right, height] = [46, 36, 48, 12, 236];
  const plotW = WIDTH - left - right;
  const plotH = height - top - bottom;
  const refShares = shares(reference.slice(0, bins));
  const curShares = shares(current.slice(0, bins));
  const scale = niceScale(0, Math.max(...refShares, ...curShares), 4);
  const y = (v: number): number => top + plotH * (1 - v / scale.hi);
  const slot = plotW / bins;
  const barW = slot * 0.4;
  const parts: string[] = [svgOpen(WIDTH, height, `${f.name}: reference vs current histogram`)];
  parts.push(legend([{ color: REFERENCE, label: legendText.reference }], left, 14));
  parts.push(legend([{ color: CURRENT, label: legendText.current }], left, 30));
  for (const t of scale.ticks) {
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${r(y(t))}" y2="${r(y(t))}" stroke="${GRID}"/>`);
    parts.push(text(left - 5, y(t) + 3.5, axisPct(t), 'text-anchor="end"'));
  }
  for (let i = 0; i < bins; i += 1) {
    const x0 = left + i * slot + slot * 0.1;
    const [rs, cs] = [refShares[i] ?? 0, curShares[i] ?? 0];
    const tip = `${binRange(edges, i, bins)}: reference ${pct(rs)} (${count(reference[i] ?? 0)}), current ${pct(cs)} (${count(current[i] ?? 0)})`;
    parts.push(
      `<g><title>${esc(tip)}</title>`
        + `<rect x="${r(x0)}" y="${r(y(rs))}" width="${r(barW)}" height="${r(top + plotH - y(rs))}" fill="${REFERENCE}" fill-opacity="0.85"/>`
        + `<rect x="${r(x0 + barW)}" y="${r(y(cs))}" width="${r(barW)}" height="${r(top + plotH - y(cs))}" fill="${CURRENT}" fill-opacity="0.85"/></g>`,
    );
  }
  parts.push(histogramAxis(edges.slice(0, bins + 1), left, plotW, top + plotH + 14));
  parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="${INK}"/>`);
  parts.push(text(left + plotW / 2, height - 4, f.name, 'text-anchor="middle" class="axis-title"'));
  parts.push(text(12, top + plotH / 2, 'share of rows', `text-anchor="middle" class="axis-title" transform="rotate(-90 12 ${r(top + plotH / 2)})"`));
  return `${parts.join('')}</svg>`;
}

function barsChart(f: CategoricalDrift, legendText: Sides): string {
  const bars = f.bars;
  if (bars.length === 0) return emptyChart(WIDTH, `${f.name}: no categories`, 'no values to draw');
  const [top, rowH, bottom, left, right] = [46, 22, 24, 150, 100];
  const height = top + bars.length * rowH + bottom;
  const plotW = WIDTH - left - right;
  const scale = niceScale(0, Math.max(...bars.flatMap((b) => [b.referenceShare, b.currentShare]).filter(isNum)), 4);
  // Clamped: "(other)" is 1 minus the listed shares, which rounding can leave a hair below 0.
  const x = (v: number): number => left + plotW * Math.max(0, isNum(v) ? v / scale.hi : 0);
  const plotBottom = top + bars.length * rowH;
  const parts: string[] = [svgOpen(WIDTH, height, `${f.name}: reference vs current share per category`)];
  parts.push(legend([{ color: REFERENCE, label: legendText.reference }], 10, 14));
  parts.push(legend([{ color: CURRENT, label: legendText.current }], 10, 30));
  for (const t of scale.ticks) {
    parts.push(`<line x1="${r(x(t))}" x2="${r(x(t))}" y1="${top}" y2="${plotBottom}" stroke="${GRID}"/>`);
    parts.push(text(x(t), plotBottom + 14, axisPct(t), 'text-anchor="middle"'));
  }
  bars.forEach((b, i) => {
    const y0 = top + i * rowH;
    const tip = `${b.value}: reference ${pct(b.referenceShare)} (${count(b.referenceCount)}), current ${pct(b.currentShare)} (${count(b.currentCount)})`;
    parts.push(
      `<g><title>${esc(tip)}</title>`
        + text(left - 6, y0 + rowH / 2 + 4, clip(b.value, 22), 'text-anchor="end"')
        + `<rect x="${left}" y="${r(y0 + 3)}" width="${r(x(b.referenceShare) - left)}" height="8" fill="${REFERENCE}" fill-opacity="0.85"/>`
        + `<rect x="${left}" y="${r(y0 + 11)}" width="${r(x(b.currentShare) - left)}" height="8" fill="${CURRENT}" fill-opacity="0.85"/>`
        + text(WIDTH - right + 8, y0 + rowH / 2 + 4, `${pct(b.referenceShare)} → ${pct(b.currentShare)}`, 'class="muted"')
        + '</g>',
    );
  });
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${plotBottom}" stroke="${INK}"/>`);
  return `${parts.join('')}</svg>`;
}

function distributionChart(report: DriftReport, f: FeatureDrift): string {
  return f.kind === 'numeric' ? histogramChart(f, sides(report, f)) : barsChart(f, sides(report, f));
}

const ROLE_COLOURS: Readonly<Record<string, string>> = { reference: REFERENCE, window: CURRENT, other: OTHER };

/** The threshold line: the metric at promotion, made worse by the allowed degradation. */
function degradationLimit(p: PerformanceCheck): number | null {
  if (!isNum(p.atPromotion) || !isNum(p.maxDegradation)) return null;
  return p.higherIsBetter ? p.atPromotion - p.maxDegradation : p.atPromotion + p.maxDegradation;
}

function metricAt(metrics: Readonly<Record<string, number | null>>, name: string): number | null {
  const v = metrics[name];
  return isNum(v) ? v : null;
}

function performanceChart(p: PerformanceCheck): string {
  const points = p.overTime;
  if (points.length === 0) return '<p class="empty">no labelled partitions yet</p>';
  const [top, bottom, left, right, height] = [30, 34, 56, 16, 260];
  const plotW = WIDE - left - right;
  const plotH = height - top - bottom;
  const values = points.map((pt) => metricAt(pt.metrics, p.metric));
  const limit = degradationLimit(p);
  const known = [...values, p.atPromotion, limit].filter(isNum);
  const [lo, hi] = known.length > 0 ? [Math.min(...known), Math.max(...known)] : [0, 1];
  const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.05 || 0.05;
  const scale = niceScale(lo - pad, hi + pad, 5);
  const y = (v: number): number => top + plotH * (1 - (v - scale.lo) / (scale.hi - scale.lo));
  const slot = plotW / points.length;
  const x = (i: number): number => left + (i + 0.5) * slot;
  const parts: string[] = [svgOpen(WIDE, height, `${p.metric} over time`)];
  const roles = [...new Set(points.map((pt) => pt.role))];
  const items: LegendItem[] = roles.map((role) => ({ color: ROLE_COLOURS[role] ?? OTHER, label: role, mark: 'dot' }));
  if (isNum(p.atPromotion)) items.push({ color: INK, label: `at promotion ${fmt(p.atPromotion)}`, mark: 'dash' });
  if (limit !== null) items.push({ color: LIMIT, label: `allowed degradation (limit ${fmt(limit)})`, mark: 'band' });
  parts.push(legend(items, left, 16));
  for (const t of scale.ticks) {
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${r(y(t))}" y2="${r(y(t))}" stroke="${GRID}"/>`);
    parts.push(text(left - 5, y(t) + 3.5, axisNum(t), 'text-anchor="end"'));
  }
  if (isNum(p.atPromotion) && limit !== null) {
    const [a, b] = [y(p.atPromotion), y(limit)];
    parts.push(`<rect x="${left}" y="${r(Math.min(a, b))}" width="${plotW}" height="${r(Math.abs(a - b))}" fill="${LIMIT}" fill-opacity="0.1"/>`);
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${r(b)}" y2="${r(b)}" stroke="${LIMIT}" stroke-width="1"/>`);
  }
  if (isNum(p.atPromotion)) {
    const a = y(p.atPromotion);
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${r(a)}" y2="${r(a)}" stroke="${INK}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  }
  // A partition without the metric breaks the line rather than bridging it: a gap is a fact.
  let path = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) pen = false;
    else {
      path += `${pen ? 'L' : 'M'}${r(x(i))} ${r(y(v))}`;
      pen = true;
    }
  });
  if (path) parts.push(`<path d="${path}" fill="none" stroke="${OTHER}" stroke-width="1.5"/>`);
  values.forEach((v, i) => {
    const pt = points[i];
    if (v === null || pt === undefined) return;
    const tip = `${pt.partition} (${pt.role}): ${p.metric} ${fmt(v)}, ${count(pt.rows)} labelled rows`;
    parts.push(`<circle cx="${r(x(i))}" cy="${r(y(v))}" r="4" fill="${ROLE_COLOURS[pt.role] ?? OTHER}" stroke="#fff"><title>${esc(tip)}</title></circle>`);
  });
  const labels = points.map((pt) => clip(pt.partition, 24));
  const every = labelEvery(slot, Math.max(...labels.map((l) => l.length)));
  labels.forEach((label, i) => {
    if (i % every === 0) parts.push(text(x(i), top + plotH + 14, label, 'text-anchor="middle"'));
  });
  parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="${INK}"/>`);
  parts.push(text(left + plotW / 2, height - 4, 'partition', 'text-anchor="middle" class="axis-title"'));
  parts.push(text(14, top + plotH / 2, p.metric, `text-anchor="middle" class="axis-title" transform="rotate(-90 14 ${r(top + plotH / 2)})"`));
  return `${parts.join('')}</svg>`;
}

const BADGE_CLASSES = new Set(['ok', 'drift', 'decay', 'drift-and-decay', 'insufficient-data']);

/** The class comes from a fixed set: a verdict read from disk can't inject markup or styles. */
function badge(verdict: string, big = false): string {
  const cls = BADGE_CLASSES.has(verdict) ? verdict : 'unknown';
  return `<span class="badge v-${cls}${big ? ' big' : ''}">${esc(verdict)}</span>`;
}

function reasons(list: readonly string[]): string {
  return list.length === 0 ? '<span class="muted">—</span>' : list.map(esc).join('<br>');
}

/** A statistic with its name beside it, since the column mixes statistics by kind. */
function labelled(value: number | null, name: string): string {
  return isNum(value) ? `${fmt(value)} <span class="muted">${name}</span>` : '—';
}

function verdictRow(f: FeatureDrift, role: string): string {
  const tag = role === 'feature' ? '' : ` <span class="tag">${esc(role)}</span>`;
  const distance = f.kind === 'numeric' ? labelled(f.wassersteinNormalized, 'W₁/σ') : labelled(f.jensenShannon, 'JS');
  const shift = f.kind === 'numeric'
    ? labelled(f.standardizedMeanDifference, 'SMD')
    : f.largestShift === null ? '—'
    : `${esc(f.largestShift.value)}: ${pct(f.largestShift.referenceShare)} → ${pct(f.largestShift.currentShare)}`;
  return `<tr><td>${esc(f.name)}${tag}</td><td>${esc(f.kind)}</td><td>${badge(f.verdict)}</td><td class="num">${fmt(f.psi)}</td>`
    + `<td class="num">${distance}</td><td>${shift}</td><td class="num">${count(f.referenceRows)} / ${count(f.currentRows)}</td><td class="reasons">${reasons(f.reasons)}</td></tr>`;
}

/** The model's outputs a report judged: the headline one, then the others (a class's probability). */
function outputsOf(report: DriftReport): readonly FeatureDrift[] {
  return [report.prediction, ...(report.predictionDetails ?? [])];
}

function verdictTable(report: DriftReport): string {
  const rows = [
    ...report.features.map((f) => verdictRow(f, 'feature')),
    ...outputsOf(report).map((o) => verdictRow(o, 'prediction')),
    ...(report.labels ? [verdictRow(report.labels, 'labels')] : []),
  ];
  return `<table><thead><tr><th>name</th><th>kind</th><th>verdict</th><th class="num">PSI</th><th class="num">distance</th><th>mean shift / largest shift</th><th class="num">rows (ref / cur)</th><th>reasons</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function newCategories(f: FeatureDrift): string {
  if (f.kind !== 'categorical' || f.newCategoryCount === 0) return '';
  const listed = f.newCategories.length < f.newCategoryCount ? ` (the ${f.newCategories.length} most frequent listed)` : '';
  const rows = f.newCategories.map((c) => `<tr><td>${esc(c.value)}</td><td class="num">${count(c.count)}</td><td class="num">${pct(c.share)}</td></tr>`);
  return `<div class="newcats"><p>${count(f.newCategoryCount)} new ${f.newCategoryCount === 1 ? 'category' : 'categories'} in the window, never seen in the reference${listed}:</p>`
    + `<table><thead><tr><th>value</th><th class="num">count</th><th class="num">share</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function distributionCard(report: DriftReport, f: FeatureDrift, role: string): string {
  const tag = role === 'feature' ? '' : ` <span class="tag">${esc(role)}</span>`;
  return `<section class="card"><h3>${esc(f.name)}${tag} <span class="muted">${esc(f.kind)}</span> ${badge(f.verdict)}</h3>`
    + `${distributionChart(report, f)}${newCategories(f)}</section>`;
}

function keyValues(pairs: readonly (readonly [string, string])[]): string {
  return `<dl>${pairs.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

/** A metric's name for people: logLoss -> log loss, calibrationError -> calibration error. */
function metricLabel(name: string): string {
  return name.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
}

function performanceSection(p: PerformanceCheck): string {
  const summary = keyValues([
    ['metric', `${esc(p.metric)} <span class="muted">(${p.higherIsBetter ? 'higher' : 'lower'} is better)</span>`],
    ['at promotion', fmt(p.atPromotion)],
    ['current', fmt(p.current)],
    ['degradation', `${fmt(p.degradation)} <span class="muted">(max ${fmt(p.maxDegradation)})</span>`],
    ['calibration error', `${fmt(p.calibrationError)} <span class="muted">(max ${fmt(p.maxCalibrationError)})</span>`],
    ['labelled rows', count(p.labelledRows)],
    ['verdict', badge(p.verdict)],
    ['reasons', reasons(p.reasons)],
  ]);
  // Every metric the task's performance SQL gave, the monitored one first: for a classifier
  // that includes its accuracy and calibration error per partition, whatever the gate watches.
  const names = [p.metric, ...new Set(p.overTime.flatMap((pt) => Object.keys(pt.metrics)).filter((n) => n !== p.metric))];
  const rows = p.overTime.map((pt) =>
    `<tr><td>${esc(pt.partition)}</td><td><span class="dot" style="background:${ROLE_COLOURS[pt.role] ?? OTHER}"></span>${esc(pt.role)}</td>`
      + `<td class="num">${count(pt.rows)}</td>${names.map((n) => `<td class="num">${fmt(metricAt(pt.metrics, n))}</td>`).join('')}</tr>`);
  const table = rows.length === 0 ? ''
    : `<table class="narrow"><thead><tr><th>partition</th><th>role</th><th class="num">labelled rows</th>${names.map((n) => `<th class="num">${esc(metricLabel(n))}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
  return `<section><h2>Performance</h2>${summary}<div class="card wide">${performanceChart(p)}</div>${table}</section>`;
}

function retrainSection(report: DriftReport): string {
  const { retrain } = report;
  const outcome = retrain.started
    ? `TrainModelWorkflow started: <code>${esc(retrain.started.workflowId)}</code> <span class="muted">run</span> <code>${esc(retrain.started.runId)}</code>`
    : `not started${retrain.skipped ? `: ${esc(retrain.skipped)}` : ''}`;
  return `<section><h2>Retraining</h2>${keyValues([
    ['wanted', retrain.wanted ? '<strong>yes</strong>' : 'no'],
    ['reasons', reasons(retrain.reasons)],
    ['outcome', outcome],
  ])}</section>`;
}

function header(report: DriftReport): string {
  const { summary } = report;
  const drifted = summary.driftedFeatures.length > 0 ? summary.driftedFeatures.map(esc).join(', ') : 'none';
  return `<header><div class="title"><h1>${esc(report.model)} <span class="muted">v${esc(report.version)}</span></h1>${badge(summary.verdict, true)}</div>`
    + keyValues([
      ['report', `<code>${esc(report.reportId)}</code>`],
      ['created', esc(report.createdAt)],
      ['workflow', `<code>${esc(report.workflowId)}</code> <span class="muted">run</span> <code>${esc(report.runId)}</code>`],
      ['reference', `${esc(range(report.reference.partitions))} <span class="muted">(${plural(report.reference.partitions.length, 'partition')}, ${count(report.reference.rows)} rows)</span>`],
      ['window', `${esc(range(report.window.partitions))} <span class="muted">(${plural(report.window.partitions.length, 'partition')}, ${count(report.window.rows)} rows)</span>`],
      ['drifted features', drifted],
      ['prediction drift', summary.predictionDrift ? '<strong>yes</strong>' : 'no'],
      ['decay', summary.decay ? '<strong>yes</strong>' : 'no'],
    ])
    + '</header>';
}

const CSS = `
:root{color-scheme:light}
body{margin:0;padding:20px 24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#222;background:#fafafa}
main{max-width:1240px;margin:0 auto}
h1{margin:0;font-size:26px}h2{margin:28px 0 10px;font-size:19px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{margin:0 0 8px;font-size:15px;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.title{display:flex;gap:16px;align-items:center;margin-bottom:10px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:0}dt{color:#666}dd{margin:0}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eee;padding:1px 4px;border-radius:3px;word-break:break-all}
.muted{color:#777;fill:#777}.tag{font-size:11px;background:#e8e8e8;border-radius:3px;padding:1px 5px;color:#444}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-size:12px;font-weight:600;border:1px solid}
.badge.big{font-size:18px;padding:4px 16px;border-radius:16px}
.v-ok{background:#e6f4ea;color:#1e6b32;border-color:#9fd3ae}.v-drift{background:#fff1e0;color:#8a4b00;border-color:#f3c48c}
.v-decay{background:#f3e8fb;color:#6a2c8f;border-color:#d3b1ea}.v-drift-and-decay{background:#fde7e7;color:#a61b1b;border-color:#f1a5a5}
.v-insufficient-data,.v-unknown{background:#eee;color:#555;border-color:#ccc}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e6e6e6;vertical-align:top}
th{background:#f2f2f2;font-weight:600}th.num{text-align:right}td>.badge{margin:-2px 0}td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}td.reasons{color:#555;font-size:12px}
table.narrow{width:auto;min-width:420px;margin-top:10px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px;align-items:start}
.card{background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:12px;overflow-x:auto}.card.wide{margin-top:12px}
svg{max-width:100%;height:auto;display:block;font:11px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:${INK}}
svg .axis-title{font-size:11px;fill:#666}.empty{color:#777;font-style:italic}
.newcats{margin-top:8px;font-size:13px}.newcats p{margin:4px 0}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px}
footer{margin-top:28px;color:#777;font-size:12px}
`;

/** The whole page; pure, so the API can serve it and tests can read it without a browser. */
export function renderReportHtml(report: DriftReport): string {
  const cards = [
    ...report.features.map((f) => distributionCard(report, f, 'feature')),
    ...outputsOf(report).map((o) => distributionCard(report, o, 'prediction')),
    ...(report.labels ? [distributionCard(report, report.labels, 'labels')] : []),
  ];
  const { timings } = report;
  return '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    + '<meta name="viewport" content="width=device-width, initial-scale=1">'
    // Belt and braces next to escaping: even injected markup could neither run nor fetch anything.
    + `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`
    + `<title>${esc(report.model)} v${esc(report.version)} monitoring report ${esc(report.reportId)}</title><style>${CSS}</style></head>`
    + `<body><main>${header(report)}`
    + `<section><h2>Verdicts</h2>${verdictTable(report)}</section>`
    + `<section><h2>Distributions</h2><div class="grid">${cards.join('')}</div></section>`
    + performanceSection(report.performance)
    + retrainSection(report)
    + `<footer>Statistics computed in ${fmt(timings.driftSeconds)} s (drift) and ${fmt(timings.performanceSeconds)} s (performance). `
    + 'Drawn from the report\'s aggregates only: no rows are included.</footer>'
    + '</main></body></html>\n';
}
