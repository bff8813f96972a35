// What every HTML page the product renders shares (the monitoring reports, the console):
// escaping, and the round scales and compact numbers of its SVG axes.

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe in element content and in quoted attributes alike (SVG text included). */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

export function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Compact axis numbers: bin edges can be large (distances, amounts) and space is scarce. */
export function axisNum(x: number): string {
  if (!isNum(x)) return x > 0 ? '∞' : '−∞';
  const a = Math.abs(x);
  if (a >= 1e6) return `${Number((x / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((x / 1e3).toPrecision(3))}k`;
  return String(Number(x.toPrecision(4)) || 0);
}

export interface Scale {
  readonly lo: number;
  readonly hi: number;
  readonly ticks: readonly number[];
}

/** Widens [lo, hi] to round tick steps (1, 2, 2.5, 5 × 10^k) so grid labels read cleanly. */
export function niceScale(lo: number, hi: number, target: number): Scale {
  const low = isNum(lo) ? lo : 0;
  const high = isNum(hi) && hi > low ? hi : low + (low === 0 ? 1 : Math.abs(low) * 0.1);
  const raw = (high - low) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.floor(low / step + 1e-9) * step;
  const end = Math.ceil(high / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = start; v <= end + step / 2 && ticks.length < 50; v += step) ticks.push(Number(v.toPrecision(12)));
  return { lo: start, hi: end, ticks };
}
