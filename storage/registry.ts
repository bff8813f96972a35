// The model registry: objects in the store's registry area, no server.
//
//   <model>/versions/<n>/claim.json     the run that took number n (a conditional create)
//   <model>/versions/<n>/model.onnx     immutable
//   <model>/versions/<n>/trees.json     immutable: the trainer's trees with their training row
//                                       counts, which explanations (TreeSHAP) read
//   <model>/versions/<n>/card.json      written last: the commit point of version n; afterwards
//                                       only its `evaluations` change (compare-and-swap)
//   <model>/aliases/<alias>.json        the log entry that set the alias (compare-and-swap)
//   <model>/aliases/log/<seq>.json      one immutable object per move: the audit log
//
// Two registrations never get one number: each claims n with `If-None-Match: *` and the loser
// tries n+1. A registration retried by its run finds its claim and finishes that version, so a
// run registers one version even when its first attempt died halfway.
//
// An alias move first creates the next log object (again a conditional create: two movers
// cannot both log seq k, and a move's `previousVersion` is what the log said just before it),
// then drives the alias object to the newest log entry for that alias with `If-Match`, so
// after every completed move the alias and the log agree, whichever process moved last. A
// retried move of the same run finds its entry and only settles the alias.
import type { SplitSpec } from '../core/spec.js';
import type { CrossValidation, TrainingCurve } from '../core/types.js';
import type { Baseline, Metrics, Task } from '../ml/metrics.js';
import { CorruptModelError, UnknownVersionError, WriteConflictError } from '../core/errors.js';
import type { AliasLogEntry, AliasMove, AliasRecord } from '../core/aliases.js';
import type { EvaluationRecord } from '../core/promotion.js';
import { isValidName, sha256 } from '../core/spec.js';
import type { Paths } from '../core/config.js';
import { openStorage } from './index.js';
import { getJson, joinKey, putJson, type ObjectStore } from './object-store.js';

export { CHALLENGER, CHAMPION, rollbackTarget, type AliasAction, type AliasLogEntry, type AliasMove, type AliasRecord } from '../core/aliases.js';

export const MODEL_FILE = 'model.onnx';
export const CARD_FILE = 'card.json';
export const TREES_FILE = 'trees.json';
const CLAIM_FILE = 'claim.json';
/** The audit log before it was one object per move: lines appended to one file (read, never written). */
const LEGACY_LOG = 'history.jsonl';
/** How often a writer that keeps losing a conditional write reads again before it gives up. */
const MAX_CONFLICTS = 200;

