// The weekly schedules of every declared model (train, batch-score new partitions, monitor),
// as Temporal Schedules made from the specs: creating them again updates them in place, a
// schedule a spec no longer asks for is deleted, and they appear on the UI's Schedules page.
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type CalendarSpecDescription,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleOptionsStartWorkflowAction,
  type Workflow,
} from '@temporalio/client';
import { temporalUiLink, type TemporalSettings } from '../core/config.js';
import { ScheduleBusyError, UnknownScheduleError } from '../core/errors.js';
import { SCHEDULE_KINDS, type ScheduleKind } from '../core/spec-operations.js';
import { MODEL_NAME, type ModelSpec } from '../core/spec.js';
import { batchRun, materializeRun, monitorRun, scheduledWorkflowId, startOptions, trainRun, type StartRequest } from '../workflows/starts.js';

/** Marks the schedules this module owns, so reconciling never touches anyone else's. */
const MANAGED_BY = 'tabular-mlops';

export function scheduleId(kind: ScheduleKind, model: string): string {
  return kind === 'materialize' ? `materialize-${model}` : `${kind}-weekly-${model}`;
}

/** Every id scheduleId makes (of any kind, for any model name): what POST /schedules/{id}/trigger accepts. */
export const SCHEDULE_ID_PATTERN = new RegExp(`^(${SCHEDULE_KINDS.map((kind) => scheduleId(kind, '')).join('|')})${MODEL_NAME}$`);

/** What a schedule of `kind` starts for `model` (workflows/starts.ts: function, id, arguments, search attributes). */
function scheduledRun(kind: ScheduleKind, model: string): StartRequest<Workflow> {
  const workflowId = scheduledWorkflowId(kind, model);
  switch (kind) {
    case 'train':
      return trainRun({ model, reason: 'schedule', actor: scheduleId(kind, model) }, workflowId);
    case 'batch':
      return batchRun({ model, partitions: 'new', reason: 'schedule' }, workflowId);
    case 'monitor':
      return monitorRun({ model, reason: 'schedule' }, workflowId);
    case 'materialize':
      return materializeRun({ model, reason: 'schedule' }, workflowId);
  }
}

type StartWorkflowSchedule = ScheduleOptions<ScheduleOptionsStartWorkflowAction<Workflow>>;

/** What the spec asks of one schedule: when, what it starts, and how runs may overlap. */
export function scheduleOptions(spec: ModelSpec, kind: ScheduleKind, cron: string, taskQueue: string): StartWorkflowSchedule {
  const model = spec.name;
  const run = scheduledRun(kind, model);
  return {
    scheduleId: scheduleId(kind, model),
    spec: { cronExpressions: [cron], timezone: spec.schedules.timezone },
    action: {
      type: 'startWorkflow',
      workflowType: run.workflow,
      // The server appends the scheduled time to the id, one run per firing.
      ...startOptions(run),
      taskQueue,
    },
    policies: {
      // A week's run still going when the next is due: skip the next rather than pile up.
      overlap: ScheduleOverlapPolicy.SKIP,
      // A worker (or the whole machine) down at the due time: run when it is back, within a day.
      catchupWindow: '1 day',
      pauseOnFailure: false,
    },
    memo: { managedBy: MANAGED_BY, model, kind },
  };
}

export interface ScheduleChanges {
  readonly created: readonly string[];
  readonly updated: readonly string[];
  readonly deleted: readonly string[];
}

