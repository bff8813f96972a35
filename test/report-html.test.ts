// The monitoring report as HTML: a complete, offline page (no script, no URL but the SVG
// namespace), one chart per distribution plus the metric over time, every user string escaped,
// small, and still rendered when statistics are missing or no labels have arrived.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CategoricalDrift, CategoryShare, DriftReport, NumericDrift, PerformancePoint } from '../core/monitoring.js';
import { renderReportHtml } from '../core/report-html.js';

const HOSTILE = '<script>alert(1)</script>';
const QUOTED = `"quoted" & 'single'`;
const WEEKS = Array.from({ length: 26 }, (_, i) => new Date(Date.UTC(2019, 0, 7 + 7 * i)).toISOString().slice(0, 10));

const numeric = (name: string, edges: number[], reference: number[], current: number[], extra: Partial<NumericDrift> = {}): NumericDrift => {
  const referenceRows = reference.reduce((s, c) => s + c, 0);
  const currentRows = current.reduce((s, c) => s + c, 0);
  return {
    kind: 'numeric', name, referenceRows, currentRows, referenceNulls: 0, currentNulls: 3,
    referenceMean: 812.4, currentMean: 861.9, referenceStd: 590.2, currentStd: 610.7,
    psi: 0.0412, wasserstein: 38.21, wassersteinNormalized: 0.06474, standardizedMeanDifference: 0.08387,
    verdict: 'ok', reasons: [], histogram: { edges, reference, current }, ...extra,
  };
};

/** Shares from counts, as the activity computes them. */
const shares = (rows: readonly (readonly [string, number, number])[]): CategoryShare[] => {
  const refTotal = rows.reduce((s, [, r]) => s + r, 0);
  const curTotal = rows.reduce((s, [, , c]) => s + c, 0);
  return rows.map(([value, referenceCount, currentCount]) => ({
    value, referenceCount, currentCount, referenceShare: referenceCount / refTotal, currentShare: currentCount / curTotal,
  }));
};

const categorical = (name: string, rows: readonly (readonly [string, number, number])[], extra: Partial<CategoricalDrift> = {}): CategoricalDrift => {
  const bars = shares(rows);
  const largestShift = bars.reduce<CategoryShare | null>(
    (best, b) => (best === null || Math.abs(b.currentShare - b.referenceShare) > Math.abs(best.currentShare - best.referenceShare) ? b : best), null);
  return {
    kind: 'categorical', name,
    referenceRows: bars.reduce((s, b) => s + b.referenceCount, 0), currentRows: bars.reduce((s, b) => s + b.currentCount, 0),
    referenceCategories: rows.length, currentCategories: rows.length, psi: 0.0213, jensenShannon: 0.0391,
    newCategories: [], newCategoryCount: 0, largestShift, verdict: 'ok', reasons: [], bars, ...extra,
  };
};

