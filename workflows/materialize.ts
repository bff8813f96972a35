// MaterializeFeaturesWorkflow: compute a model's feature views as of one instant and make each
// the current snapshot of the online store. Started by its schedule, by an ingest that added
// partitions to the model's dataset, or by a person (a replay as of a past instant). One
// activity: each view's snapshot is stored whole and made current by one compare-and-swap, so
// a worker killed midway leaves each view's previous snapshot or its new one, and the retry
// finishes the rest.
import { proxyActivities, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { ACTIVITY_RETRY } from '../core/errors.js';
import { MODEL_NAME, type MaterializedView, type MaterializeInput } from '../core/types.js';

const features = proxyActivities<Activities>({ startToCloseTimeout: '1 hour', heartbeatTimeout: '30 seconds', retry: ACTIVITY_RETRY });

export async function MaterializeFeaturesWorkflow(input: MaterializeInput): Promise<MaterializedView[]> {
  upsertSearchAttributes([{ key: MODEL_NAME, value: input.model }]);
  setCurrentDetails(`Materializing the feature views of ${input.model}${input.asOf ? ` as of ${input.asOf}` : ''}`);
  const views = await features.materializeFeatures({ ...input, workflowId: workflowInfo().workflowId });
  setCurrentDetails(views.map((v) => `${v.view}: as of ${v.asOf}, ${v.entities} entities${v.moved ? '' : ' (already current)'}`).join('; ') || 'no views');
  return views;
}
