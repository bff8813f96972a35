// The console at /ui: server-rendered pages over the API itself. Every read and every action is
// a request to this app's own routes made with the viewer's token, so the console sees and may do
// exactly what that token may through the API (scopes, validation, the alias log), and says the
// API's own words when it refuses. A browser signs in once with a token, kept in an HttpOnly,
// SameSite=Strict cookie scoped to /ui; forms carry a token derived from it.
import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { temporalUiLink } from '../../core/config.js';
import { describeGate, type GateDecision } from '../../core/gate.js';
import type { DriftReport } from '../../core/monitoring.js';
import type { PromotionStatus } from '../../core/promotion.js';
import type { PromotionGate } from '../../core/spec.js';
import { isValidName } from '../../core/spec.js';
import { metricValue } from '../../ml/metrics.js';
import type { ScheduleView } from '../../runs/schedules.js';
import type { ModelCard as RegisteredCard } from '../../storage/registry.js';
import { errorMessage } from '../../core/errors.js';
import type { TrainingCurve } from '../../core/types.js';
import type { Diagnostics } from '../../ml/curves.js';
import { authorize } from '../auth.js';
import { VERSION_PATTERN } from '../schemas.js';
import type { Api, AppDeps } from '../app.js';
import type { z } from '@hono/zod-openapi';
import type { ModelCard, ModelDetail, ModelSummary, Promotion, ReportSummary, VersionSummary } from '../responses.js';
import { barChart, COLOURS, lineChart, matrixChart, type Series } from './charts.js';
import { HoldoutScorer, type HoldoutComparison } from './holdout.js';
import { actionForm, badge, fmt, html, page, raw, verdictBadge, when, type Html, type Viewer } from './html.js';

const COOKIE = 'mlops_console';
/** Scripts none, styles inline, images inline, forms to this origin only, never framed. */
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

type Card = z.infer<typeof ModelCard>;
type Detail = z.infer<typeof ModelDetail>;
type Summary = z.infer<typeof ModelSummary>;
type VersionRow = z.infer<typeof VersionSummary>;
type PromotionState = z.infer<typeof Promotion>;
type ReportRow = z.infer<typeof ReportSummary>;

type ApiAnswer<T> = { ok: true; data: T } | { ok: false; status: number; type: string; message: string };

interface Session extends Viewer {
  readonly token: string | null;
}

function cookieToken(header: string | undefined): string | null {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE && v.length) return decodeURIComponent(v.join('='));
  }
  return null;
}

