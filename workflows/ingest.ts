// IngestDatasetWorkflow: raw files into a dataset's lake partitions, durably. Staging reads and
// checks every file and writes the batch under a folder named by its content hash; publishing
// moves each partition in with one rename and records the hash. A worker that dies in either
// step is replaced by a retry that redoes the same work; the same files ingested again publish
// nothing.
import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { ACTIVITY_RETRY } from '../core/errors.js';
import type { IngestInput, IngestResult } from '../core/types.js';

const ingest = proxyActivities<Activities>({ startToCloseTimeout: '2 hours', heartbeatTimeout: '30 seconds', retry: ACTIVITY_RETRY });

export async function IngestDatasetWorkflow(input: IngestInput): Promise<IngestResult> {
  setCurrentDetails(`Reading and checking ${input.sources.join(', ')} for dataset ${input.dataset}`);
  const staged = await ingest.stageIngest(input);
  if (staged.alreadyIngested) {
    setCurrentDetails(`Already ingested (content ${staged.contentHash.slice(0, 12)}): nothing to publish`);
    return { ...staged, published: [] };
  }
  setCurrentDetails(`Publishing ${staged.rows} rows in ${staged.partitions.length} partition(s) of ${input.dataset}`);
  return ingest.publishIngest({ staged });
}