export interface ModelCard {
  readonly model: string;
  readonly version: number;
  readonly createdAt: string;
  readonly task: Task;
  readonly description: string;
  readonly inputs: readonly { readonly name: string; readonly kind: 'numeric' | 'categorical' }[];
  /** The ONNX output to read: `probability` [N,1], `probabilities` [N,classes] or `prediction` [N,1]. */
  readonly output: string;
  /** Multiclass: the class of each probability, in order. */
  readonly classes?: readonly string[];
  readonly labelColumn: string;
  /** Binary: probability at or above which the label is true. */
  readonly decisionThreshold: number;
  readonly trainer: {
    readonly type: string;
    readonly params: Readonly<Record<string, unknown>>;
    readonly iterations?: number;
    readonly bestIteration?: number | null;
    /** Per feature: total gain and number of splits, and the mean |TreeSHAP contribution| to the raw score over `contributionRows` holdout rows. */
    readonly featureImportance?: readonly { readonly feature: string; readonly gain: number; readonly splits: number; readonly meanAbsContribution?: number }[];
    readonly contributionRows?: number;
    /** The loss per round of the training that made it (absent on versions from before curves were kept). */
    readonly curve?: TrainingCurve;
    readonly tuning?: unknown;
  };
  readonly metrics: {
    readonly holdout: Metrics;
    readonly validation?: { readonly metric: string; readonly value: number } | null;
    /** K-fold cross-validation on the training and validation rows, when the split asks for it. */
    readonly crossValidation?: CrossValidation;
    readonly trainRows: number;
    /** The naive model from the training labels, which every evaluation scores beside it. */
    readonly baseline: Baseline;
  };
  readonly onnx: {
    readonly sha256: string;
    readonly bytes: number;
    readonly parity: { readonly rows: number; readonly maxAbsDiff: number; readonly labelMismatches: number };
  };
  /** The trainer's trees (TREES_FILE), the same the ONNX graph holds plus their training row counts; absent on versions registered before explanations. */
  readonly trees?: { readonly sha256: string; readonly bytes: number };
  /** Every evaluation of this version, oldest first: the gate, gate by gate, and the outcome. */
  readonly evaluations?: readonly EvaluationRecord[];
  readonly lineage: {
    readonly dataset: {
      readonly name: string;
      readonly snapshotHash: string;
      readonly trainPartitions: readonly string[];
      readonly validationPartitions?: readonly string[];
      readonly holdoutPartitions: readonly string[];
      /** Older partitions the split did not use. */
      readonly unusedPartitions?: readonly string[];
      /** How rows were split (absent on versions from before random splits: by partition). */
      readonly split?: SplitSpec;
      readonly rows: number;
    };
    readonly featureSql: { readonly file: string; readonly sha256: string };
    readonly specSha256: string;
    readonly codeVersion: string;
    readonly workflowId: string;
    readonly runId: string;
  };
}

export type CardDraft = Omit<ModelCard, 'version' | 'createdAt' | 'onnx' | 'evaluations'> & {
  readonly onnx: Omit<ModelCard['onnx'], 'sha256' | 'bytes'>;
};

/** Who took a version number: the run that registers it. */
interface VersionClaim {
  readonly workflowId: string;
  readonly runId: string;
  readonly claimedAt: string;
}

/** An alias log entry as stored: its place in the model's log. Entries from the legacy file have none. */
type StoredEntry = AliasLogEntry & { readonly seq?: number };

const seqKey = (seq: number): string => String(seq).padStart(10, '0');

export class Registry {
  /** Per-model chain of pending writes: within one process, moves of a model queue instead of racing. */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Log objects and claims never change once written: read each once. */
  private readonly immutable = new Map<string, unknown>();
  /** The alias objects last read, with their ETags. */
  private readonly aliasReads = new Map<string, { value: StoredEntry; etag: string }>();

  constructor(readonly store: ObjectStore) {}

