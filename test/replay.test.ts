// Replaying a recorded TrainModelWorkflow history against today's workflow code: a change
// that would break running workflows (non-determinism) fails here, in CI, not in production.
// Re-record with: RECORD_HISTORY=1 npx vitest run test/train-workflow.test.ts
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../core/config.js';
import { WORKFLOWS_PATH } from '../worker/worker.js';

describe('workflow replay', () => {
  it('replays the recorded TrainModelWorkflow history without non-determinism', async () => {
    const file = path.join(PROJECT_ROOT, 'test', 'fixtures', 'train-model-workflow.history.json');
    const history = historyFromJSON(JSON.parse(await readFile(file, 'utf8')));
    expect(history.events?.length).toBeGreaterThan(20);
    await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH, replayName: 'recorded' }, history);
  });
});
