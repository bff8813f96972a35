// Tuning trials drawn from a spec's search space: seeded, so a retried or replayed run plans
// the same trials. Pure: the plan is made in an activity and recorded in workflow history.
import { mulberry32 } from '../ml/random.js';
import type { TuningSpec } from './spec.js';
import type { TrainedModel, TuningTrial } from './types.js';

/** `trials` distinct combinations of the space's values (all of them when there are fewer). */
export function planTrials(tuning: TuningSpec): TuningTrial[] {
  const names = Object.keys(tuning.space).sort();
  const sizes = names.map((n) => tuning.space[n]!.length);
  const total = sizes.reduce((a, b) => a * b, 1);
  const random = mulberry32(tuning.seed ^ 0x7f4a7c15);
  const picked = new Set<number>();
  const order: number[] = [];
  if (tuning.trials >= total) for (let i = 0; i < total; i++) order.push(i);
  while (order.length < Math.min(tuning.trials, total)) {
    const i = Math.floor(random() * total);
    if (!picked.has(i)) {
      picked.add(i);
      order.push(i);
    }
  }
  return order.map((combination, index) => {
    const params: Record<string, number> = {};
    let rest = combination;
    names.forEach((name, k) => {
      params[name] = tuning.space[name]![rest % sizes[k]!]!;
      rest = Math.floor(rest / sizes[k]!);
    });
    return { index, params };
  });
}

/** The trial with the lowest validation loss (log loss or RMSE); ties go to the earlier trial. */
export function bestTrial(results: readonly TrainedModel[]): TrainedModel {
  let best = results[0]!;
  for (const r of results) {
    if (r.validation && (!best.validation || r.validation.value < best.validation.value)) best = r;
  }
  return best;
}