  private exclusive<T>(model: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.locks.get(model) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => undefined);
    this.locks.set(model, tail);
    void tail.then(() => this.locks.get(model) === tail && this.locks.delete(model));
    return run;
  }

  private key(model: string, ...rest: (string | number)[]): string {
    if (!isValidName(model)) throw new Error(`invalid model name '${model}'`);
    return joinKey(model, ...rest);
  }

  private async readImmutable<T>(key: string): Promise<T | undefined> {
    if (this.immutable.has(key)) return this.immutable.get(key) as T;
    const got = await getJson<T>(this.store, key);
    if (got) this.immutable.set(key, got.value);
    return got?.value;
  }

  async listModels(): Promise<string[]> {
    return (await this.store.children('')).filter(isValidName).sort();
  }

  /** Every number some object names under versions/, with the files it has. */
  private async versionFiles(model: string): Promise<Map<number, Set<string>>> {
    const prefix = `${this.key(model, 'versions')}/`;
    const found = new Map<number, Set<string>>();
    for (const o of await this.store.list(prefix)) {
      const [n, file] = o.key.slice(prefix.length).split('/');
      if (!n || !file || !/^[1-9][0-9]*$/.test(n)) continue;
      const files = found.get(Number(n)) ?? new Set<string>();
      files.add(file);
      found.set(Number(n), files);
    }
    return found;
  }

  /** Registered (committed: the card is written) version numbers, ascending. */
  async listVersions(model: string): Promise<number[]> {
    const found = await this.versionFiles(model);
    return [...found].filter(([, files]) => files.has(CARD_FILE)).map(([n]) => n).sort((a, b) => a - b);
  }

  async readCard(model: string, version: number): Promise<ModelCard> {
    const got = await getJson<ModelCard>(this.store, this.key(model, 'versions', version, CARD_FILE));
    if (!got) throw new UnknownVersionError(model, version);
    return got.value;
  }

  /** The version number the run with this key claimed, and its card once it is committed. */
  private async claimOf(model: string, workflowId: string, runId: string): Promise<{ version: number; card?: ModelCard } | undefined> {
    const found = await this.versionFiles(model);
    for (const n of [...found.keys()].sort((a, b) => b - a)) {
      const files = found.get(n)!;
      const claim = files.has(CLAIM_FILE) ? await this.readImmutable<VersionClaim>(this.key(model, 'versions', n, CLAIM_FILE)) : undefined;
      const card = files.has(CARD_FILE) ? await this.readCard(model, n) : undefined;
      const by = claim ?? card?.lineage; // versions from before claims name their run on the card only
      if (by?.workflowId === workflowId && by.runId === runId) return { version: n, card };
    }
    return undefined;
  }

  /** The version registered by the run with this key, if any: makes registration idempotent. */
  async findByRun(model: string, workflowId: string, runId: string): Promise<ModelCard | undefined> {
    return (await this.claimOf(model, workflowId, runId))?.card;
  }

  /**
   * Register a new immutable version. A retry of the same run (same workflow and run id)
   * returns the version it registered before, or finishes the one it had claimed.
   */
  async register(model: string, onnx: Uint8Array, draft: CardDraft, trees?: Uint8Array): Promise<ModelCard> {
    const { workflowId, runId } = draft.lineage;
    const claimed = await this.claimOf(model, workflowId, runId);
    if (claimed?.card) return claimed.card;
    const version = claimed?.version ?? (await this.claimNext(model, { workflowId, runId, claimedAt: new Date().toISOString() }));
    await this.store.put(this.key(model, 'versions', version, MODEL_FILE), onnx);
    if (trees) await this.store.put(this.key(model, 'versions', version, TREES_FILE), trees);
    const card: ModelCard = {
      ...draft,
      version,
      createdAt: new Date().toISOString(),
      onnx: { ...draft.onnx, sha256: sha256(onnx), bytes: onnx.length },
      ...(trees ? { trees: { sha256: sha256(trees), bytes: trees.length } } : {}),
    };
    try {
      await putJson(this.store, this.key(model, 'versions', version, CARD_FILE), card, { ifNoneMatch: '*' });
      return card;
    } catch (err) {
      // Another attempt of this same run committed it first: its card is the version.
      if (err instanceof WriteConflictError) return this.readCard(model, version);
      throw err;
    }
  }

  /** Take the next free version number with a conditional create of its claim. */
  private async claimNext(model: string, claim: VersionClaim): Promise<number> {
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const version = Math.max(0, ...(await this.versionFiles(model)).keys()) + 1;
      try {
        await putJson(this.store, this.key(model, 'versions', version, CLAIM_FILE), claim, { ifNoneMatch: '*' });
        return version;
      } catch (err) {
        if (!(err instanceof WriteConflictError)) throw err;
      }
    }
    throw new Error(`could not allocate a version number for '${model}' after ${MAX_CONFLICTS} attempts`);
  }

  /**
   * A version's model file, checked against the sha256 on its card: a file that changed after
   * registration, or cannot be read, is a CorruptModelError naming it.
   */
  async readVerifiedModel(card: Pick<ModelCard, 'model' | 'version' | 'onnx'>): Promise<Uint8Array> {
    const key = this.key(card.model, 'versions', card.version, MODEL_FILE);
    const where = `${this.store.location}/${key}`;
    const obj = await this.store.get(key);
    if (!obj) throw new CorruptModelError(where, 'cannot be read (ENOENT)');
    const actual = sha256(obj.body);
    if (actual !== card.onnx.sha256) {
      throw new CorruptModelError(
        where,
        `sha256 ${actual.slice(0, 12)}… does not match the ${card.onnx.sha256.slice(0, 12)}… registered on v${card.version}'s card (${obj.body.length} bytes, registered ${card.onnx.bytes}): the file changed after registration`,
      );
    }
    return obj.body;
  }

  /**
   * A version's trees (TREES_FILE), checked against the sha256 on its card; undefined for a
   * version registered without them.
   */
  async readVerifiedTrees(card: Pick<ModelCard, 'model' | 'version' | 'trees'>): Promise<Uint8Array | undefined> {
    if (!card.trees) return undefined;
    const key = this.key(card.model, 'versions', card.version, TREES_FILE);
    const where = `${this.store.location}/${key}`;
    const obj = await this.store.get(key);
    if (!obj) throw new CorruptModelError(where, 'cannot be read (ENOENT)');
    const actual = sha256(obj.body);
    if (actual !== card.trees.sha256) throw new CorruptModelError(where, `sha256 ${actual.slice(0, 12)}… does not match the ${card.trees.sha256.slice(0, 12)}… registered on v${card.version}'s card: the file changed after registration`);
    return obj.body;
  }

  /** A local file with the version's model (onnxruntime loads from a path): the file itself, or this host's copy. */
  async modelFile(model: string, version: number): Promise<string> {
    const key = this.key(model, 'versions', version, MODEL_FILE);
    const file = await this.store.localFile(key);
    if (!file) throw new CorruptModelError(`${this.store.location}/${key}`, 'cannot be read (ENOENT)');
    return file;
  }

  /** Where a version's model is kept, for messages. */
  modelLocation(model: string, version: number): string {
    return `${this.store.location}/${this.key(model, 'versions', version, MODEL_FILE)}`;
  }

  /**
   * The version holding the alias. Followed by the alias object's ETag: a reader that asks
   * again (the API, every few hundred milliseconds) reads the object only when it changed.
   */
  async getAlias(model: string, alias: string): Promise<AliasRecord | undefined> {
    const key = this.aliasKey(model, alias);
    const known = this.aliasReads.get(key);
    let got: { value: StoredEntry; etag: string } | undefined;
    if (known && (await this.store.head(key))?.etag === known.etag) got = known;
    else got = await getJson<StoredEntry>(this.store, key);
    if (got) this.aliasReads.set(key, got);
    else this.aliasReads.delete(key);
    return got && got.value.version !== null ? (got.value as AliasRecord) : undefined;
  }

  /**
   * Point `alias` at `version` (null removes it), logging the move. A retry of the move by the
   * same run finds its log entry and only makes the alias agree with it.
   */
  moveAlias(model: string, alias: string, version: number | null, move: AliasMove): Promise<AliasLogEntry> {
    if (!isValidName(alias)) throw new Error(`invalid alias name '${alias}'`);
    return this.exclusive(model, async () => {
      if (version !== null) await this.readCard(model, version); // the version must exist
      const runId = move.runId ?? null;
      const workflowId = move.workflowId ?? null;
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const history = await this.readLog(model);
        const last = history.findLast((e) => e.alias === alias);
        if (last && runId !== null && last.runId === runId && last.workflowId === workflowId && last.version === version && last.action === move.action) {
          await this.settleAlias(model, alias);
          return withoutSeq(last);
        }
        const seq = Math.max(0, ...history.map((e) => e.seq ?? 0)) + 1;
        const entry: StoredEntry = {
          model,
          alias,
          version,
          previousVersion: last?.version ?? null,
          updatedAt: new Date().toISOString(),
          action: move.action,
          actor: move.actor,
          reason: move.reason,
          workflowId,
          runId,
          seq,
        };
        try {
          await putJson(this.store, this.key(model, 'aliases', 'log', `${seqKey(seq)}.json`), entry, { ifNoneMatch: '*' });
        } catch (err) {
          if (err instanceof WriteConflictError) continue; // another move took seq: read the log again
          throw err;
        }
        await this.settleAlias(model, alias);
        return withoutSeq(entry);
      }
      throw new Error(`could not log a move of '${model}' ${alias} after ${MAX_CONFLICTS} attempts`);
    });
  }

  /** Make the alias object hold the newest log entry for it (compare-and-swap; whoever is behind writes). */
  private async settleAlias(model: string, alias: string): Promise<void> {
    const key = this.aliasKey(model, alias);
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const newest = (await this.readLog(model)).findLast((e) => e.alias === alias);
      if (!newest || newest.seq === undefined) return; // only legacy entries: their alias file was written with them
      const current = await getJson<StoredEntry>(this.store, key);
      if (current && (current.value.seq ?? 0) >= newest.seq) return;
      try {
        await putJson(this.store, key, newest, current ? { ifMatch: current.etag } : { ifNoneMatch: '*' });
        return;
      } catch (err) {
        if (!(err instanceof WriteConflictError)) throw err;
      }
    }
    throw new Error(`could not settle alias '${alias}' of '${model}' after ${MAX_CONFLICTS} attempts`);
  }

  /** The audit log, oldest first. */
  async aliasHistory(model: string): Promise<AliasLogEntry[]> {
    return (await this.readLog(model)).map(withoutSeq);
  }

  /** The legacy log's lines (a last line cut short by a crash was never a move), then the log objects in order. */
  private async readLog(model: string): Promise<StoredEntry[]> {
    const legacy = await this.store.get(this.key(model, 'aliases', LEGACY_LOG));
    const entries: StoredEntry[] = [];
    if (legacy) {
      const text = new TextDecoder().decode(legacy.body);
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      for (const line of complete.split('\n')) if (line.trim()) entries.push(JSON.parse(line) as StoredEntry);
    }
    const prefix = `${this.key(model, 'aliases', 'log')}/`;
    const objects = (await this.store.list(prefix)).filter((o) => /^[0-9]{10}\.json$/.test(o.key.slice(prefix.length)));
    for (const o of objects) {
      const entry = await this.readImmutable<StoredEntry>(o.key);
      if (entry) entries.push(entry);
    }
    return entries;
  }

  /** Add or replace (same run) an evaluation on a version's card; the rest of the card is unchanged. */
  recordEvaluation(model: string, version: number, record: EvaluationRecord): Promise<ModelCard> {
    return this.exclusive(model, async () => {
      const key = this.key(model, 'versions', version, CARD_FILE);
      for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        const got = await getJson<ModelCard>(this.store, key);
        if (!got) throw new UnknownVersionError(model, version);
        const others = (got.value.evaluations ?? []).filter((e) => e.runId !== record.runId || e.workflowId !== record.workflowId);
        const updated: ModelCard = { ...got.value, evaluations: [...others, record] };
        try {
          await putJson(this.store, key, updated, { ifMatch: got.etag });
          return updated;
        } catch (err) {
          if (!(err instanceof WriteConflictError)) throw err;
        }
      }
      throw new Error(`could not record an evaluation on '${model}' v${version} after ${MAX_CONFLICTS} attempts`);
    });
  }

  private aliasKey(model: string, alias: string): string {
    return this.key(model, 'aliases', `${alias}.json`);
  }
}

const registries = new WeakMap<Paths, Registry>();

/** The registry of the storage `paths` describes; one per Paths in a process. */
export function openRegistry(paths: Paths): Registry {
  let registry = registries.get(paths);
  if (!registry) registries.set(paths, (registry = new Registry(openStorage(paths).registry)));
  return registry;
}

function withoutSeq(entry: StoredEntry): AliasLogEntry {
  const { seq: _seq, ...rest } = entry;
  return rest;
}
