// Explanations for /predict?explain=true: each feature's TreeSHAP contribution to the row's raw
// score (log-odds, per-class scores before softmax, or the predicted value), computed from the
// version's own trees in the explainer thread (api/explainer-thread.ts). Plain predictions never
// come here: a request asks for explanations after its prediction is made, with the features
// the model saw and the version that answered.
import type { Worker } from 'node:worker_threads';
import { ExplanationUnavailableError } from '../core/errors.js';
import type { Registry, ModelCard } from '../storage/registry.js';
import { siblingModule, startThread } from '../ml/threads.js';
import { modelTask, type TaskKind } from '../tasks/index.js';
import type { ExplainerReply, ExplainerRequest, FeatureRow } from './explainer-thread.js';

const threadFile = siblingModule(import.meta.url, 'explainer-thread');

/** Versions whose trees the explainer thread keeps at once (a champion, its successor, a few more). */
const MAX_LOADED = 4;

/** How a row's raw score becomes its answer. */
export type Link = TaskKind['link'];

/** One output's value (binary, regression), or one per class (multiclass). */
export type PerOutput = number | Readonly<Record<string, number>>;

export interface RowExplanation {
  readonly link: Link;
  /** The raw score with no feature known: the training rows' average. */
  readonly expected: PerOutput;
  /** expected + every contribution: the row's raw score. */
  readonly raw: PerOutput;
  /** Each feature, the value the model saw, and what it moved the raw score by; largest first. */
  readonly contributions: readonly { readonly feature: string; readonly value: string | number | null; readonly contribution: PerOutput }[];
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export class Explainer {
  private thread: Worker | undefined;
  private readonly pending = new Map<number, { resolve(reply: ExplainerReply): void; reject(err: unknown): void }>();
  /** Versions loaded (or loading) in the thread, oldest first. */
  private readonly loaded = new Map<string, Promise<void>>();
  private nextId = 1;

  constructor(private readonly registry: Registry) {}

  /** The contributions of each row (the features it was answered with) to `card`'s raw score. */
  async explain(card: ModelCard, rows: readonly { readonly features: FeatureRow }[]): Promise<RowExplanation[]> {
    const key = `${card.model} v${card.version} ${card.trees?.sha256 ?? ''}`;
    await this.load(key, card);
    const reply = await this.ask({ type: 'explain', key, rows: rows.map((r) => r.features) });
    const { contributions, expected, features } = reply as Required<Extract<ExplainerReply, { ok: true }>>;
    const { link } = modelTask(card).kind;
    const classes = link === 'softmax' ? (card.classes ?? []) : undefined;
    const K = expected.length;
    const F = features.length;
    const perOutput = (at: (k: number) => number): PerOutput => (classes ? Object.fromEntries(classes.map((c, k) => [c, at(k)])) : at(0));
    return rows.map((row, r) => {
      const phi = (k: number, f: number) => contributions[(r * K + k) * F + f]!;
      const raw = (k: number) => features.reduce((sum, _, f) => sum + phi(k, f), expected[k]!);
      const size = (f: number) => Math.max(...Array.from({ length: K }, (_, k) => Math.abs(phi(k, f))));
      const order = features.map((_, f) => f).sort((a, b) => size(b) - size(a));
      return {
        link,
        expected: perOutput((k) => expected[k]!),
        raw: perOutput(raw),
        contributions: order.map((f) => ({ feature: features[f]!, value: row.features[features[f]!] ?? null, contribution: perOutput((k) => phi(k, f)) })),
      };
    });
  }

  close(): void {
    void this.thread?.terminate();
    this.thread = undefined;
  }

  /** The version's trees in the thread, read from the registry (checked against the card) once. */
  private load(key: string, card: ModelCard): Promise<void> {
    let loading = this.loaded.get(key);
    if (!loading) {
      loading = (async () => {
        const trees = await this.registry.readVerifiedTrees(card);
        if (!trees) throw new ExplanationUnavailableError(card.model, card.version);
        await this.ask({ type: 'load', key, trees });
      })();
      this.loaded.set(key, loading);
      loading.catch(() => this.loaded.delete(key));
      for (const old of [...this.loaded.keys()].slice(0, Math.max(0, this.loaded.size - MAX_LOADED))) {
        this.loaded.delete(old);
        this.ask({ type: 'unload', key: old }).catch(() => undefined);
      }
    }
    return loading;
  }

  private ask(request: WithoutId<ExplainerRequest>): Promise<ExplainerReply> {
    const id = this.nextId++;
    return new Promise<ExplainerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.threadNow().postMessage({ ...request, id });
    }).then((reply) => {
      if (!reply.ok) throw new Error(`explainer: ${reply.error}`);
      return reply;
    });
  }

  /** The thread, started on first use; should it stop, what it held is loaded again on the next request. */
  private threadNow(): Worker {
    if (this.thread) return this.thread;
    const thread = startThread(threadFile, null);
    thread.unref();
    thread.on('message', (reply: ExplainerReply) => {
      const call = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      call?.resolve(reply);
    });
    thread.on('exit', (code) => {
      if (this.thread === thread) this.thread = undefined;
      this.loaded.clear();
      for (const [id, call] of this.pending) {
        this.pending.delete(id);
        call.reject(new Error(`the explainer thread stopped (exit code ${code})`));
      }
    });
    this.thread = thread;
    return thread;
  }
}
