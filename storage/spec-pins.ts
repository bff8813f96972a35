// A run pins the spec it started with: the spec, its dataset's declaration and its feature SQL,
// kept by their joint hash in the store's specs area, so every activity of the run (on any
// host) and every later evaluation of the version it registers reads exactly what the run
// started with, for its data and features, whatever is edited in models/, datasets/ or sql/
// meanwhile. The gate and approval are policy, not lineage: an evaluation takes them from the
// spec as it is now.
import type { Paths } from '../core/config.js';
import { WriteConflictError } from '../core/errors.js';
import { loadSpec, specFromTexts, specHashOf, type LoadedSpec, type SpecTexts } from '../core/spec.js';
import { openStorage } from './index.js';
import { getJson, putJson } from './object-store.js';

interface PinnedSpec {
  readonly model: string;
  readonly file: string;
  readonly texts: SpecTexts;
}

const pinKey = (specHash: string) => `${specHash}.json`;

/** Load the model's spec as it is now and pin it: returns it with the hash later activities pass. */
export async function pinSpec(paths: Paths, model: string): Promise<LoadedSpec> {
  const loaded = await loadSpec(paths, model);
  const pinned: PinnedSpec = { model, file: loaded.file, texts: loaded.texts };
  try {
    // Content-addressed: a pin that exists already holds these very texts.
    await putJson(openStorage(paths).specs, pinKey(loaded.specHash), pinned, { ifNoneMatch: '*' });
  } catch (err) {
    if (!(err instanceof WriteConflictError)) throw err;
  }
  return loaded;
}

/**
 * The spec a run pinned under `specHash`; the current spec when no hash is given (runs started
 * before pinning) or the pin is gone.
 */
export async function runSpec(paths: Paths, model: string, specHash: string | undefined): Promise<LoadedSpec> {
  if (!specHash || !/^[0-9a-f]{64}$/.test(specHash)) return loadSpec(paths, model);
  const pinned = (await getJson<PinnedSpec>(openStorage(paths).specs, pinKey(specHash)))?.value;
  if (!pinned || pinned.model !== model || specHashOf(pinned.texts) !== specHash) return loadSpec(paths, model);
  return specFromTexts(
    paths,
    model,
    pinned.file,
    pinned.texts.spec,
    async () => pinned.texts.dataset,
    async (sql, field) => {
      if (field === 'features.sql') return pinned.texts.featureSql;
      const text = pinned.texts.viewSql?.[sql];
      if (text === undefined) throw new Error(`the spec pinned as ${specHash} has no ${sql} (${field})`);
      return text;
    },
  );
}
