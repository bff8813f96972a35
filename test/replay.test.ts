// Replaying recorded TrainModelWorkflow histories against today's workflow code: a change
// that would break running workflows (non-determinism) fails here, in CI, not in production.
// - train-model-workflow.history.json: today's shape (promotion as a child workflow).
//   Re-record with: RECORD_HISTORY=1 npx vitest run test/train-workflow.test.ts -t "trains, registers"
// - train-model-workflow-before-promotion.history.json: a run recorded before
//   EvaluateAndPromoteWorkflow existed; it must keep replaying (the patched() branch).
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../core/config.js';
import { WORKFLOWS_PATH } from '../worker/worker.js';

describe('workflow replay', () => {
  for (const fixture of ['train-model-workflow.history.json', 'train-model-workflow-before-promotion.history.json']) {
    it(`replays ${fixture} without non-determinism`, async () => {
      const file = path.join(PROJECT_ROOT, 'test', 'fixtures', fixture);
      const history = historyFromJSON(JSON.parse(await readFile(file, 'utf8')));
      expect(history.events?.length).toBeGreaterThan(20);
      await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH, replayName: fixture }, history);
    });
  }
});
