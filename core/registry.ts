// The model registry: a folder, embedded, no server.
//
//   <root>/<model>/versions/<n>/model.onnx    immutable once the folder exists
//   <root>/<model>/versions/<n>/card.json     what it is, how it was made, how it scored
//   <root>/<model>/aliases/<alias>.json       which version holds the alias (champion, challenger)
//   <root>/<model>/aliases/history.jsonl      every alias move, appended: the audit log
//
// A version is written in full under a dot-folder and then renamed to its number: readers
// see all of it or none of it; afterwards only the card's `evaluations` change (rewritten
// whole by rename). Registration is idempotent per run key.
//
// An alias move appends to the log first, then writes the alias file by rename. A crash in
// between leaves a log line whose alias file is stale; the retried move (same run) finds its
// line and only writes the file, so after every completed move the log and the alias agree.
// Moves of one model are serialized: by the promotion workflow's id across processes, and by
// a lock here within one.
import type { SplitSpec } from './spec.js';
import type { CrossValidation } from './types.js';
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { replaceDurably } from './durable.js';
import path from 'node:path';
import type { Baseline, Metrics, Task } from '../ml/metrics.js';
import { CorruptModelError, UnknownVersionError } from './errors.js';
import type { AliasLogEntry, AliasMove, AliasRecord } from './aliases.js';
import type { EvaluationRecord } from './promotion.js';

export { CHALLENGER, CHAMPION, rollbackTarget, type AliasAction, type AliasLogEntry, type AliasMove, type AliasRecord } from './aliases.js';
import { isValidName, sha256 } from './spec.js';

export const MODEL_FILE = 'model.onnx';
export const CARD_FILE = 'card.json';

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
    readonly featureImportance?: readonly { readonly feature: string; readonly gain: number; readonly splits: number }[];
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

export class Registry {
  /** Per-model chain of pending writes: moves and card updates of one model run one at a time. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly root: string) {}

  private exclusive<T>(model: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.locks.get(model) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => undefined);
    this.locks.set(model, tail);
    void tail.then(() => this.locks.get(model) === tail && this.locks.delete(model));
    return run;
  }

  private modelDir(model: string): string {
    if (!isValidName(model)) throw new Error(`invalid model name '${model}'`);
    return path.join(this.root, model);
  }

  versionDir(model: string, version: number): string {
    return path.join(this.modelDir(model), 'versions', String(version));
  }

  modelPath(model: string, version: number): string {
    return path.join(this.versionDir(model, version), MODEL_FILE);
  }

  async listModels(): Promise<string[]> {
    const entries = await readdir(this.root, { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory() && isValidName(e.name)).map((e) => e.name).sort();
  }

  /** Registered version numbers, ascending. */
  async listVersions(model: string): Promise<number[]> {
    const entries = await readdir(path.join(this.modelDir(model), 'versions')).catch(() => [] as string[]);
    return entries.filter((e) => /^[1-9][0-9]*$/.test(e)).map(Number).sort((a, b) => a - b);
  }

  async readCard(model: string, version: number): Promise<ModelCard> {
    try {
      return JSON.parse(await readFile(path.join(this.versionDir(model, version), CARD_FILE), 'utf8')) as ModelCard;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UnknownVersionError(model, version);
      throw err;
    }
  }

  /** The version registered by the run with this key, if any: makes registration idempotent. */
  async findByRun(model: string, workflowId: string, runId: string): Promise<ModelCard | undefined> {
    for (const v of (await this.listVersions(model)).reverse()) {
      const card = await this.readCard(model, v);
      if (card.lineage.workflowId === workflowId && card.lineage.runId === runId) return card;
    }
    return undefined;
  }

