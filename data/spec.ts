// Command line for model specs:
//   npm run spec -- init --dataset <name> --label <column> [--task binary|multiclass|regression] [--name <model>] [--force]
//     profiles the dataset in the lake and writes models/<model>.json and sql/features/<model>.sql,
//     which load and train as they are (the model is named <dataset>_<label> unless --name says)
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { resolvePaths } from '../core/config.js';
import { isValidName, loadDataset, suggestName } from '../core/dataset.js';
import { exists } from '../core/local-files.js';
import { loadSpec } from '../core/spec.js';
import { TASK_NAMES } from '../tasks/index.js';
import type { Task } from '../ml/metrics.js';
import { draftModelSpec } from './draft.js';
import { parseFlags } from './flags.js';

const USAGE = 'use: npm run spec -- init --dataset <name> --label <column> [--task binary|multiclass|regression] [--name <model>] [--force]';

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command !== 'init') throw new Error(`unknown command '${command ?? ''}': ${USAGE}`);
  const force = rest.includes('--force');
  const { flags, args } = parseFlags(rest.filter((a) => a !== '--force'), ['dataset', 'label', 'task', 'name']);
  if (args.length) throw new Error(`unexpected argument '${args[0]}': ${USAGE}`);
  if (!flags.dataset || !flags.label) throw new Error(`init: --dataset and --label are required; ${USAGE}`);
  if (flags.task && !(TASK_NAMES as readonly string[]).includes(flags.task)) throw new Error(`--task ${flags.task}: one of ${TASK_NAMES.join(', ')}`);
  const name = flags.name ?? suggestName(`${flags.dataset}_${flags.label}`);
  if (!isValidName(name)) throw new Error(`--name ${name}: a model name is lower-case letters, digits and _`);
  const paths = resolvePaths();
  const { dataset } = await loadDataset(paths.datasetsDir, flags.dataset);
  const specFile = path.join(paths.modelsDir, `${name}.json`);
  const sqlFile = path.join(paths.sqlDir, 'features', `${name}.sql`);
  for (const f of [specFile, sqlFile]) {
    if (!force && (await exists(f))) throw new Error(`${path.relative(process.cwd(), f)} exists: edit it, or pass --force to draft it again`);
  }
  const draft = await draftModelSpec(paths, dataset, { label: flags.label, name, ...(flags.task ? { task: flags.task as Task } : {}) });
  // The label is an outcome: a prediction request cannot know it, so it is not asked for.
  const labelAt = dataset.columns.findIndex((c) => c.name === flags.label);
  if (labelAt >= 0 && dataset.columns[labelAt]!.knownAtPrediction) {
    const datasetFile = path.join(paths.datasetsDir, `${dataset.name}.json`);
    const declaration = JSON.parse(await readFile(datasetFile, 'utf8')) as { columns: Record<string, unknown>[] };
    declaration.columns[labelAt]!.knownAtPrediction = false;
    await writeFile(datasetFile, `${JSON.stringify(declaration, null, 2)}\n`);
    console.log(`${path.relative(process.cwd(), datasetFile)}: '${flags.label}' marked knownAtPrediction: false (requests do not send the label)`);
  }
  await mkdir(path.dirname(sqlFile), { recursive: true });
  await writeFile(sqlFile, draft.featureSql);
  await writeFile(specFile, `${JSON.stringify(draft.spec, null, 2)}\n`);
  await loadSpec(paths, name); // the draft loads as it is
  console.log(`wrote ${path.relative(process.cwd(), specFile)} and ${path.relative(process.cwd(), sqlFile)} (${draft.task}, ${draft.rows} labelled rows)`);
  for (const n of draft.notes) console.log(`  ${n}`);
  console.log(`train it: curl -X POST localhost:3000/workflows/train -H "authorization: Bearer <admin token>" -H 'content-type: application/json' -d '{"model":"${name}"}'`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
