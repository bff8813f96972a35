// The ceiling of any Node HTTP server on this machine: node:http answering every request with
// the same small JSON body, no model, no parsing, nothing. Whatever a Node server of the
// flights model does per request comes on top of this; if the target rate is above
// what this answers, no Node server can reach it here.
//
//   npx tsx bench/serve/http-ceiling-server.ts [port]     (or PORT; HOST, default 127.0.0.1)
import http from 'node:http';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3101);
const host = process.env.HOST ?? '127.0.0.1';
// The length of a real answer ({"probability": p} with a float32's digits).
const body = JSON.stringify({ probability: 0.30083391070365906 });
const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };

http
  .createServer((_req, res) => {
    res.writeHead(200, headers);
    res.end(body);
  })
  .listen(port, host, () => console.log(JSON.stringify({ event: 'http_ceiling_listening', url: `http://${host}:${port}` })));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