  /**
   * Register a new immutable version. A retry of the same run (same workflow and run id)
   * returns the version it registered before instead of adding another.
   */
  async register(model: string, onnx: Uint8Array, draft: CardDraft): Promise<ModelCard> {
    const existing = await this.findByRun(model, draft.lineage.workflowId, draft.lineage.runId);
    if (existing) return existing;
    const versionsDir = path.join(this.modelDir(model), 'versions');
    await mkdir(versionsDir, { recursive: true });
    const staging = path.join(this.modelDir(model), `.staging-${randomUUID()}`);
    await mkdir(staging, { recursive: true });
    try {
      await writeFile(path.join(staging, MODEL_FILE), onnx);
      for (let attempt = 0; attempt < 100; attempt++) {
        const version = ((await this.listVersions(model)).at(-1) ?? 0) + 1;
        const card: ModelCard = {
          ...draft,
          version,
          createdAt: new Date().toISOString(),
          onnx: { ...draft.onnx, sha256: sha256(onnx), bytes: onnx.length },
        };
        await writeFile(path.join(staging, CARD_FILE), JSON.stringify(card, null, 2));
        try {
          // Fails when another registration took this number first: its folder is not empty.
          await rename(staging, path.join(versionsDir, String(version)));
          return card;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        }
      }
      throw new Error(`could not allocate a version number for '${model}' after 100 attempts`);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /**
   * A version's model file, checked against the sha256 on its card: a file that changed after
   * registration, or cannot be read, is a CorruptModelError naming it.
   */
  async readVerifiedModel(card: Pick<ModelCard, 'model' | 'version' | 'onnx'>): Promise<Uint8Array> {
    const file = this.modelPath(card.model, card.version);
    const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new CorruptModelError(file, `cannot be read (${err.code ?? err.message})`);
    });
    const actual = sha256(bytes);
    if (actual !== card.onnx.sha256) {
      throw new CorruptModelError(
        file,
        `sha256 ${actual.slice(0, 12)}… does not match the ${card.onnx.sha256.slice(0, 12)}… registered on v${card.version}'s card (${bytes.length} bytes, registered ${card.onnx.bytes}): the file changed after registration`,
      );
    }
    return bytes;
  }

  async getAlias(model: string, alias: string): Promise<AliasRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.aliasFile(model, alias), 'utf8')) as AliasRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Point `alias` at `version` (null removes it), logging the move. A retry of the move by the
   * same run finds its log line and only makes the alias file agree with it.
   */
  moveAlias(model: string, alias: string, version: number | null, move: AliasMove): Promise<AliasLogEntry> {
    if (!isValidName(alias)) throw new Error(`invalid alias name '${alias}'`);
    return this.exclusive(model, async () => {
      if (version !== null) await this.readCard(model, version); // the version must exist
      const log = await this.readLog(model);
      const history = log.entries;
      const last = history.findLast((e) => e.alias === alias);
      const runId = move.runId ?? null;
      const workflowId = move.workflowId ?? null;
      let entry: AliasLogEntry;
      if (last && runId !== null && last.runId === runId && last.workflowId === workflowId && last.version === version && last.action === move.action) {
        entry = last;
      } else {
        entry = {
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
        };
        await this.appendLog(model, entry, log);
      }
      const file = this.aliasFile(model, alias);
      if (entry.version === null) await rm(file, { force: true });
      else await replaceDurably(file, JSON.stringify(entry, null, 2));
      return entry;
    });
  }

  /** The audit log, oldest first. A last line cut short by a crash is not a move and is skipped. */
  async aliasHistory(model: string): Promise<AliasLogEntry[]> {
    return (await this.readLog(model)).entries;
  }

  /** The log's entries, the byte length of its complete lines, and whether a torn line follows them. */
  private async readLog(model: string): Promise<{ entries: AliasLogEntry[]; completeBytes: number; torn: boolean }> {
    const bytes = await readFile(this.historyFile(model)).catch(() => Buffer.alloc(0));
    const completeBytes = bytes.lastIndexOf(0x0a) + 1; // after the last newline: a write that never finished
    const entries = bytes
      .subarray(0, completeBytes)
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as AliasLogEntry);
    return { entries, completeBytes, torn: completeBytes < bytes.length };
  }

  /** Append one line to the log as read, first cutting off a line a crash left unfinished. */
  private async appendLog(model: string, entry: AliasLogEntry, read: { completeBytes: number; torn: boolean }): Promise<void> {
    const file = this.historyFile(model);
    await mkdir(path.dirname(file), { recursive: true });
    // A torn line was never a move (its move is retried in full): it goes.
    if (read.torn) await truncate(file, read.completeBytes);
    // On disk before the alias file moves: after a power loss the log is never behind it.
    const handle = await open(file, 'a');
    try {
      await handle.appendFile(`${JSON.stringify(entry)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private historyFile(model: string): string {
    return path.join(this.modelDir(model), 'aliases', 'history.jsonl');
  }

  /** Add or replace (same run) an evaluation on a version's card; the rest of the card is unchanged. */
  recordEvaluation(model: string, version: number, record: EvaluationRecord): Promise<ModelCard> {
    return this.exclusive(model, async () => {
      const card = await this.readCard(model, version);
      const others = (card.evaluations ?? []).filter((e) => e.runId !== record.runId || e.workflowId !== record.workflowId);
      const updated: ModelCard = { ...card, evaluations: [...others, record] };
      await replaceDurably(path.join(this.versionDir(model, version), CARD_FILE), JSON.stringify(updated, null, 2));
      return updated;
    });
  }

  private aliasFile(model: string, alias: string): string {
    return path.join(this.modelDir(model), 'aliases', `${alias}.json`);
  }
}
