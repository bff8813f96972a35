// The model registry: a folder, embedded, no server.
//
//   <root>/<model>/versions/<n>/model.onnx    immutable once the folder exists
//   <root>/<model>/versions/<n>/card.json     what it is, how it was made, how it scored
//   <root>/<model>/aliases/<alias>.json       which version holds the alias (champion, ...)
//   <root>/<model>/aliases/history.jsonl      every alias move, appended
//
// A version is written in full under a dot-folder and then renamed to its number: readers
// see all of it or none of it. Alias files are written to a temporary name and renamed over
// the old one, so they are never half-written. Registration is idempotent per run key.
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Metrics, Task } from '../ml/metrics.js';
import { UnknownVersionError } from './errors.js';
import { isValidName, sha256 } from './spec.js';

export const MODEL_FILE = 'model.onnx';
export const CARD_FILE = 'card.json';
/** The alias that production serves. */
export const CHAMPION = 'champion';

export interface GateCheck {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
}

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
    readonly trainRows: number;
  };
  readonly onnx: {
    readonly sha256: string;
    readonly bytes: number;
    readonly parity: { readonly rows: number; readonly maxAbsDiff: number; readonly labelMismatches: number };
  };
  readonly gate: { readonly passed: boolean; readonly checks: readonly GateCheck[] };
  readonly lineage: {
    readonly dataset: {
      readonly name: string;
      readonly snapshotHash: string;
      readonly trainPartitions: readonly string[];
      readonly validationPartitions?: readonly string[];
      readonly holdoutPartitions: readonly string[];
      readonly rows: number;
    };
    readonly featureSql: { readonly file: string; readonly sha256: string };
    readonly specSha256: string;
    readonly codeVersion: string;
    readonly workflowId: string;
    readonly runId: string;
  };
}

export type CardDraft = Omit<ModelCard, 'version' | 'createdAt' | 'onnx'> & {
  readonly onnx: Omit<ModelCard['onnx'], 'sha256' | 'bytes'>;
};

export interface AliasRecord {
  readonly model: string;
  readonly alias: string;
  readonly version: number;
  readonly previousVersion: number | null;
  readonly updatedAt: string;
  readonly actor: string;
  readonly reason: string;
  readonly workflowId: string | null;
}

export interface AliasMove {
  readonly actor: string;
  readonly reason: string;
  readonly workflowId?: string | null;
}

export class Registry {
  constructor(readonly root: string) {}

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

  async getAlias(model: string, alias: string): Promise<AliasRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.aliasFile(model, alias), 'utf8')) as AliasRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Point `alias` at `version`: write a new file and rename it over the old one, then log the move. */
  async setAlias(model: string, alias: string, version: number, move: AliasMove): Promise<AliasRecord> {
    if (!isValidName(alias)) throw new Error(`invalid alias name '${alias}'`);
    await this.readCard(model, version); // the version must exist
    const current = await this.getAlias(model, alias);
    if (current && current.version === version && current.workflowId === (move.workflowId ?? null)) return current;
    const record: AliasRecord = {
      model,
      alias,
      version,
      previousVersion: current?.version ?? null,
      updatedAt: new Date().toISOString(),
      actor: move.actor,
      reason: move.reason,
      workflowId: move.workflowId ?? null,
    };
    const file = this.aliasFile(model, alias);
    await mkdir(path.dirname(file), { recursive: true });
    const temp = path.join(path.dirname(file), `.${alias}.${randomUUID()}.tmp`);
    await writeFile(temp, JSON.stringify(record, null, 2));
    await rename(temp, file);
    await appendFile(path.join(path.dirname(file), 'history.jsonl'), `${JSON.stringify(record)}\n`);
    return record;
  }

  async aliasHistory(model: string): Promise<AliasRecord[]> {
    const text = await readFile(path.join(this.modelDir(model), 'aliases', 'history.jsonl'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as AliasRecord);
  }

  private aliasFile(model: string, alias: string): string {
    return path.join(this.modelDir(model), 'aliases', `${alias}.json`);
  }
}