export function registerConsole(app: Api, deps: AppDeps): void {
  const scorer = new HoldoutScorer(deps.paths);
  const processSecret = randomBytes(16).toString('hex'); // forms' token when auth is off
  const csrfOf = (token: string | null) => createHash('sha256').update(`console-form:${token ?? processSecret}`).digest('hex').slice(0, 32);

  /** The signed-in viewer, or null (then the caller redirects to the sign-in page). */
  function session(c: Context): Session | null {
    if (!deps.auth.enabled) return { principal: 'anonymous', admin: true, csrf: csrfOf(null), signedIn: false, token: null };
    const token = cookieToken(c.req.header('cookie'));
    if (!token) return null;
    try {
      const principal = authorize(deps.auth, `Bearer ${token}`, 'predict');
      let admin = true;
      try {
        authorize(deps.auth, `Bearer ${token}`, 'admin');
      } catch {
        admin = false;
      }
      return { principal, admin, csrf: csrfOf(token), signedIn: true, token };
    } catch {
      return null;
    }
  }

  /** A request to this app's own API with the viewer's token (a JSON body makes it a POST). */
  function request(s: Session, path: string, body?: unknown): Promise<Response> {
    const headers = new Headers();
    if (s.token) headers.set('authorization', `Bearer ${s.token}`);
    if (body !== undefined) headers.set('content-type', 'application/json');
    return Promise.resolve(app.request(path, body === undefined ? { headers } : { method: 'POST', headers, body: JSON.stringify(body) }));
  }

  /** What the API refused, in its own words (its error body; the status line when it has none). */
  async function refusal(res: Response): Promise<Extract<ApiAnswer<unknown>, { ok: false }>> {
    const json = (await res.json().catch(() => null)) as { error?: { type?: string; message?: string } } | null;
    return { ok: false, status: res.status, type: json?.error?.type ?? `HTTP${res.status}`, message: json?.error?.message ?? res.statusText };
  }

  /** An API answer as data, or what it refused. */
  async function call<T>(s: Session, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    const res = await request(s, path, body);
    return res.ok ? { ok: true, data: (await res.json()) as T } : refusal(res);
  }

  const send = (c: Context, status: number, body: string, headers: Record<string, string> = {}) =>
    c.body(body, status as 200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CSP, 'cache-control': 'no-store', ...headers });

  const refused = (c: Context, s: Session | null, answer: Extract<ApiAnswer<unknown>, { ok: false }>, title: string) =>
    send(c, answer.status, page(title, s, html`<h1>${title}</h1><p><a href="/ui">Back to the models</a></p>`, { kind: 'error', text: `${answer.type}: ${answer.message}` }));

  /** Pages need a signed-in viewer; without one, the sign-in page (with where to come back to). */
  function guarded(handler: (c: Context, s: Session) => Promise<Response>) {
    return async (c: Context) => {
      const s = session(c);
      if (!s) return c.redirect(`/ui/login?next=${encodeURIComponent(c.req.path + (c.req.url.includes('?') ? c.req.url.slice(c.req.url.indexOf('?')) : ''))}`, 303);
      return handler(c, s);
    };
  }

  const loginPage = (next: string, error?: string) =>
    page(
      'Sign in',
      null,
      html`<h1>Sign in</h1>
<p class="lead">Paste an API token: a predict token reads, an admin token also approves, rejects, rolls back and starts runs. It is kept in a cookie for this console only.</p>
<form class="action" method="post" action="/ui/login">
<input type="hidden" name="next" value="${next}">
<label for="token">API token<input id="token" name="token" type="password" required autocomplete="current-password" size="44"></label>
<button type="submit">Sign in</button>
</form>`,
      error ? { kind: 'error', text: error } : undefined,
    );

  const safeNext = (next: unknown) => (typeof next === 'string' && /^\/ui(\/|$|\?)/.test(next) && !next.startsWith('//') ? next : '/ui');

  app.get('/ui/login', (c) => send(c, 200, loginPage(safeNext(c.req.query('next')))));
  app.post('/ui/login', async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    const next = safeNext(form.next);
    try {
      authorize(deps.auth, `Bearer ${token}`, 'predict');
    } catch (err) {
      return send(c, 401, loginPage(next, `That token is not accepted: ${errorMessage(err)}`));
    }
    const secure = new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
    return c.body(null, 303, {
      location: next,
      'set-cookie': `${COOKIE}=${encodeURIComponent(token)}; Path=/ui; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}; Max-Age=43200`,
    });
  });
  app.post('/ui/logout', (c) => c.body(null, 303, { location: '/ui/login', 'set-cookie': `${COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0` }));
  app.get('/ui/', (c) => c.redirect('/ui', 301));

  // ---- models ------------------------------------------------------------------------------
  app.get(
    '/ui',
    guarded(async (c, s) => {
      const models = await call<{ models: Summary[] }>(s, '/models');
      if (!models.ok) return refused(c, s, models, 'Models');
      const schedules = await call<{ schedules: ScheduleView[] }>(s, '/schedules');
      const rows: Html[] = [];
      for (const m of models.data.models) {
        if (m.error) {
          rows.push(html`<tr><td><a href="/ui/models/${m.name}">${m.name}</a></td><td colspan="6">${badge('spec does not load', 'bad')} ${m.error}</td></tr>`);
          continue;
        }
        const detail = await call<Detail>(s, `/models/${m.name}`);
        const last = detail.ok ? [...detail.data.versions].reverse().find((v) => v.lastEvaluation)?.lastEvaluation : undefined;
        const reports = await call<{ reports: ReportRow[] }>(s, `/reports/${m.name}`);
        const drift = reports.ok ? reports.data.reports[0] : undefined;
        const next = schedules.ok
          ? schedules.data.schedules
              .filter((x) => x.model === m.name && !x.paused && x.nextRuns[0])
              .map((x) => html`<div>${x.kind} ${when(x.nextRuns[0])}</div>`)
          : [html`<span class="muted">${schedules.status === 403 ? 'an admin token shows them' : 'Temporal is not reachable'}</span>`];
        rows.push(html`<tr>
<td><a href="/ui/models/${m.name}">${m.name}</a><div class="muted">${m.description}</div></td>
<td>${m.task}</td>
<td class="num">${m.champion ? html`<a href="/ui/models/${m.name}/versions/${m.champion}">v${m.champion}</a>` : '–'}</td>
<td class="num">${m.challenger ? html`<a href="/ui/models/${m.name}/versions/${m.challenger}">v${m.challenger}</a>` : '–'}</td>
<td>${last ? html`${verdictBadge(last.outcome)} <span class="muted">${when(last.evaluatedAt)}</span>` : html`<span class="muted">none yet</span>`}</td>
<td>${drift ? html`<a href="/ui/models/${m.name}/reports/${drift.id}">${verdictBadge(drift.verdict)}</a> <span class="muted">${drift.window.join(', ')}</span>` : html`<span class="muted">no report yet</span>`}</td>
<td>${next.length ? next : html`<span class="muted">none scheduled</span>`}</td>
</tr>`);
      }
      return send(
        c,
        200,
        page(
          'Models',
          s,
          html`<h1>Models</h1><p class="lead">Each declared model, what serves it, how its last evaluation and drift check went, and when its weekly runs come next.</p>
<table><caption class="muted" style="text-align:left">Declared models</caption><thead><tr><th scope="col">Model</th><th scope="col">Task</th><th scope="col" class="num">Champion</th><th scope="col" class="num">Challenger</th><th scope="col">Last evaluation</th><th scope="col">Last drift check</th><th scope="col">Next runs</th></tr></thead><tbody>${rows}</tbody></table>`,
          noticeOf(c),
        ),
      );
    }),
  );

  // ---- one model ---------------------------------------------------------------------------
  app.get(
    '/ui/models/:name',
    guarded(async (c, s) => {
      const name = (c.req.param('name') ?? '');
      if (!isValidName(name)) return notFound(c, s, `no model '${name}'`);
      const detail = await call<Detail>(s, `/models/${name}`);
      if (!detail.ok) return refused(c, s, detail, name);
      const m = detail.data;
      const [history, promotion, reports] = await Promise.all([
        call<{ entries: Detail['aliases'][string][] }>(s, `/models/${name}/aliases/history`),
        call<PromotionState>(s, `/models/${name}/promotion`),
        call<{ reports: ReportRow[] }>(s, `/reports/${name}`),
      ]);
      const champion = m.aliases.champion?.version ?? null;
      const gateMetric = typeof m.gate.metric === 'string' ? m.gate.metric : undefined;
      const metricNames = [...new Set([...(gateMetric ? [gateMetric] : []), ...m.versions.flatMap((v) => Object.keys(v.holdout).filter((k) => typeof v.holdout[k] === 'number' && !/rows|baseline|rate/i.test(k)))])].slice(0, 4);
      const status = promotion.ok ? (promotion.data.status as unknown as PromotionStatus | null | undefined) : undefined;
      const waiting = status?.stage === 'awaiting-approval' ? status : null;

      const versionRows = [...m.versions].reverse().map((v) => versionRow(name, v, metricNames, champion));
      const entries = history.ok ? history.data.entries.filter((e): e is NonNullable<typeof e> => e !== null) : [];
      const body = html`<h1>${name} <span class="muted" style="font-size:1rem">${m.task}</span></h1>
<p class="lead">${m.description}</p>
<dl class="facts"><dt>Champion</dt><dd>${champion ? html`<a href="/ui/models/${name}/versions/${champion}">v${champion}</a>` : 'none yet'}</dd>
<dt>Challenger</dt><dd>${m.aliases.challenger ? html`<a href="/ui/models/${name}/versions/${m.aliases.challenger.version}">v${m.aliases.challenger.version}</a>` : 'none'}</dd>
<dt>Gate</dt><dd>${describeGate(m.gate as unknown as PromotionGate).join('; ')}</dd><dt>Approval</dt><dd>${m.approval.required ? 'a person approves each promotion' : 'promotes when the gate passes'}</dd>
<dt>Promotion</dt><dd>${promotion.ok ? (promotion.data.running ? html`${promotion.data.type} running${waiting ? html` — ${badge(`v${waiting.version} awaits approval`, 'warn')} until ${when(waiting.approval?.deadline)}` : ''} (<a href="${promotion.data.temporalUi ?? '#'}">Temporal UI</a>)` : 'none running') : html`<span class="muted">${promotion.message}</span>`}</dd></dl>
${s.admin ? adminPanel(name, s, waiting, champion, entries) : html`<p class="muted">Sign in with an admin token to approve, reject, roll back or start runs.</p>`}
<h2>Versions</h2>
${m.versions.length >= 2 ? compareForm(name, m.versions.map((v) => v.version)) : ''}
<table><caption class="muted" style="text-align:left">Holdout metrics, gate checks of the last evaluation, and the runs that made and judged each version</caption>
<thead><tr><th scope="col">Version</th><th scope="col">Created</th>${metricNames.map((n) => html`<th scope="col" class="num">${n}</th>`)}<th scope="col">Last evaluation and gate</th><th scope="col">Runs</th></tr></thead><tbody>${versionRows}</tbody></table>
<h2>Champion over time</h2>
${aliasTimeline(entries)}
<h2>Monitoring: ${gateMetric ?? 'metric'} per week</h2>
${reports.ok ? await weeklyMetric(s, name, reports.data.reports) : html`<p class="muted">${reports.message}</p>`}`;
      return send(c, 200, page(name, s, body, noticeOf(c)));
    }),
  );

  function versionRow(name: string, v: VersionRow, metricNames: readonly string[], champion: number | null): Html {
    const ev = v.lastEvaluation;
    const checks = (ev?.gate as unknown as GateDecision | undefined)?.checks ?? [];
    return html`<tr>
<th scope="row"><a href="/ui/models/${name}/versions/${v.version}">v${v.version}</a>${v.version === champion ? html` ${badge('champion', 'good')}` : ''}</th>
<td>${when(v.createdAt)}</td>
${metricNames.map((n) => html`<td class="num">${fmt(v.holdout[n])}</td>`)}
<td>${ev ? html`${verdictBadge(ev.outcome)}<ul class="checks">${checks.map((k) => html`<li>${k.passed ? '✓' : '✗'} ${k.name}: ${k.detail}</li>`)}</ul>` : html`<span class="muted">not evaluated</span>`}</td>
<td><a href="${temporalUiLink(deps.temporal, v.lineage.workflowId, v.lineage.runId)}">training run</a>${ev ? html`<br><a href="${temporalUiLink(deps.temporal, ev.workflowId, ev.runId)}">promotion run</a>` : ''}${champion && champion !== v.version ? html`<br><a href="/ui/models/${name}/compare?a=${v.version}&amp;b=${champion}">compare with v${champion}</a>` : ''}</td>
</tr>`;
  }

  function adminPanel(name: string, s: Session, waiting: { version: number } | null, champion: number | null, entries: readonly { alias: string; version: number | null; action: string }[]): Html {
    const base = `/ui/models/${name}/actions`;
    const canRollBack = champion !== null && entries.filter((e) => e.alias === 'champion' && e.version !== null).length > 1;
    return html`<h2>Actions</h2>
${waiting ? html`<p>v${waiting.version} passed the gate and waits for a decision.</p>${actionForm(`${base}/approve?version=${waiting.version}`, `Approve v${waiting.version}`, s)}${actionForm(`${base}/reject?version=${waiting.version}`, `Reject v${waiting.version}`, s, html``, true)}` : ''}
${actionForm(`${base}/train`, 'Start a training', s)}
${actionForm(`${base}/batch`, 'Score new partitions (batch)', s)}
${canRollBack ? actionForm(`${base}/rollback`, `Roll back from v${champion}`, s, html``, true) : ''}`;
  }

  async function weeklyMetric(s: Session, name: string, reports: readonly ReportRow[]): Promise<Html> {
    if (reports.length === 0) return html`<p class="muted">No monitoring report yet.</p>`;
    // Each week's metric from the newest report that judged it, under the champion of that report.
    const byWeek = new Map<string, { value: number; version: number }>();
    const runs = new Map<string, string>();
    let metric = '';
    for (const r of [...reports].reverse().slice(-52)) {
      const full = await call<DriftReport>(s, `/reports/${name}/${r.id}/report.json`);
      if (!full.ok) continue;
      metric = full.data.performance.metric;
      runs.set(r.id, temporalUiLink(deps.temporal, full.data.workflowId, full.data.runId));
      for (const p of full.data.performance.overTime) {
        const value = p.metrics[metric];
        if (p.role === 'window' && typeof value === 'number') byWeek.set(p.partition, { value, version: full.data.version });
      }
    }
    const weeks = [...byWeek.keys()].sort();
    if (weeks.length === 0) return html`<p class="muted">The reports have no labelled weeks yet.</p>`;
    const versions = [...new Set(weeks.map((w) => byWeek.get(w)!.version))];
    const series: Series[] = versions.map((v, i) => ({ name: `v${v}`, colour: COLOURS[i % COLOURS.length]!, points: weeks.flatMap((w, k) => (byWeek.get(w)!.version === v ? [[k, byWeek.get(w)!.value] as const] : [])) }));
    const marks = weeks.flatMap((w, k) => (k > 0 && byWeek.get(w)!.version !== byWeek.get(weeks[k - 1]!)!.version ? [{ x: k, label: `v${byWeek.get(w)!.version} champion` }] : []));
    return html`<figure>${lineChart(`${metric} per week, by the champion that served it`, series, { width: 760, height: 300, x: { label: 'week', min: 0, max: Math.max(1, weeks.length - 1) }, y: { label: metric }, xNames: weeks, marks })}
<figcaption>${metric} on each week's labelled rows, from the monitoring reports; a red line marks the first week a new champion served.</figcaption></figure>
<table><caption class="muted" style="text-align:left">Reports, newest first</caption><thead><tr><th scope="col">Report</th><th scope="col">Version</th><th scope="col">Window</th><th scope="col">Verdict</th><th scope="col">Drifted features</th><th scope="col">Run</th></tr></thead><tbody>
${reports.slice(0, 12).map((r) => html`<tr><td><a href="/ui/models/${name}/reports/${r.id}">${when(r.createdAt)}</a></td><td>v${r.version}</td><td>${r.window.join(', ')}</td><td>${verdictBadge(r.verdict)}</td><td>${r.driftedFeatures.join(', ') || '–'}</td><td>${runs.has(r.id) ? html`<a href="${runs.get(r.id)!}">monitoring run</a>` : '–'}</td></tr>`)}
</tbody></table>`;
  }

  // A report page, opened from the console with the console's sign-in (the API's route wants a bearer token).
  app.get(
    '/ui/models/:name/reports/:id',
    guarded(async (c, s) => {
      const { name, id } = c.req.param() as { name: string; id: string };
      const res = await request(s, `/reports/${encodeURIComponent(name)}/${encodeURIComponent(id)}`);
      if (!res.ok) return refused(c, s, await refusal(res), 'Report');
      return c.body(await res.text(), 200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': res.headers.get('content-security-policy') ?? CSP });
    }),
  );

  // ---- one version -------------------------------------------------------------------------
  app.get(
    '/ui/models/:name/versions/:version',
    guarded(async (c, s) => {
      const { name, version } = c.req.param() as { name: string; version: string };
      if (!isValidName(name) || !VERSION_PATTERN.test(version)) return notFound(c, s, `no version '${version}' of '${name}'`);
      const card = await call<Card>(s, `/models/${name}/versions/${version}`);
      if (!card.ok) return refused(c, s, card, `${name} v${version}`);
      const k = card.data;
      const trainer = k.trainer as unknown as RegisteredCard['trainer'];
      let diagnostics: Html;
      try {
        diagnostics = diagnosticsSection(await scorer.compare(name, k.version, [k.version]));
      } catch (err) {
        diagnostics = html`<p class="notice error">The holdout could not be scored again: ${errorMessage(err)}</p>`;
      }
      const importance = (trainer.featureImportance ?? []).map((f) => ({ label: f.feature, value: f.meanAbsContribution ?? f.gain })).sort((a, b) => b.value - a.value).slice(0, 20);
      const byShap = (trainer.featureImportance ?? []).some((f) => f.meanAbsContribution !== undefined);
      const body = html`<h1>${name} v${k.version}</h1>
<p class="lead">${k.task}, trained ${when(k.createdAt)} on ${fmt(k.metrics.trainRows)} rows · <a href="/ui/models/${name}">all versions</a></p>
<dl class="facts">${Object.entries(k.metrics.holdout).filter(([, v]) => typeof v === 'number').map(([key, v]) => html`<dt>holdout ${key}</dt><dd>${fmt(v)}</dd>`)}
<dt>trainer</dt><dd>${trainer.type} · ${trainer.iterations ?? '?'} rounds${trainer.bestIteration ? `, best ${trainer.bestIteration}` : ''} · ${Object.entries(trainer.params ?? {}).map(([p, v]) => `${p} ${String(v)}`).join(', ')}</dd></dl>
<h2>Training</h2>
<div class="grid">
<figure>${trainingCurve(trainer.curve, trainer.bestIteration ?? null)}<figcaption>${trainer.curve ? `${trainer.curve.metric} per round: validation every round, training every few` : 'This version was trained before per-round metrics were kept.'}</figcaption></figure>
<figure>${barChart('Feature importance', importance, byShap ? 'mean |TreeSHAP contribution| to the raw score, holdout rows' : 'total gain')}<figcaption>${byShap ? 'Mean absolute contribution to the raw score over holdout rows' : 'Total split gain'}; the 20 largest.</figcaption></figure>
</div>
<h2>Holdout</h2>
${diagnostics}`;
      return send(c, 200, page(`${name} v${k.version}`, s, body));
    }),
  );

  // ---- two versions on the same rows ------------------------------------------------------
  app.get(
    '/ui/models/:name/compare',
    guarded(async (c, s) => {
      const name = (c.req.param('name') ?? '');
      const [a, b] = [c.req.query('a') ?? '', c.req.query('b') ?? ''];
      if (!isValidName(name)) return notFound(c, s, `no model '${name}'`);
      const detail = await call<Detail>(s, `/models/${name}`);
      if (!detail.ok) return refused(c, s, detail, name);
      const known = detail.data.versions.map((v) => v.version);
      if (!VERSION_PATTERN.test(a) || !VERSION_PATTERN.test(b) || !known.includes(Number(a)) || !known.includes(Number(b)) || a === b) {
        return send(c, 400, page(`Compare ${name}`, s, html`<h1>Compare ${name}</h1>${compareForm(name, known)}`, { kind: 'error', text: `a and b must be two different versions of ${name}: ${known.map((v) => `v${v}`).join(', ')}` }));
      }
      const [va, vb] = [Number(a), Number(b)];
      // The rows of the newer version's holdout: what its evaluation compared it with the champion on.
      const holdoutOf = Math.max(va, vb);
      let section: Html;
      try {
        section = comparisonSection(await scorer.compare(name, holdoutOf, [va, vb]));
      } catch (err) {
        section = html`<p class="notice error">The two versions could not be scored on the same rows: ${errorMessage(err)}</p>`;
      }
      return send(c, 200, page(`Compare ${name} v${va} and v${vb}`, s, html`<h1>${name}: v${va} against v${vb}</h1>${compareForm(name, known, va, vb)}${section}`));
    }),
  );

  // ---- actions -----------------------------------------------------------------------------
  app.post(
    '/ui/models/:name/actions/:action',
    guarded(async (c, s) => {
      const { name, action } = c.req.param() as { name: string; action: string };
      const form = await c.req.parseBody();
      if (form.csrf !== s.csrf) return send(c, 403, page('Refused', s, html`<h1>Refused</h1>`, { kind: 'error', text: 'The form is stale or did not come from this console: open the page again.' }));
      const reason = typeof form.reason === 'string' ? form.reason.trim() : '';
      const version = c.req.query('version') ?? '';
      const who = { actor: s.principal, reason };
      const target: { path: string; body: unknown; done: string } | undefined =
        action === 'approve' || action === 'reject'
          ? { path: `/models/${name}/versions/${version}/${action}`, body: who, done: `v${version} ${action === 'approve' ? 'approved' : 'rejected'}` }
          : action === 'rollback'
            ? { path: `/models/${name}/rollback`, body: who, done: 'rolled back' }
            : action === 'train'
              ? { path: '/workflows/train', body: { model: name, reason }, done: 'training started' }
              : action === 'batch'
                ? { path: '/workflows/batch', body: { model: name, partitions: 'new', reason }, done: 'batch scoring started' }
                : undefined;
      if (!target) return notFound(c, s, `no action '${action}'`);
      const answer = await call<{ workflowId?: string; temporalUi?: string }>(s, target.path, target.body);
      deps.log.info('console_action', { principal: s.principal, action, model: name, version: version || null, reason, status: answer.ok ? 200 : answer.status, workflowId: answer.ok ? (answer.data.workflowId ?? null) : null });
      if (!answer.ok) return refused(c, s, answer, `${action} ${name}`);
      const link = answer.data.temporalUi ? ` (${answer.data.workflowId})` : '';
      return c.redirect(`/ui/models/${name}?notice=${encodeURIComponent(`${name}: ${target.done}${link}`)}`, 303);
    }),
  );

  function notFound(c: Context, s: Session, message: string) {
    return send(c, 404, page('Not found', s, html`<h1>Not found</h1><p><a href="/ui">Back to the models</a></p>`, { kind: 'error', text: message }));
  }
}

