// Following a run from the terminal through the API: GET /workflows/{id} once a second until it
// ends, drawing the pending activity's last heartbeat as a progress bar (on a terminal) or as a
// line when its stage changes (in a log). A training that waits on its promotion says so, with
// the command that approves it.
import { ApiError, data, type MlopsClient, type Schemas } from '../client/index.js';

type Run = Schemas['WorkflowRun'];

const POLL_MS = 1_000;
/** In a log (not a terminal), mere progress within one stage is said at most this often. */
const LOG_EVERY_MS = 10_000;
const BAR_WIDTH = 24;
/** How long following waits out an API or Temporal that does not answer before it gives up (the run itself goes on). */
const UNREACHABLE_GIVE_UP_MS = 120_000;

/** The parts of a heartbeat the bar shows; the rest is printed as `key value`. */
function progressOf(details: unknown): { stage: string; done?: number; of?: number; rest: string[] } {
  if (details === null || typeof details !== 'object') return { stage: details === null || details === undefined ? '' : String(details), rest: [] };
  const d = details as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const [done, of] = num(d.iteration) !== undefined ? [num(d.iteration), num(d.numIterations)] : [num(d.rows), num(d.of)];
  const shown = new Set(['stage', 'iteration', 'numIterations', 'rows', 'of', 'attempt', 'trialParams', 'checkpointIteration', 'metric']);
  const metric = typeof d.metric === 'string' ? d.metric : 'metric';
  const rest = Object.entries(d)
    .filter(([k, v]) => !shown.has(k) && v !== null && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'))
    .map(([k, v]) => `${k === 'validMetric' ? `valid ${metric}` : k === 'trainMetric' ? `train ${metric}` : k} ${String(v)}`);
  return { stage: typeof d.stage === 'string' ? d.stage : '', ...(done !== undefined ? { done } : {}), ...(of !== undefined ? { of } : {}), rest };
}

/** One line for a running run: its first pending activity, a bar when the heartbeat has a count of a total. */
export function progressLine(run: Run): string | undefined {
  const activity = run.pendingActivities?.[0];
  if (!activity) return undefined;
  const p = progressOf(activity.progress);
  const parts = [activity.activity ?? 'activity'];
  if (p.done !== undefined && p.of) {
    const filled = Math.max(0, Math.min(BAR_WIDTH, Math.round((p.done / p.of) * BAR_WIDTH)));
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${p.done}/${p.of}`);
  } else if (p.done !== undefined) {
    parts.push(`${p.done.toLocaleString('en-US')} rows`);
  }
  if (p.stage) parts.push(p.stage);
  parts.push(...p.rest);
  if (activity.attempt > 1) parts.push(`attempt ${activity.attempt}${activity.lastFailure ? ` (last failure: ${activity.lastFailure})` : ''}`);
  return parts.join('  ');
}

export interface Terminal {
  /** A progress line that replaces the previous one (a terminal) or is printed (a log). */
  progress(line: string): void;
  /** A line that stays. */
  say(line: string): void;
}

/** Progress on stderr: redrawn in place on a terminal, a line per stage (and every 10 s) otherwise. */
export function stderrTerminal(stream: NodeJS.WriteStream = process.stderr): Terminal {
  let drawn = false;
  let last = '';
  let saidAt = 0;
  const clear = () => {
    if (drawn) stream.write('\r\x1b[K');
    drawn = false;
  };
  return {
    progress(line) {
      if (stream.isTTY) {
        clear();
        stream.write(line.slice(0, Math.max(20, (stream.columns ?? 120) - 1)));
        drawn = true;
        return;
      }
      const shape = (s: string) => s.replace(/\d+/g, '#');
      if (line !== last && (shape(line) !== shape(last) || Date.now() - saidAt >= LOG_EVERY_MS)) {
        stream.write(`${line}\n`);
        last = line;
        saidAt = Date.now();
      }
    },
    say(line) {
      clear();
      stream.write(`${line}\n`);
    },
  };
}

/**
 * Wait until the run ends, showing its progress; its last status is returned. `model` names the
 * model whose promotion a training waits on, so a wait for approval is said with its command.
 */
export async function followRun(api: MlopsClient, id: { workflowId: string; runId?: string }, term: Terminal, model?: string): Promise<Run> {
  let toldApproval = false;
  let unreachableSince: number | null = null;
  for (;;) {
    let run: Run;
    try {
      run = await data(api.GET('/workflows/{id}', { params: { path: { id: id.workflowId }, query: id.runId ? { runId: id.runId } : {} } }));
      unreachableSince = null;
    } catch (err) {
      // The run goes on while the API or Temporal restarts: keep asking for a while, then give up.
      const transient = (err instanceof ApiError && err.status >= 500) || err instanceof TypeError;
      if (!transient) throw err;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > UNREACHABLE_GIVE_UP_MS) throw err;
      term.progress(`(the API does not answer: ${err instanceof ApiError ? err.message : err.message}; asking again)`);
      await new Promise((r) => setTimeout(r, POLL_MS * 3));
      continue;
    }
    if (run.status !== 'RUNNING') {
      term.say(`${run.type} ${run.status.toLowerCase()} (${run.workflowId})`);
      return run;
    }
    const line = progressLine(run);
    if (line) term.progress(line);
    else if (model) {
      const promotion = await data(api.GET('/models/{name}/promotion', { params: { path: { name: model } } })).catch(() => undefined);
      const status = promotion?.status as { stage?: string; version?: number; approval?: { deadline?: string } } | null | undefined;
      if (status?.stage === 'awaiting-approval' && !toldApproval) {
        term.say(`v${status.version} passed the gate and waits for approval until ${status.approval?.deadline ?? '?'}:`);
        term.say(`  npx mlops approve ${model} ${status.version} --reason "..."   (or reject)`);
        toldApproval = true;
      } else if (status?.stage && status.stage !== 'awaiting-approval') {
        term.progress(`promotion  ${status.stage}${status.version ? ` v${status.version}` : ''}`);
      }
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
