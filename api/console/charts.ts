// Inline SVG charts for the console: lines and dots on numeric axes (curves, training loss,
// residuals), a metric over named steps (weeks) with marked points, horizontal bars, and a
// matrix. Each is an <svg role="img"> with a title and a label, so a screen reader says what it shows.
import { axisNum, escapeHtml, niceScale } from '../../core/html.js';
import { html, raw, type Html } from './html.js';

export const COLOURS = ['#1f5fbf', '#c2571a', '#2b8a3e', '#8e3aa8', '#a3262a', '#5f6b7a', '#0f7c8c', '#9c6b00'];
const GRID = '#e3e7ee';
const AXIS = '#5f6b7a';

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly colour?: string;
  readonly dashed?: boolean;
  /** Dots instead of a line (scatter). */
  readonly dots?: boolean;
}

interface Axes {
  readonly width?: number;
  readonly height?: number;
  readonly x: { readonly label: string; readonly min?: number; readonly max?: number };
  readonly y: { readonly label: string; readonly min?: number; readonly max?: number };
  /** Lines of reference: the diagonal of a ROC or reliability chart, zero of residuals. */
  readonly guides?: readonly (readonly [[number, number], [number, number]])[];
  /** Vertical marks at x, labelled. */
  readonly marks?: readonly { readonly x: number; readonly label: string }[];
  /** A legend even for one series (its name carries a number, like an AUC). */
  readonly legend?: boolean;
  /** Labels of the x ticks when x counts named steps (weeks). */
  readonly xNames?: readonly string[];
}

/** Numeric x and y; series as lines or dots; a legend when there is more than one series. */
export function lineChart(title: string, series: readonly Series[], axes: Axes): Html {
  const W = axes.width ?? 420;
  const H = axes.height ?? 280;
  const L = 56;
  const R = 12;
  const legend = axes.legend ?? series.length > 1;
  const T = 14 + (legend ? 18 * Math.ceil(series.length / 3) : 0);
  const B = 44;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (all.length === 0) return html`<p class="muted">${title}: nothing to draw yet.</p>`;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xFrom = axes.x.min ?? Math.min(...xs);
  const xTo = axes.x.max ?? Math.max(...xs);
  // Both axes widened to round ticks (the x axis of named steps stays one slot per name).
  const yScale = niceScale(axes.y.min ?? Math.min(...ys), axes.y.max ?? Math.max(...ys), 5);
  const [y0, y1] = [yScale.lo, yScale.hi];
  const xScale = axes.xNames ? undefined : niceScale(xFrom, xTo, 5);
  const [x0, x1] = xScale ? [xScale.lo, xScale.hi] : [xFrom, xTo];
  const sx = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const parts: string[] = [];
  for (const t of yScale.ticks) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="${GRID}"/>`);
    parts.push(`<text x="${L - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${axisNum(t)}</text>`);
  }
  if (axes.xNames) {
    const every = Math.max(1, Math.ceil(axes.xNames.length / 8));
    axes.xNames.forEach((name, i) => {
      const anchor = i === 0 && axes.xNames!.length > 1 ? 'start' : i === axes.xNames!.length - 1 ? 'end' : 'middle';
      if (i % every === 0 || i === axes.xNames!.length - 1) parts.push(`<text x="${sx(i).toFixed(1)}" y="${H - B + 16}" text-anchor="${anchor}">${escapeHtml(name.length > 12 ? name.slice(0, 12) : name)}</text>`);
    });
  } else {
    for (const t of xScale!.ticks) parts.push(`<text x="${sx(t).toFixed(1)}" y="${H - B + 16}" text-anchor="middle">${axisNum(t)}</text>`);
  }
  parts.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="${AXIS}"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="${AXIS}"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">${escapeHtml(axes.x.label)}</text>`);
  parts.push(`<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(axes.y.label)}</text>`);
  for (const [[ax, ay], [bx, by]] of axes.guides ?? []) {
    parts.push(`<line x1="${sx(ax).toFixed(1)}" y1="${sy(ay).toFixed(1)}" x2="${sx(bx).toFixed(1)}" y2="${sy(by).toFixed(1)}" stroke="${AXIS}" stroke-dasharray="4 4"/>`);
  }
  for (const m of axes.marks ?? []) {
    const x = sx(m.x).toFixed(1);
    const right = sx(m.x) > (L + W - R) / 2;
    parts.push(`<line x1="${x}" x2="${x}" y1="${T}" y2="${H - B}" stroke="#a3262a" stroke-dasharray="3 3"/><text x="${x}" y="${T + 10}" text-anchor="${right ? 'end' : 'start'}" dx="${right ? -3 : 3}">${escapeHtml(m.label)}</text>`);
  }
  series.forEach((s, i) => {
    const colour = s.colour ?? COLOURS[i % COLOURS.length]!;
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (s.dots) {
      for (const [x, y] of pts) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="1.8" fill="${colour}" fill-opacity="0.55"/>`);
    } else if (pts.length) {
      const d = pts.map(([x, y], k) => `${k ? 'L' : 'M'}${sx(x).toFixed(1)} ${sy(y).toFixed(1)}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ''}/>`);
      if (pts.length < 40) for (const [x, y] of pts) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${colour}"/>`);
    }
    if (legend) {
      const lx = L + (i % 3) * ((W - L - R) / 3);
      const ly = 12 + Math.floor(i / 3) * 18;
      parts.push(`<rect x="${lx}" y="${ly - 8}" width="12" height="4" fill="${colour}"/><text x="${lx + 16}" y="${ly}">${escapeHtml(s.name)}</text>`);
    }
  });
  return svg(W, H, title, parts.join(''));
}