function sampleReport(): DriftReport {
  // Busy mornings and evenings, a little busier in the window.
  const hours = Array.from({ length: 19 }, (_, h): [string, number, number] =>
    [String(h + 5), Math.round(9000 + 4000 * Math.sin(h / 3)), Math.round(2300 + 1200 * Math.sin(h / 3 + 0.4))]);
  // As the activity bins it: 20 equal bins between the reference's 0.5% and 99.5% quantiles.
  const distance = numeric('distance',
    Array.from({ length: 21 }, (_, i) => 67 + i * 125.95),
    Array.from({ length: 20 }, (_, i) => Math.round(16000 * Math.exp(-i / 4.5) + 600)),
    Array.from({ length: 20 }, (_, i) => Math.round(3300 * Math.exp(-i / 5.5) + 200)),
    { verdict: 'drift', psi: 0.2817, wassersteinNormalized: 0.1622, reasons: ['psi 0.2817 > 0.2', 'wasserstein/σ 0.1622 > 0.1'] });
  const route = categorical('route', [
    ['ORD-LAX', 1300, 200], ['ATL-LGA', 1200, 330], ['LAX-SFO', 1150, 400], ['SFO-LAX', 1100, 360],
    [HOSTILE, 40, 220], [QUOTED, 30, 90], ['(other)', 90000, 21000],
  ], {
    verdict: 'drift', psi: 0.3104, jensenShannon: 0.1203, reasons: [`share of ${HOSTILE} 0.0% → 0.9%`, 'psi 0.3104 > 0.2'],
    newCategories: [{ value: 'JFK-<b>XYZ</b>', count: 41, share: 0.0017 }, { value: QUOTED, count: 12, share: 0.0005 }],
    newCategoryCount: 3,
  });
  const probability = numeric('probability',
    Array.from({ length: 21 }, (_, i) => i / 20),
    [400, 2100, 6900, 12300, 15100, 14800, 12900, 10700, 8400, 6600, 5100, 3800, 2800, 2000, 1400, 900, 600, 350, 180, 90],
    [80, 420, 1500, 2700, 3300, 3400, 3100, 2700, 2200, 1800, 1400, 1100, 800, 600, 420, 280, 190, 110, 60, 30],
    { name: 'probability', verdict: 'ok', psi: 0.0391 });
  const points: PerformancePoint[] = WEEKS.map((partition, i) => ({
    partition,
    rows: 23000 + ((i * 7919) % 3000),
    metrics: { auc: i === 14 ? null : 0.742 - 0.0009 * i + 0.006 * Math.sin(i), logLoss: 0.44, calibrationError: 0.012 + 0.0008 * i },
    role: i < 10 ? 'reference' : i >= 24 ? 'window' : 'other',
  }));
  return {
    model: 'flight_delay', version: 4, reportId: '2019-07-01T06-00-00Z-a1b2', createdAt: '2019-07-01T06:00:12.345Z',
    workflowId: 'monitor-flight_delay-2019-07-01', runId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
    reference: { partitions: WEEKS.slice(0, 10), rows: 1_183_044 },
    window: { partitions: WEEKS.slice(24), rows: 59_871 },
    features: [
      categorical('hour', hours),
      categorical('day_of_week', [['1', 17000, 4100], ['2', 16500, 4000], ['3', 16800, 4300], ['4', 17100, 4200], ['5', 17300, 4400], ['6', 13000, 3000], ['7', 15800, 3900]]),
      distance,
      categorical('origin', [['ATL', 8000, 2100], ['ORD', 7000, 1500], ['DFW', 6500, 1600], ['(other)', 90000, 22000]]),
      categorical('destination', [['ATL', 8100, 2000], ['ORD', 6900, 1700], ['LAX', 6400, 1500], ['(other)', 90000, 21800]]),
      route,
    ],
    prediction: probability,
    labels: categorical('delayed', [['false', 96000, 22500], ['true', 24000, 7500]], { verdict: 'drift', reasons: ['psi 0.031 ≤ 0.2', 'share of true 20.0% → 25.0%'] }),
    performance: {
      metric: 'auc', higherIsBetter: true, atPromotion: 0.7412, current: 0.7114, degradation: 0.0298, maxDegradation: 0.02,
      calibrationError: 0.031, maxCalibrationError: 0.05, labelledRows: 47_120, verdict: 'drift', reasons: ['auc 0.7114 is 0.0298 below 0.7412 at promotion (max 0.02)'],
      overTime: points,
    },
    summary: { verdict: 'drift-and-decay', driftedFeatures: ['distance', 'route'], predictionDrift: false, decay: true },
    retrain: { wanted: true, reasons: ['decay: auc down 0.0298', 'drift in distance, route'], started: { workflowId: 'train-flight_delay-<v5>', runId: 'f0e1d2c3' } },
    timings: { driftSeconds: 1.8342, performanceSeconds: 0.61 },
  };
}

const svgCount = (html: string): number => html.split('<svg').length - 1;

