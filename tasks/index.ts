// The tasks a model may declare, by name. Everything outside tasks/ reaches a task through here.
import { binary } from './binary.js';
import { multiclass } from './multiclass.js';
import { regression } from './regression.js';
import type { Metrics } from '../ml/metrics.js';
import type { ModelShape, ModelTask, Task, TaskKind } from './task.js';

export type { Direction, ModelShape, ModelTask, MonitoredValue, PredictionValue, Task, TaskKind } from './task.js';

export const TASKS: Readonly<Record<Task, TaskKind>> = { binary, multiclass, regression };

export const TASK_NAMES = Object.keys(TASKS) as Task[];

export function taskKind(task: Task): TaskKind {
  const kind = TASKS[task];
  if (!kind) throw new Error(`unknown task '${String(task)}' (known: ${TASK_NAMES.join(', ')})`);
  return kind;
}

/** The task bound to a model's shape (a card, or a spec's task, classes and threshold). */
export function modelTask(shape: ModelShape): ModelTask {
  return taskKind(shape.task).forModel(shape);
}

/** One line for people: a model's headline metrics against its naive baseline. */
export function describeMetrics(m: Metrics): string {
  return taskKind(m.task).describe(m);
}
