// All activities of the worker, built from their dependencies.
import type { Paths } from '../core/config.js';
import { createDataActivities } from './data.js';
import { createEvaluationActivities } from './evaluation.js';
import { createFeatureActivities } from './features.js';
import { createIngestionActivities } from './ingestion.js';
import { createMonitoringActivities } from './monitoring.js';
import { createRegistryActivities } from './registry.js';
import { createScoringActivities } from './scoring.js';
import { createTrainingActivities } from './training.js';

export interface ActivityDeps {
  readonly paths: Paths;
  readonly codeVersion: string;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createDataActivities(deps),
    ...createIngestionActivities(deps),
    ...createTrainingActivities(deps),
    ...createRegistryActivities(deps),
    ...createEvaluationActivities(deps),
    ...createScoringActivities(deps),
    ...createMonitoringActivities(deps),
    ...createFeatureActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