/** Horizontal bars, largest first. */
export function barChart(title: string, bars: readonly { readonly label: string; readonly value: number }[], valueLabel: string): Html {
  if (bars.length === 0) return html`<p class="muted">${title}: nothing to draw.</p>`;
  const W = 520;
  const rowH = 20;
  const L = 190;
  const H = 30 + bars.length * rowH;
  const max = Math.max(...bars.map((b) => b.value), 1e-12);
  const parts = bars.map((b, i) => {
    const y = 8 + i * rowH;
    const w = ((W - L - 70) * b.value) / max;
    return `<text x="${L - 6}" y="${y + 13}" text-anchor="end">${escapeHtml(b.label.length > 28 ? `${b.label.slice(0, 27)}…` : b.label)}</text><rect x="${L}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLOURS[0]}"/><text x="${(L + w + 4).toFixed(1)}" y="${y + 13}">${axisNum(b.value)}</text>`;
  });
  parts.push(`<text x="${L}" y="${H - 6}">${escapeHtml(valueLabel)}</text>`);
  return svg(W, H, title, parts.join(''));
}

/** A matrix of counts (actual rows, predicted columns), shaded by share of its row. */
export function matrixChart(title: string, labels: readonly string[], matrix: readonly (readonly number[])[]): Html {
  const n = labels.length;
  const cell = Math.max(34, Math.min(64, Math.floor(360 / Math.max(1, n))));
  const L = 110;
  const T = 40;
  const W = L + n * cell + 10;
  const H = T + n * cell + 30;
  const parts: string[] = [`<text x="${L + (n * cell) / 2}" y="12" text-anchor="middle">predicted</text>`, `<text transform="translate(12 ${T + (n * cell) / 2}) rotate(-90)" text-anchor="middle">actual</text>`];
  labels.forEach((l, j) => parts.push(`<text x="${L + j * cell + cell / 2}" y="${T - 8}" text-anchor="middle">${escapeHtml(l.slice(0, 10))}</text>`));
  matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    parts.push(`<text x="${L - 6}" y="${T + i * cell + cell / 2 + 4}" text-anchor="end">${escapeHtml(labels[i]!.slice(0, 14))}</text>`);
    row.forEach((v, j) => {
      const share = v / total;
      const dark = share > 0.5;
      parts.push(`<rect x="${L + j * cell}" y="${T + i * cell}" width="${cell - 1}" height="${cell - 1}" fill="rgb(${Math.round(235 - share * 200)},${Math.round(241 - share * 170)},${Math.round(250 - share * 80)})"/>`);
      parts.push(`<text x="${L + j * cell + cell / 2}" y="${T + i * cell + cell / 2 + 4}" text-anchor="middle" style="fill:${dark ? '#fff' : '#1d2433'}">${v.toLocaleString('en-US')}</text>`);
    });
  });
  return svg(W, H, title, parts.join(''));
}

function svg(width: number, height: number, title: string, body: string): Html {
  return html`<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${title}" width="100%" viewBox="0 0 ${width} ${height}" style="max-width:${width}px"><title>${title}</title>${raw(body)}</svg>`;
}
