// Specs live: the worker looks at models/, datasets/ and the feature SQL every few seconds and,
// when anything a spec is made of changed (a spec added, edited or removed), reconciles the
// schedules with the specs as they are now. Nothing changes while the files stay the same.
import { loadAllSpecs, loadSpec, type ModelSpec, type SpecDirs } from '../core/spec.js';

export interface SpecSet {
  readonly specs: readonly ModelSpec[];
  /** Specs that do not load, each with its error (their schedules are left as they are). */
  readonly broken: readonly { readonly name: string; readonly error: string }[];
}

export class SpecWatcher {
  private fingerprint: string | undefined;

  constructor(
    private readonly dirs: SpecDirs,
    private readonly reconcile: (set: SpecSet) => Promise<void>,
  ) {}

  /** Reconcile when the specs differ from the last reconciled set; true when it did. */
  async check(): Promise<boolean> {
    const set = await currentSpecs(this.dirs);
    const fingerprint = JSON.stringify([set.hashes, set.broken]);
    if (fingerprint === this.fingerprint) return false;
    await this.reconcile({ specs: set.specs, broken: set.broken });
    this.fingerprint = fingerprint; // only once reconciled: a failed attempt is tried again next time
    return true;
  }
}

async function currentSpecs(dirs: SpecDirs): Promise<SpecSet & { hashes: string[] }> {
  const specs: ModelSpec[] = [];
  const hashes: string[] = [];
  const broken: { name: string; error: string }[] = [];
  for (const { name, spec, error } of await loadAllSpecs(dirs)) {
    if (spec) {
      specs.push(spec);
      hashes.push(`${name}:${(await loadSpec(dirs, name).catch(() => undefined))?.specHash ?? '?'}`);
    } else {
      broken.push({ name, error });
    }
  }
  return { specs, broken, hashes };
}
