// BatchInferenceWorkflow: score lake partitions with one pinned model version, one activity per
// partition, at most `concurrency` at a time, then write the run's manifest. Every partition's
// output is written whole and renamed, so a retried activity, a restarted worker or a rerun of
// the same (version, partition) never duplicates or half-writes a row.
import { patched, proxyActivities, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { ACTIVITY_RETRY } from '../core/errors.js';
import { MODEL_NAME, MODEL_VERSION, type BatchInferenceInput, type BatchInferenceResult, type ScoredPartition } from '../core/types.js';

const quick = proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', retry: ACTIVITY_RETRY });

// A partition heartbeats its rows as it goes: a dead worker is noticed within the heartbeat
// timeout and the partition is scored again from the start (its output was never published).
const scoring = proxyActivities<Activities>({ startToCloseTimeout: '2 hours', heartbeatTimeout: '20 seconds', retry: ACTIVITY_RETRY });

const LARGEST_FIRST_PATCH = 'batch-largest-partitions-first';

export async function BatchInferenceWorkflow(input: BatchInferenceInput): Promise<BatchInferenceResult> {
  const { workflowId, runId, startTime } = workflowInfo();
  upsertSearchAttributes([{ key: MODEL_NAME, value: input.model }]);
  const plan = await quick.planBatch(input);
  upsertSearchAttributes([{ key: MODEL_VERSION, value: plan.version }]);

  const total = plan.partitions.length;
  const results = new Array<ScoredPartition>(total);
  // Biggest partitions first: the small ones then fill in at the end, so the lanes finish close
  // together instead of one scoring a last full partition while the others wait. Runs started
  // before this order keep theirs on replay.
  const order = plan.partitions.map((_, i) => i);
  if (patched(LARGEST_FIRST_PATCH)) order.sort((a, b) => plan.partitions[b]!.rows - plan.partitions[a]!.rows || a - b);
  let next = 0;
  let finished = 0;
  const progress = () =>
    setCurrentDetails(`Scoring ${total} partition(s) of ${input.model} with v${plan.version}: ${finished} done, ${Math.min(next, total) - finished} running`);
  progress();
  // `concurrency` lanes, each taking the next partition when its last one is done.
  const lane = async () => {
    while (next < total) {
      const index = order[next++]!;
      progress();
      results[index] = await scoring.scorePartition({
        model: plan.model,
        version: plan.version,
        partitionKey: plan.partitionKey,
        partition: plan.partitions[index]!,
        threads: plan.threads,
      });
      finished++;
      progress();
    }
  };
  await Promise.all(Array.from({ length: Math.min(plan.concurrency, total) }, lane));

  const manifest = await quick.writeBatchManifest({
    plan,
    requested: input.partitions,
    ...(input.reason ? { reason: input.reason } : {}),
    results,
    workflowId,
    runId,
    startedAt: startTime.toISOString(),
  });
  const rowsIn = results.reduce((s, r) => s + r.rowsIn, 0);
  const rowsOut = results.reduce((s, r) => s + r.rowsOut, 0);
  setCurrentDetails(`Scored ${total} partition(s) of ${input.model} with v${plan.version}: ${rowsOut} rows out for ${rowsIn} rows in`);
  return { model: plan.model, version: plan.version, partitions: results, rowsIn, rowsOut, manifest };
}
