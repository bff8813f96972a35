// The ceiling for serving one row from Node: a bare node:http server that does nothing per
// request but run the same onnxruntime session on one input built before it listens. No
// routing, no query parsing, no validation, no features: what is left is Node's HTTP stack
// plus session.run(), the cost any Node server answering with this model pays at least.
//
//   npx tsx bench/serve/bare-ort-server.ts <model.onnx> [port]     (or MODEL_FILE, PORT)
//
// Listens on 127.0.0.1 (HOST to change); every request, whatever its path, gets
// {"probability": p} for the one pre-built row.
import http from 'node:http';
import * as ort from 'onnxruntime-node';

/** One real flight (the example: ORD to LAX, Monday 19 March 2001, 17:45) as the
 * model's features, exactly as sql/features/flights.sql computes them. */
const ROW = {
  hour: '17',
  day_of_week: '1',
  distance: 1846,
  origin: 'ORD',
  destination: 'LAX',
  route: 'ORD-LAX',
} as const;

/** The graph's inputs for ROW: strings as [1,1] string tensors, numbers as [1,1] float32. */
function buildFeeds(): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, value] of Object.entries(ROW)) {
    feeds[name] =
      typeof value === 'number' ? new ort.Tensor('float32', Float32Array.of(value), [1, 1]) : new ort.Tensor('string', [value], [1, 1]);
  }
  return feeds;
}

async function main(): Promise<void> {
  const modelFile = process.argv[2] ?? process.env.MODEL_FILE;
  if (!modelFile) throw new Error('usage: bare-ort-server.ts <model.onnx> [port]  (or MODEL_FILE and PORT)');
  const port = Number(process.argv[3] ?? process.env.PORT ?? 3100);
  const host = process.env.HOST ?? '127.0.0.1';
  // The same session options as this project's API (core/inference.ts loadSession): one
  // intra-op and one inter-op thread, so the comparison is of everything around run().
  const session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feeds = buildFeeds();
  const output = session.outputNames[0]!;
  await session.run(feeds); // first run allocates; keep it out of the measurements

  const server = http.createServer((_req, res) => {
    session.run(feeds).then(
      (out) => {
        const body = JSON.stringify({ probability: (out[output]!.data as Float32Array)[0] });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(err instanceof Error ? err.message : String(err));
      },
    );
  });
  server.listen(port, host, () => console.log(JSON.stringify({ event: 'bare_ort_listening', url: `http://${host}:${port}`, model: modelFile })));
  // Nothing to flush: stop at once, whatever keep-alive connections are open.
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error('bare-ort-server failed:', err);
  process.exit(1);
});