function noticeOf(c: Context): { kind: 'ok'; text: string } | undefined {
  const text = c.req.query('notice');
  return text ? { kind: 'ok', text: text.slice(0, 300) } : undefined;
}

function compareForm(name: string, versions: readonly number[], a?: number, b?: number): Html {
  const newest = [...versions].sort((x, y) => y - x);
  const options = (selected: number | undefined) => newest.map((v) => html`<option value="${v}"${v === selected ? raw(' selected') : ''}>v${v}</option>`);
  return html`<form class="action" method="get" action="/ui/models/${name}/compare">
<label for="cmp-a">Version<select id="cmp-a" name="a">${options(a ?? newest[0])}</select></label>
<label for="cmp-b">against<select id="cmp-b" name="b">${options(b ?? newest[1])}</select></label>
<button type="submit">Compare on the same rows</button></form>`;
}

function aliasTimeline(entries: readonly { alias: string; version: number | null; previousVersion: number | null; updatedAt: string; action: string; actor: string; reason: string }[]): Html {
  const champion = entries.filter((e) => e.alias === 'champion');
  if (champion.length === 0) return html`<p class="muted">No champion yet.</p>`;
  const t0 = Date.parse(champion[0]!.updatedAt);
  // Hours for a young model, days once its history spans more than three.
  const span = (Date.now() - t0) / 3_600_000;
  const [unit, perUnit] = span > 72 ? ['days', 24 * 3_600_000] : ['hours', 3_600_000];
  const hours = (iso: string) => (Date.parse(iso) - t0) / perUnit;
  const points: (readonly [number, number])[] = [];
  for (const e of champion) {
    if (points.length && e.version !== null) points.push([hours(e.updatedAt), points.at(-1)![1]]);
    if (e.version !== null) points.push([hours(e.updatedAt), e.version]);
  }
  points.push([Math.max(hours(new Date().toISOString()), points.at(-1)![0]), points.at(-1)![1]]);
  const versions = champion.flatMap((e) => (e.version === null ? [] : [e.version]));
  return html`<div class="grid"><figure>${lineChart('Champion version over time', [{ name: 'champion', points }], { width: 520, height: 220, x: { label: `${unit} since the first champion`, min: 0 }, y: { label: 'version', min: Math.min(...versions) - 0.5, max: Math.max(...versions) + 0.5 } })}
<figcaption>The champion version, stepping at each promotion or rollback.</figcaption></figure>
<table><caption class="muted" style="text-align:left">The alias log, newest first</caption><thead><tr><th scope="col">When</th><th scope="col">Alias</th><th scope="col">Move</th><th scope="col">By</th><th scope="col">Why</th></tr></thead><tbody>
${[...entries].reverse().slice(0, 20).map((e) => html`<tr><td>${when(e.updatedAt)}</td><td>${e.alias}</td><td>${e.action} ${e.previousVersion ? `v${e.previousVersion}` : '–'} → ${e.version ? `v${e.version}` : '–'}</td><td>${e.actor}</td><td>${e.reason}</td></tr>`)}
</tbody></table></div>`;
}