/** Make the server's schedules match the specs: create, update in place, delete what no spec asks for. */
export async function ensureSchedules(client: Client, specs: readonly ModelSpec[], taskQueue: string, keep: readonly string[] = []): Promise<ScheduleChanges> {
  const created: string[] = [];
  const updated: string[] = [];
  const deleted: string[] = [];
  const wanted = new Set<string>();
  for (const spec of specs) {
    for (const kind of SCHEDULE_KINDS) {
      const cron = spec.schedules[kind];
      if (cron === null || (kind === 'materialize' && spec.features.views.length === 0)) continue;
      const options = scheduleOptions(spec, kind, cron, taskQueue);
      wanted.add(options.scheduleId);
      try {
        await client.schedule.create(options);
        created.push(options.scheduleId);
      } catch (err) {
        if (!(err instanceof ScheduleAlreadyRunning)) throw err;
        // update() replaces the whole schedule: policies left out would reset to the server's defaults.
        await client.schedule.getHandle(options.scheduleId).update((previous) => ({
          ...previous,
          spec: options.spec,
          action: options.action,
          policies: options.policies,
        }));
        updated.push(options.scheduleId);
      }
    }
  }
  for await (const summary of client.schedule.list()) {
    if (summary.memo?.managedBy !== MANAGED_BY || wanted.has(summary.scheduleId)) continue;
    // A model whose spec does not load right now keeps its schedules until it loads again.
    if (keep.some((model) => SCHEDULE_KINDS.some((kind) => scheduleId(kind, model) === summary.scheduleId))) continue;
    try {
      await client.schedule.getHandle(summary.scheduleId).delete();
      deleted.push(summary.scheduleId);
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
  }
  return { created, updated, deleted };
}

/** The schedule `id` as the server describes it; UnknownScheduleError when there is none. */
export async function describeSchedule(client: Client, id: string): Promise<ScheduleDescription> {
  try {
    return await client.schedule.getHandle(id).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new UnknownScheduleError(id);
    throw err;
  }
}

/** Start a schedule's action now, as if it were due, and return the run it started. */
export async function triggerSchedule(client: Client, id: string): Promise<{ workflowId: string; runId: string }> {
  const before = await describeSchedule(client, id);
  const handle = client.schedule.getHandle(id);
  // SKIP, like the schedule itself: a run still going is not doubled (and the server tracks it).
  await handle.trigger(ScheduleOverlapPolicy.SKIP);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const now = await handle.describe();
    if (now.info.numActionsTaken > before.info.numActionsTaken) {
      const action = now.info.recentActions.at(-1)?.action;
      if (action?.type === 'startWorkflow') return { workflowId: action.workflow.workflowId, runId: action.workflow.firstExecutionRunId };
    }
    if (now.info.numActionsSkippedOverlap > before.info.numActionsSkippedOverlap || Date.now() > deadline) {
      throw new ScheduleBusyError(id, now.info.runningActions.flatMap((a) => (a.type === 'startWorkflow' ? [a.workflow.workflowId] : [])));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ScheduleView {
  readonly id: string;
  readonly model: string;
  readonly kind: ScheduleKind;
  readonly workflowType: string;
  /** The spec's cron expression for it (null when the spec no longer declares one). */
  readonly cron: string | null;
  /** When it fires, as the server keeps it (it turns cron expressions into calendars). */
  readonly when: readonly string[];
  readonly timezone: string;
  readonly paused: boolean;
  readonly nextRuns: readonly string[];
  readonly recentRuns: readonly { readonly scheduledAt: string; readonly workflowId: string; readonly runId: string; readonly temporalUi: string }[];
  readonly temporalUi: string;
}

/** The project's schedules as the API shows them: when they run next, what they started last. */
export async function listSchedules(client: Client, temporal: TemporalSettings, specs: readonly ModelSpec[]): Promise<ScheduleView[]> {
  const views: ScheduleView[] = [];
  for await (const summary of client.schedule.list()) {
    if (summary.memo?.managedBy !== MANAGED_BY) continue;
    views.push(scheduleView(await client.schedule.getHandle(summary.scheduleId).describe(), temporal, specs));
  }
  return views.sort((a, b) => a.id.localeCompare(b.id));
}

function scheduleView(d: ScheduleDescription, temporal: TemporalSettings, specs: readonly ModelSpec[]): ScheduleView {
  const memo = (d.memo ?? {}) as { model?: string; kind?: ScheduleKind };
  const model = String(memo.model);
  const kind = memo.kind ?? 'train';
  return {
    id: d.scheduleId,
    model,
    kind,
    workflowType: d.action.type === 'startWorkflow' ? d.action.workflowType : 'unknown',
    cron: specs.find((s) => s.name === model)?.schedules[kind] ?? null,
    when: (d.spec.calendars ?? []).map(describeCalendar),
    timezone: d.spec.timezone || 'UTC',
    paused: d.state.paused,
    nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
    recentRuns: d.info.recentActions.slice(-5).flatMap((a) =>
      a.action.type === 'startWorkflow'
        ? [
            {
              scheduledAt: a.scheduledAt.toISOString(),
              workflowId: a.action.workflow.workflowId,
              runId: a.action.workflow.firstExecutionRunId,
              temporalUi: temporalUiLink(temporal, a.action.workflow.workflowId, a.action.workflow.firstExecutionRunId),
            },
          ]
        : [],
    ),
    temporalUi: `${temporal.uiUrl}/namespaces/${encodeURIComponent(temporal.namespace)}/schedules/${encodeURIComponent(d.scheduleId)}`,
  };
}


/** "MONDAY at 02:00" for the simple calendars cron expressions become; ranges spelled out otherwise. */
function describeCalendar(c: CalendarSpecDescription): string {
  const one = (ranges: readonly { start: number | string; end?: number | string; step?: number }[]): string =>
    ranges
      .map((r) => (r.end === undefined || r.end === r.start ? String(r.start) : `${r.start}-${r.end}${r.step && r.step !== 1 ? `/${r.step}` : ''}`))
      .join(',');
  const pad = (v: string) => (/^\d$/.test(v) ? `0${v}` : v);
  const days = c.dayOfWeek.length && one(c.dayOfWeek) !== 'SUNDAY-SATURDAY' ? one(c.dayOfWeek) : 'every day';
  const hours = one(c.hour);
  return hours === '0-23' ? `${days}, every hour at :${pad(one(c.minute))}` : `${days} at ${pad(hours)}:${pad(one(c.minute))}`;
}
