// Every workflow the worker runs. The worker bundles this file for the workflow sandbox.
export { TrainModelWorkflow } from './train.js';
export { EvaluateAndPromoteWorkflow, RollbackChampionWorkflow } from './promote.js';
export { BatchInferenceWorkflow } from './batch.js';
export { MonitorModelWorkflow } from './monitor.js';
export { IngestDatasetWorkflow } from './ingest.js';
export { MaterializeFeaturesWorkflow } from './materialize.js';
