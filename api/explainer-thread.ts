// The explainer: TreeSHAP (ml/gbdt/shap.ts) for the rows of /predict?explain=true, in a thread
// of its own, so a request that asks for explanations (a few ms a row) never holds the event
// loop that answers plain predictions, nor the scoring threads' queue.
//
// Messages in: load a version's trees (the registry's trees.json bytes), explain rows (the
// features the model saw, as /predict answers them), unload a version. Every message gets
// exactly one answer with its id.
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../core/errors.js';
import { decodeModel, type GbdtModel } from '../ml/gbdt/model.js';
import { explain } from '../ml/gbdt/shap.js';
import type { Column, ColumnTable } from '../ml/table.js';

export type FeatureRow = Readonly<Record<string, string | number | null>>;

export type ExplainerRequest =
  | { readonly id: number; readonly type: 'load'; readonly key: string; readonly trees: Uint8Array }
  | { readonly id: number; readonly type: 'unload'; readonly key: string }
  | { readonly id: number; readonly type: 'explain'; readonly key: string; readonly rows: readonly FeatureRow[] };

export type ExplainerReply =
  | {
      readonly id: number;
      readonly ok: true;
      /** explain: row-major [rows x outputs x features], features in `features` order. */
      readonly contributions?: Float64Array;
      readonly expected?: Float64Array;
      readonly features?: readonly string[];
    }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** The rows as the model's input table: numbers as float32 (null: NaN), strings coded over the values present (null: missing). */
export function tableOf(model: GbdtModel, rows: readonly FeatureRow[]): ColumnTable {
  const columns = model.features.map((mapper): Column => {
    if (mapper.kind === 'numeric') {
      return { name: mapper.feature, kind: 'numeric', values: Float32Array.from(rows, (r) => (typeof r[mapper.feature] === 'number' ? (r[mapper.feature] as number) : NaN)) };
    }
    const dictionary: string[] = [];
    const codeOf = new Map<string, number>();
    const codes = Int32Array.from(rows, (r) => {
      const v = r[mapper.feature];
      if (v === null || v === undefined) return -1;
      const s = String(v);
      let code = codeOf.get(s);
      if (code === undefined) codeOf.set(s, (code = dictionary.push(s) - 1));
      return code;
    });
    return { name: mapper.feature, kind: 'categorical', codes, dictionary };
  });
  return { rows: rows.length, columns };
}

const models = new Map<string, GbdtModel>();

function handle(request: ExplainerRequest): ExplainerReply {
  switch (request.type) {
    case 'load':
      models.set(request.key, decodeModel(new TextDecoder().decode(request.trees)));
      return { id: request.id, ok: true };
    case 'unload':
      models.delete(request.key);
      return { id: request.id, ok: true };
    case 'explain': {
      const model = models.get(request.key);
      if (!model) throw new Error(`${request.key} is not loaded in the explainer`);
      const e = explain(model, tableOf(model, request.rows));
      return { id: request.id, ok: true, contributions: e.contributions, expected: e.expected, features: model.features.map((f) => f.feature) };
    }
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (request: ExplainerRequest) => {
    let reply: ExplainerReply;
    try {
      reply = handle(request);
    } catch (err) {
      reply = { id: request.id, ok: false, error: errorMessage(err) };
    }
    port.postMessage(reply, reply.ok && reply.contributions ? [reply.contributions.buffer as ArrayBuffer] : []);
  });
}
