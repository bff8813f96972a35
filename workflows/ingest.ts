// IngestDatasetWorkflow: raw files into a dataset's lake partitions, durably. Staging reads and
// checks every file and writes the batch under a folder named by its content hash; publishing
// moves each partition in with one rename and records the hash. A worker that dies in either
// step is replaced by a retry that redoes the same work; the same files ingested again publish
// nothing. New partitions start a materialization of the feature views of every model over the
// dataset (it runs on its own: the ingest does not wait for it).
import { ParentClosePolicy, patched, proxyActivities, setCurrentDetails, startChild, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { ACTIVITY_RETRY } from '../core/errors.js';
import type { IngestInput, IngestResult } from '../core/types.js';
import { ingestMaterializeWorkflowId, materializeRun, startOptions } from './starts.js';

const ingest = proxyActivities<Activities>({ startToCloseTimeout: '2 hours', heartbeatTimeout: '30 seconds', retry: ACTIVITY_RETRY });
const quick = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: ACTIVITY_RETRY });

const MATERIALIZE_PATCH = 'ingest-materializes-views';

export async function IngestDatasetWorkflow(input: IngestInput): Promise<IngestResult> {
  setCurrentDetails(`Reading and checking ${input.sources.join(', ')} for dataset ${input.dataset}`);
  const staged = await ingest.stageIngest(input);
  if (staged.alreadyIngested) {
    setCurrentDetails(`Already ingested (content ${staged.contentHash.slice(0, 12)}): nothing to publish`);
    return { ...staged, published: [] };
  }
  setCurrentDetails(`Publishing ${staged.rows} rows in ${staged.partitions.length} partition(s) of ${input.dataset}`);
  const result = await ingest.publishIngest({ staged });
  if (result.published.length > 0 && patched(MATERIALIZE_PATCH)) {
    for (const model of await quick.modelsWithViews({ dataset: input.dataset })) {
      const run = materializeRun({ model, reason: 'ingest' }, ingestMaterializeWorkflowId(workflowInfo().workflowId, model));
      await startChild(run.workflow, { ...startOptions(run), parentClosePolicy: ParentClosePolicy.ABANDON });
    }
  }
  return result;
}
