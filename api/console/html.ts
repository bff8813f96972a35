// The console's HTML: an escaping template tag (every interpolated value is escaped unless it is
// already Html), the page layout with its one inline stylesheet, and small pieces (tables, forms,
// badges). Server-rendered, no script, nothing loaded from elsewhere.
import { escapeHtml } from '../../core/html.js';

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}


type Part = Html | string | number | boolean | null | undefined | readonly Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof Html) return part.text;
  if (Array.isArray(part)) return (part as readonly Part[]).map(render).join('');
  return escapeHtml(part);
}

/** html`<p>${value}</p>`: values escaped, Html and arrays of them inserted as they are. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

export const raw = (text: string): Html => new Html(text);

export const fmt = (x: unknown, digits = 4): string => (typeof x === 'number' ? (Number.isInteger(x) ? x.toLocaleString('en-US') : x.toFixed(digits)) : x === null || x === undefined ? '–' : String(x));
export const when = (iso: string | null | undefined): string => (iso ? iso.slice(0, 16).replace('T', ' ') : '–');

const STYLE = `
:root{--ink:#1d2433;--muted:#4a5468;--line:#d5dae3;--bg:#f6f7f9;--accent:#1f5fbf;--good:#1c6b3a;--bad:#a3262a;--warn:#8a5a00}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header.top{background:#16213a;color:#fff;padding:.6rem 1.5rem;display:flex;gap:1.5rem;align-items:center}
header.top a{color:#fff;text-decoration:none;font-weight:600}
header.top nav{display:flex;gap:1rem;flex:1}
header.top .who{font-size:.85rem;color:#dfe6f3}
header.top form{display:inline}
header.top button{background:none;border:1px solid #8da2c8;color:#fff;border-radius:4px;padding:.15rem .5rem;cursor:pointer}
main{max-width:1200px;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.5rem;margin:.6rem 0}
h2{font-size:1.15rem;margin:1.6rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}
a{color:var(--accent)}
p.lead{color:var(--muted);margin-top:0}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);margin:.4rem 0}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef1f6;font-weight:600;font-size:.85rem}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:999px;font-size:.8rem;font-weight:600;border:1px solid}
.badge.good{color:var(--good);border-color:var(--good);background:#e9f5ee}
.badge.bad{color:var(--bad);border-color:var(--bad);background:#fbecec}
.badge.warn{color:var(--warn);border-color:var(--warn);background:#fdf4e3}
.badge.neutral{color:var(--muted);border-color:var(--muted);background:#f0f2f5}
.checks{margin:0;padding-left:1rem;font-size:.85rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:1rem}
figure{margin:0;background:#fff;border:1px solid var(--line);padding:.5rem}
figcaption{font-size:.85rem;color:var(--muted);margin-top:.25rem}
svg text{font:11px system-ui,sans-serif;fill:#333}
form.action{background:#fff;border:1px solid var(--line);padding:.6rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.4rem 0}
form.action label{display:flex;flex-direction:column;font-size:.85rem;gap:.15rem}
input,select{font:inherit;padding:.25rem .4rem;border:1px solid #8792a6;border-radius:4px}
button{font:inherit;padding:.3rem .8rem;border-radius:4px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}
button.danger{background:var(--bad);border-color:var(--bad)}
.notice{padding:.6rem .8rem;border-radius:4px;margin:.6rem 0;border:1px solid}
.notice.ok{background:#e9f5ee;border-color:var(--good)}
.notice.error{background:#fbecec;border-color:var(--bad)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.4rem 0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0}
.muted{color:var(--muted)}
`;

export interface Viewer {
  /** Who the token belongs to ('anonymous' with auth off). */
  readonly principal: string;
  readonly admin: boolean;
  /** For forms: proves the request came from a console page. */
  readonly csrf: string;
  readonly signedIn: boolean;
}

/** A whole page: title, navigation, who is signed in, an optional notice, the content. */
export function page(title: string, viewer: Viewer | null, body: Html, notice?: { kind: 'ok' | 'error'; text: string }): string {
  return `<!doctype html>${html`<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · tabular-mlops</title><style>${raw(STYLE)}</style></head>
<body>
<header class="top"><a href="/ui">tabular-mlops</a><nav aria-label="main"><a href="/ui">Models</a><a href="/docs">API</a></nav>
${viewer ? html`<span class="who">${viewer.principal}${viewer.admin ? ' (admin)' : ' (read)'}</span>${viewer.signedIn ? html`<form method="post" action="/ui/logout"><input type="hidden" name="csrf" value="${viewer.csrf}"><button type="submit">Sign out</button></form>` : ''}` : ''}
</header>
<main>
${notice ? html`<div class="notice ${notice.kind}" role="${notice.kind === 'error' ? 'alert' : 'status'}">${notice.text}</div>` : ''}
${body}
</main>
</body>
</html>`.text}`;
}

export function badge(text: string, kind: 'good' | 'bad' | 'warn' | 'neutral'): Html {
  return html`<span class="badge ${kind}">${text}</span>`;
}

/** The badge of an evaluation outcome or drift verdict. */
export function verdictBadge(verdict: string | null | undefined): Html {
  if (!verdict) return html`<span class="muted">–</span>`;
  const kind = /^(promoted|ok|approved)$/.test(verdict) ? 'good' : /reject|fail|decay|expired/.test(verdict) ? 'bad' : /drift|await|insufficient/.test(verdict) ? 'warn' : 'neutral';
  return badge(verdict, kind);
}

/** A form posting one console action, asking for a reason (and whatever `fields` adds). */
export function actionForm(action: string, label: string, viewer: Viewer, fields: Html = html``, danger = false): Html {
  const id = `reason-${action.replace(/[^a-z0-9]+/gi, '-')}`;
  return html`<form class="action" method="post" action="${action}">
<input type="hidden" name="csrf" value="${viewer.csrf}">
${fields}
<label for="${id}">Reason (recorded)<input id="${id}" name="reason" required maxlength="500" size="36"></label>
<button type="submit"${danger ? raw(' class="danger"') : ''}>${label}</button>
</form>`;
}