function trainingCurve(curve: TrainingCurve | undefined, best: number | null): Html {
  if (!curve || curve.iteration.length === 0) return html`<p class="muted">No per-round metrics for this version.</p>`;
  const pick = (values: readonly (number | null)[]) => curve.iteration.flatMap((it, i) => (values[i] === null || values[i] === undefined ? [] : [[it, values[i]!] as const]));
  const series: Series[] = [
    { name: `train ${curve.metric}`, points: pick(curve.train) },
    { name: `validation ${curve.metric}`, points: pick(curve.valid) },
  ].filter((x) => x.points.length > 0);
  return lineChart(`Training curve (${curve.metric})`, series, { x: { label: 'round' }, y: { label: curve.metric }, ...(best ? { marks: [{ x: best, label: `best ${best}` }] } : {}) });
}

/** The charts of one or more versions' diagnostics on the same rows, overlaid. */
function diagnosticCharts(scored: HoldoutComparison['versions']): Html {
  const [first] = scored;
  if (!first) return html``;
  const label = (v: number, name: string) => (scored.length > 1 ? `v${v}${name === 'true' ? '' : ` ${name}`}` : name === 'true' ? `v${v}` : name);
  if (first.diagnostics.kind === 'regression') {
    const residuals = scored.map((s, i) => ({ name: `v${s.version}`, colour: COLOURS[i]!, dots: true, points: (s.diagnostics as Extract<Diagnostics, { kind: 'regression' }>).residuals }));
    const binned = scored.map((s, i) => ({ name: `v${s.version}`, colour: COLOURS[i]!, points: (s.diagnostics as Extract<Diagnostics, { kind: 'regression' }>).binned.map((b) => [b.predicted, b.meanResidual] as const) }));
    return html`<div class="grid"><figure>${lineChart('Residuals against predictions', residuals, { x: { label: 'prediction' }, y: { label: 'label − prediction' } })}<figcaption>Label minus prediction for rows spread over the holdout.</figcaption></figure>
<figure>${lineChart('Mean residual per prediction decile', binned, { x: { label: 'mean prediction' }, y: { label: 'mean residual' } })}<figcaption>Zero everywhere is unbiased; a slope shows where the model is over- or under-predicting.</figcaption></figure></div>`;
  }
  const cls = scored.map((s) => ({ version: s.version, d: s.diagnostics as Extract<Diagnostics, { kind: 'classification' }> }));
  const roc = cls.flatMap(({ version, d }, i) => d.roc.map((c, k) => ({ name: `${label(version, c.name)} (AUC ${c.area.toFixed(3)})`, colour: COLOURS[(i * d.roc.length + k) % COLOURS.length]!, dashed: i > 0, points: c.points })));
  const pr = cls.flatMap(({ version, d }, i) => d.pr.map((c, k) => ({ name: `${label(version, c.name)} (AP ${c.area.toFixed(3)})`, colour: COLOURS[(i * d.pr.length + k) % COLOURS.length]!, dashed: i > 0, points: c.points })));
  const reliability = cls.map(({ version, d }, i) => ({ name: `v${version}`, colour: COLOURS[i]!, points: d.calibration.map((b) => [b.predicted, b.observed] as const) }));
  const unit: Parameters<typeof lineChart>[2]['x'] = { label: '', min: 0, max: 1 };
  return html`<div class="grid">
<figure>${lineChart('ROC curve', roc, { x: { ...unit, label: 'false-positive rate' }, y: { ...unit, label: 'true-positive rate' }, guides: [[[0, 0], [1, 1]]], legend: true })}<figcaption>${cls[0]!.d.roc.length > 1 ? 'One class against the rest, per class.' : 'The positive label against the rest.'}</figcaption></figure>
<figure>${lineChart('Precision-recall curve', pr, { x: { ...unit, label: 'recall' }, y: { ...unit, label: 'precision' }, legend: true })}<figcaption>Precision at each recall, with average precision (AP).</figcaption></figure>
<figure>${lineChart('Calibration', reliability, { x: { ...unit, label: cls[0]!.d.roc.length > 1 ? 'predicted probability of the predicted class' : 'predicted probability' }, y: { ...unit, label: 'observed frequency' }, guides: [[[0, 0], [1, 1]]] })}<figcaption>On the diagonal, a predicted 30% happens 30% of the time.</figcaption></figure>
${cls.map(({ version, d }) => html`<figure>${matrixChart(`Confusion matrix v${version}`, d.confusion.labels, d.confusion.matrix)}<figcaption>v${version}: rows are the actual label, columns the predicted one (${fmt(d.rows)} rows).</figcaption></figure>`)}
</div>`;
}

