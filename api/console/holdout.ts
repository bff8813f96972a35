// Versions scored on one version's holdout rows, for the console's version and compare pages:
// each version's metrics and diagnostics (curves, reliability, confusion or residuals) on the
// same rows, and the paired-bootstrap interval of each metric's difference. The rows are read as
// the evaluation reads them (storage/holdout.ts) and scored with the registered ONNX files. A
// result is kept for the few pages looked at last; the first look at a pair costs a holdout read.
import type { Paths } from '../../core/config.js';
import { scoreInBatches } from '../../core/inference.js';
import { gatherRows, pairedBootstrap, type PairedInterval } from '../../ml/bootstrap.js';
import type { Diagnostics } from '../../ml/curves.js';
import { metricValue, type Metrics } from '../../ml/metrics.js';
import { openVersionSession, readHoldout } from '../../storage/holdout.js';
import { openRegistry, type ModelCard } from '../../storage/registry.js';
import { modelTask, taskKind } from '../../tasks/index.js';

export interface ScoredVersion {
  readonly version: number;
  readonly metrics: Metrics;
  readonly diagnostics: Diagnostics;
}

export interface HoldoutComparison {
  /** The version whose holdout the rows are. */
  readonly holdoutOf: number;
  readonly partitions: readonly string[];
  readonly rows: number;
  readonly versions: readonly ScoredVersion[];
  /** For two versions: per metric, the first's minus the second's, with its 95% interval over resampled rows. */
  readonly deltas: readonly { readonly metric: string; readonly better: 'higher' | 'lower'; readonly interval: PairedInterval }[];
  /** Rows the intervals were resampled from (an even spread of the holdout when it is large). */
  readonly bootstrapRows: number;
}

/** Largest spread of rows the intervals resample: beyond it the interval is as narrow as it gets for the decision at hand. */
const BOOTSTRAP_ROWS = 20_000;
const KEEP = 8;
/** Rows per onnxruntime run: a page waits for the whole holdout, not for one row's latency. */
const SCORE_ROWS_PER_RUN = 4_096;

export class HoldoutScorer {
  private readonly cache = new Map<string, Promise<HoldoutComparison>>();
  constructor(private readonly paths: Paths) {}

  /** `versions` (one or two) scored on `holdoutOf`'s holdout. */
  compare(model: string, holdoutOf: number, versions: readonly number[]): Promise<HoldoutComparison> {
    const key = `${model}\u0000${holdoutOf}\u0000${versions.join(',')}`;
    let result = this.cache.get(key);
    if (result) {
      this.cache.delete(key);
      this.cache.set(key, result); // most recently used last
      return result;
    }
    result = this.score(model, holdoutOf, versions);
    this.cache.set(key, result);
    result.catch(() => this.cache.delete(key)); // a failure is tried again next time
    while (this.cache.size > KEEP) this.cache.delete(this.cache.keys().next().value!);
    return result;
  }

  private async score(model: string, holdoutOf: number, versions: readonly number[]): Promise<HoldoutComparison> {
    const registry = openRegistry(this.paths);
    const owner = await registry.readCard(model, holdoutOf);
    const cards: ModelCard[] = [];
    for (const v of versions) cards.push(v === holdoutOf ? owner : await registry.readCard(model, v));
    const { partitions, table } = await readHoldout(this.paths, owner);
    const task = modelTask(owner);
    const baseline = owner.metrics.baseline;
    const outputs: Float64Array[] = [];
    for (const card of cards) {
      const session = await openVersionSession(this.paths, card);
      try {
        outputs.push(await scoreInBatches(session, table.features, card.output, modelTask(card).width, undefined, SCORE_ROWS_PER_RUN));
      } finally {
        await session.release();
      }
    }
    const scored = cards.map((card, i) => {
      const t = modelTask(card);
      return { version: card.version, metrics: t.evaluate(table.labels, outputs[i]!, baseline), diagnostics: t.diagnostics(table.labels, outputs[i]!) };
    });
    const deltas: HoldoutComparison['deltas'][number][] = [];
    const rows = table.features.rows;
    const step = Math.max(1, rows / BOOTSTRAP_ROWS);
    const spread = Uint32Array.from({ length: Math.min(rows, BOOTSTRAP_ROWS) }, (_, k) => Math.floor(k * step));
    if (cards.length === 2 && cards[0]!.task === cards[1]!.task) {
      const labels = gatherRows(table.labels, 1, spread);
      const [a, b] = outputs.map((o) => gatherRows(o, task.width, spread)) as [Float64Array, Float64Array];
      for (const [metric, better] of Object.entries(taskKind(owner.task).metrics)) {
        const interval = pairedBootstrap(
          spread.length,
          (which, index) => metricValue(task.evaluate(gatherRows(labels, 1, index), gatherRows(which === 0 ? a : b, task.width, index), baseline), metric),
          { seed: holdoutOf },
        );
        deltas.push({ metric, better, interval });
      }
    }
    return { holdoutOf, partitions, rows, versions: scored, deltas, bootstrapRows: spread.length };
  }
}
