// The API process: Hono on Node's HTTP server. PORT (default 3000), HOST (default 127.0.0.1).
import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { resolvePaths, temporalSettings } from '../core/config.js';
import { TemporalUnavailableError } from '../core/errors.js';
import { createApp } from './app.js';
import { Predictor } from './predictor.js';

async function main(): Promise<void> {
  const paths = resolvePaths();
  const temporal = temporalSettings();
  const log = (event: string, fields: Record<string, unknown>) =>
    console.log(JSON.stringify({ time: new Date().toISOString(), level: 'info', event, ...fields }));
  const predictor = await Predictor.create(paths, log);
  let client: Promise<Client> | undefined;
  const getClient = () => {
    client ??= Connection.connect({ address: temporal.address, connectTimeout: 3_000 }).then(
      (connection) => new Client({ connection, namespace: temporal.namespace }),
      (err: unknown) => {
        throw new TemporalUnavailableError(temporal.address, err instanceof Error ? err.message : String(err));
      },
    );
    client.catch(() => (client = undefined)); // try again on the next request
    return client;
  };
  const app = createApp({ paths, temporal, client: getClient, predictor });
  const port = Number(process.env.PORT ?? 3000);
  const hostname = process.env.HOST ?? '127.0.0.1';
  const server = serve({ fetch: app.fetch, port, hostname }, (info) => {
    log('api_listening', { url: `http://${hostname === '0.0.0.0' ? 'localhost' : hostname}:${info.port}` });
  });
  const shutdown = () => {
    server.close(() => {
      predictor.close();
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 5_000).unref();
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  console.error('api failed:', err);
  process.exit(1);
});
