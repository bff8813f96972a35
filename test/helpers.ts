// Shared set-up for tests: temporary state folders that reuse the run's real lake, and
// model specs declared for a test (a spec is data, so a test may declare its own).
import { cp, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { PROJECT_ROOT, resolvePaths, type Paths } from '../core/config.js';
import type { CardDraft } from '../core/registry.js';

/**
 * Fresh registry, work and models folders; the lake's `flights` dataset is a link to the
 * run's shared real lake (read-only), so a test may add datasets of its own beside it.
 */
export async function testPaths(): Promise<Paths> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mlops-test-'));
  const shared = resolvePaths({ MLOPS_STATE_DIR: inject('lakeStateDir') });
  const paths = resolvePaths({ MLOPS_STATE_DIR: dir, MLOPS_MODELS_DIR: path.join(dir, 'models') });
  await cp(path.join(PROJECT_ROOT, 'models'), paths.modelsDir, { recursive: true });
  await mkdir(paths.lakeDir, { recursive: true });
  await symlink(path.join(shared.lakeDir, 'flights'), path.join(paths.lakeDir, 'flights'));
  return { ...paths, arrivalsDir: shared.arrivalsDir };
}

/** Environment for a worker process that uses these paths. */
export function pathsEnv(paths: Paths): Record<string, string> {
  return {
    MLOPS_STATE_DIR: paths.stateDir,
    MLOPS_LAKE_DIR: paths.lakeDir,
    MLOPS_REGISTRY_DIR: paths.registryDir,
    MLOPS_WORK_DIR: paths.workDir,
    MLOPS_MODELS_DIR: paths.modelsDir,
  };
}

/** Declare a variant of a shipped spec under a new name (same SQL), e.g. with more epochs. */
export async function declareVariant(
  paths: Paths,
  base: string,
  name: string,
  change: (spec: Record<string, any>) => void, // eslint-disable-line @typescript-eslint/no-explicit-any -- spec JSON edited freely in tests
): Promise<void> {
  const spec = JSON.parse(await readFile(path.join(paths.modelsDir, `${base}.json`), 'utf8'));
  spec.name = name;
  change(spec);
  await mkdir(paths.modelsDir, { recursive: true });
  await writeFile(path.join(paths.modelsDir, `${name}.json`), JSON.stringify(spec, null, 2));
}

/** A card for registry tests: only the model and the run's identity matter to them. */
export function cardDraft(model: string, runId: string): CardDraft {
  const zeroMetrics = { task: 'binary' as const, rows: 0, positiveRate: 0, auc: 0, logLoss: 0, accuracy: 0, baselineLogLoss: 0, baselineRate: 0 };
  return {
    model,
    task: 'binary',
    description: '',
    inputs: [],
    output: 'probability',
    labelColumn: 'delayed',
    decisionThreshold: 0.5,
    trainer: { type: 'gbdt', params: {} },
    metrics: { holdout: zeroMetrics, trainRows: 0, baseline: { task: 'binary', rate: 0 } },
    onnx: { parity: { rows: 0, maxAbsDiff: 0, labelMismatches: 0 } },
    lineage: {
      dataset: { name: 'flights', snapshotHash: '', trainPartitions: [], holdoutPartitions: [], rows: 0 },
      featureSql: { file: '', sha256: '' },
      specSha256: '',
      codeVersion: 'test',
      workflowId: 'test',
      runId,
    },
  };
}
