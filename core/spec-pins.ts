// A run pins the spec it started with: the spec, its dataset's declaration and its feature SQL,
// kept by their joint hash under <state>/specs/, so every activity of the run (and every later
// evaluation of the version it registers, for its data and features) reads exactly what the run
// started with, whatever is edited in models/, datasets/ or sql/ meanwhile. The gate and approval
// are policy, not lineage: an evaluation takes them from the spec as it is now.
import { readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Paths } from './config.js';
import { replaceDurably } from './durable.js';
import { exists } from './lake.js';
import { loadSpec, specFromTexts, specHashOf, type LoadedSpec, type SpecTexts } from './spec.js';

type PinDirs = Pick<Paths, 'stateDir' | 'modelsDir' | 'datasetsDir' | 'sqlDir'>;

interface PinnedSpec {
  readonly model: string;
  readonly file: string;
  readonly texts: SpecTexts;
}

const pinFile = (dirs: PinDirs, specHash: string) => path.join(dirs.stateDir, 'specs', `${specHash}.json`);

/** Load the model's spec as it is now and pin it: returns it with the hash later activities pass. */
export async function pinSpec(dirs: PinDirs, model: string): Promise<LoadedSpec> {
  const loaded = await loadSpec(dirs, model);
  const file = pinFile(dirs, loaded.specHash);
  if (!(await exists(file))) {
    await mkdir(path.dirname(file), { recursive: true });
    const pinned: PinnedSpec = { model, file: loaded.file, texts: loaded.texts };
    await replaceDurably(file, JSON.stringify(pinned));
  }
  return loaded;
}

/**
 * The spec a run pinned under `specHash`; the current spec when no hash is given (runs started
 * before pinning) or the pin is gone.
 */
export async function runSpec(dirs: PinDirs, model: string, specHash: string | undefined): Promise<LoadedSpec> {
  if (!specHash || !/^[0-9a-f]{64}$/.test(specHash)) return loadSpec(dirs, model);
  const file = pinFile(dirs, specHash);
  if (!(await exists(file))) return loadSpec(dirs, model);
  const pinned = JSON.parse(await readFile(file, 'utf8')) as PinnedSpec;
  if (pinned.model !== model || specHashOf(pinned.texts) !== specHash) return loadSpec(dirs, model);
  return specFromTexts(
    dirs,
    model,
    pinned.file,
    pinned.texts.spec,
    async () => pinned.texts.dataset,
    async () => pinned.texts.featureSql,
  );
}