function diagnosticsSection(h: HoldoutComparison): Html {
  return html`<p class="lead">On its holdout: ${h.partitions.join(', ')} (${fmt(h.rows)} labelled rows), scored again with the registered ONNX file.</p>${diagnosticCharts(h.versions)}`;
}

function comparisonSection(h: HoldoutComparison): Html {
  const [a, b] = h.versions as [HoldoutComparison['versions'][number], HoldoutComparison['versions'][number]];
  const rows = h.deltas.map((d) => {
    const better = d.better === 'higher' ? d.interval.lo > 0 : d.interval.hi < 0;
    const worse = d.better === 'higher' ? d.interval.hi < 0 : d.interval.lo > 0;
    return html`<tr><th scope="row">${d.metric} <span class="muted">(${d.better} is better)</span></th><td class="num">${fmt(metricValue(a.metrics, d.metric))}</td><td class="num">${fmt(metricValue(b.metrics, d.metric))}</td><td class="num">${d.interval.difference >= 0 ? '+' : ''}${fmt(d.interval.difference)}</td><td class="num">[${fmt(d.interval.lo)}, ${fmt(d.interval.hi)}]</td><td>${better ? badge(`v${a.version} better`, 'good') : worse ? badge(`v${a.version} worse`, 'bad') : badge('no clear difference', 'neutral')}</td></tr>`;
  });
  return html`<p class="lead">Both scored on v${h.holdoutOf}'s holdout: ${h.partitions.join(', ')} (${fmt(h.rows)} labelled rows). Intervals are 95% paired-bootstrap intervals of v${a.version} − v${b.version} over ${fmt(h.bootstrapRows)} rows spread over the holdout.</p>
<table><caption class="muted" style="text-align:left">Metrics on the same rows</caption><thead><tr><th scope="col">Metric</th><th scope="col" class="num">v${a.version}</th><th scope="col" class="num">v${b.version}</th><th scope="col" class="num">Difference</th><th scope="col" class="num">95% interval</th><th scope="col">Reading</th></tr></thead><tbody>${rows}</tbody></table>
${diagnosticCharts(h.versions)}`;
}
