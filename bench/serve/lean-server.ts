// The leanest server on the path issue 6 prescribes for GET /predict: requests gathered into
// micro-batches, each batch through one feature SQL query in DuckDB and one onnxruntime call,
// all in one thread (the project's own scorer, api/predictor-thread.ts createScorer). Nothing
// else: no auth, validation, request id, security headers, metrics or log, and the smallest
// answer ({"probability": p}). Nothing is left to trim but Node's HTTP and those two calls, so
// what it answers per second is close to the most a Node server of this model that keeps the
// feature SQL reaches on this machine; the bench sets it beside 5x FastAPI.
//
//   MLOPS_STATE_DIR=.state npx tsx bench/serve/lean-server.ts [model] [port]   (or PORT)
//
// Listens on 127.0.0.1 (HOST to change). A request's missing field is sent as '' and fails
// the whole batch's cast: feed it the bench's URLs only.
import http from 'node:http';
import { createScorer, type PredictorRequest, type WithoutId } from '../../api/predictor-thread.js';
import { resolvePaths } from '../../core/config.js';
import { errorMessage } from '../../core/errors.js';
import { featureColumns, featureQuery, requestParameters, requestSource } from '../../core/features.js';
import { CHAMPION, openRegistry } from '../../storage/registry.js';
import { loadSpec, requestColumns } from '../../core/spec.js';
import { ModelViews, snapshotSource } from '../../api/served-views.js';
import { openFeatureStore } from '../../storage/feature-store.js';

/** The project's defaults (api/predictor.ts DEFAULT_BATCHING): 48 rows, 1 ms, 2 batches in flight. */
const MAX_BATCH_ROWS = 48;
const MAX_WAIT_MS = 1;
const MAX_IN_FLIGHT = 2;

interface Waiting {
  readonly row: string[];
  readonly res: http.ServerResponse;
}

async function main(): Promise<void> {
  const model = process.argv[2] ?? 'flight_delay';
  const port = Number(process.argv[3] ?? process.env.PORT ?? 3101);
  const host = process.env.HOST ?? '127.0.0.1';
  const paths = resolvePaths();
  const loaded = await loadSpec(paths, model);
  const columns = requestColumns(loaded.spec).map((c) => c.name);
  const registry = openRegistry(paths);
  const champion = await registry.getAlias(model, CHAMPION);
  if (!champion) throw new Error(`${model} has no champion in ${paths.registryDir}: run npm start once`);
  const card = await registry.readCard(model, champion.version);

  const scorer = await createScorer();
  let nextId = 1;
  const ask = async (m: WithoutId<PredictorRequest>) => {
    const reply = await scorer.score({ ...m, id: nextId++ });
    if (!reply.ok) throw new Error(reply.error);
    return reply;
  };
  // A model with feature views reads their current snapshots as the API does: loaded as tables, small ones looked up as MAP constants.
  const store = openFeatureStore(paths);
  const modelViews = loaded.spec.features.views.length ? new ModelViews(loaded, store) : undefined;
  const change = await modelViews?.changes();
  if (modelViews && !change) throw new Error(`${model}'s feature views have no snapshot: materialize them first (npm start does)`);
  const served = modelViews && change ? await modelViews.loadTables(change, ask) : undefined;
  const sql = featureQuery(loaded, requestSource(loaded.spec), false, served ? snapshotSource(served) : undefined);
  await ask({ type: 'prepare', model, sql, features: featureColumns(loaded.spec), statements: MAX_IN_FLIGHT });
  await ask({ type: 'load', model, version: card.version, file: await registry.modelFile(model, card.version), threads: 1 });

  let waiting: Waiting[] = [];
  let running = 0;
  let timer: NodeJS.Timeout | undefined;

  function answer(res: http.ServerResponse, status: number, body: string): void {
    res.writeHead(status, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))]);
    res.end(body);
  }

  function runBatches(): void {
    while (running < MAX_IN_FLIGHT && waiting.length) {
      const batch = waiting.slice(0, MAX_BATCH_ROWS);
      waiting = waiting.slice(batch.length);
      running++;
      const parameters = requestParameters(batch.map((w) => w.row), columns.length);
      ask({ type: 'predict', model, version: card.version, output: card.output, parameters })
        .then(
          (reply) => batch.forEach((w, i) => answer(w.res, 200, `{"probability":${reply.output![i]}}`)),
          (err: unknown) => batch.forEach((w) => answer(w.res, 500, JSON.stringify({ error: errorMessage(err) }))),
        )
        .finally(() => {
          running--;
          runBatches();
        });
    }
  }

  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
    waiting.push({ row: columns.map((c) => query.get(c) ?? ''), res });
    // As the project's predictor: a lone request goes at once, others gather for at most the wait.
    if (running === 0 || waiting.length >= MAX_BATCH_ROWS) runBatches();
    else
      timer ??= setTimeout(() => {
        timer = undefined;
        runBatches();
      }, MAX_WAIT_MS);
  });
  server.listen(port, host, () => console.log(JSON.stringify({ event: 'lean_listening', url: `http://${host}:${port}`, model, version: card.version })));
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error('lean-server failed:', err);
  process.exit(1);
});