describe('monitoring report html', () => {
  const report = sampleReport();
  const html = renderReportHtml(report);
  // REPORT_HTML_SAMPLE=/tmp/report-sample.html writes the page, to look at it in a browser.
  if (process.env.REPORT_HTML_SAMPLE) writeFileSync(process.env.REPORT_HTML_SAMPLE, html);

  it('is one complete page that loads nothing and runs nothing', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<html lang="en">');
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html.toLowerCase()).not.toContain('<script');
    expect(html).not.toContain('<link');
    expect(html).not.toContain('src=');
    expect(html).not.toContain('@import');
    expect(html).not.toContain('url(');
    expect([...new Set(html.match(/https?:\/\/[^\s"'<>)]*/g))]).toEqual(['http://www.w3.org/2000/svg']);
    expect(Buffer.byteLength(html)).toBeLessThan(300_000);
  });

  it('escapes every string from the report, chart labels and tooltips included', () => {
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain(QUOTED);
    expect(html).toContain('&quot;quoted&quot; &amp; &#39;single&#39;');
    expect(html).toContain('JFK-&lt;b&gt;XYZ&lt;/b&gt;');
    expect(html).not.toContain('<b>');
    expect(html).toContain('train-flight_delay-&lt;v5&gt;');
    // In SVG <text> too: the chart label is truncated but escaped all the same.
    expect(html).toMatch(/<text[^>]*>&lt;script&gt;alert\(1\)&lt;\//);
  });

  it('draws one chart per feature, the prediction, the labels and the metric over time', () => {
    expect(svgCount(html)).toBe(report.features.length + 2 + 1);
    expect(svgCount(renderReportHtml({ ...report, labels: null }))).toBe(report.features.length + 1 + 1);
    // The null auc of one week is skipped, not drawn at zero: one point per known value.
    expect(html.match(/<circle [^>]*><title>/g)?.length).toBe(25);
    expect(html).toContain('stroke-dasharray="6 4"');
  });

  it('shows the verdicts, the new categories, the performance and the retrain decision', () => {
    expect(html).toContain('badge v-drift-and-decay big');
    for (const f of [...report.features, report.prediction]) {
      expect(html).toMatch(new RegExp(`<tr><td>${f.name}(?: <span class="tag">[a-z]+</span>)?</td><td>${f.kind}</td><td><span class="badge v-${f.verdict}">`));
    }
    expect(html).toContain('<tr><td>delayed <span class="tag">labels</span></td><td>categorical</td><td><span class="badge v-drift">');
    expect(html).toContain('3 new categories in the window');
    expect(html).toContain('0.2817'); // psi, four significant digits
    expect(html).toContain('0.0298 <span class="muted">(max 0.02)</span>');
    expect(html).toContain('<td>(other): 94.9% → 92.9%</td>'); // route's largest shift
    expect(html).toContain('TrainModelWorkflow started');
    expect(html).toContain('1.834 s (drift)');
  });

  it('renders without labels, statistics or labelled partitions', () => {
    const bare: DriftReport = {
      ...report,
      features: [
        numeric('distance', [], [], [], { psi: null, wasserstein: null, wassersteinNormalized: null, standardizedMeanDifference: null, referenceMean: null, currentMean: null, verdict: 'insufficient-data' }),
        categorical('route', [], { psi: null, jensenShannon: null, largestShift: null, verdict: 'insufficient-data' }),
      ],
      labels: null,
      performance: { ...report.performance, atPromotion: null, current: null, degradation: null, calibrationError: null, maxCalibrationError: null, labelledRows: 0, verdict: 'insufficient-data', overTime: [] },
      summary: { ...report.summary, verdict: 'insufficient-data' },
      retrain: { wanted: false, reasons: [], skipped: 'nothing crossed a threshold' },
    };
    const out = renderReportHtml(bare);
    expect(out).toContain('no labelled partitions yet');
    expect(out).toContain('not started: nothing crossed a threshold');
    expect(out).toContain('badge v-insufficient-data big');
    expect(out).not.toContain('NaN');
    expect(svgCount(out)).toBe(3); // two empty features and the prediction; no performance chart

    const oneNullWeek = renderReportHtml({ ...report, performance: { ...report.performance, overTime: [{ partition: WEEKS[0] ?? '', rows: 10, metrics: { auc: null }, role: 'window' }] } });
    expect(oneNullWeek).not.toContain('NaN');
    expect(oneNullWeek).not.toContain('<path d=');
  });
});
