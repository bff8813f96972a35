// The API process: Hono on Node's HTTP server, GET /predict answered ahead of it (api/server.ts). Configuration from the environment (api/config.ts):
// PORT (3000), HOST (127.0.0.1), tokens (MLOPS_API_TOKENS_FILE or MLOPS_API_TOKENS), limits and
// micro-batching; Temporal from TEMPORAL_ADDRESS.
import { Client, Connection } from '@temporalio/client';
import { ensureStateDir, resolvePaths, temporalSettings } from '../core/config.js';
import { errorMessage, TemporalUnavailableError } from '../core/errors.js';
import { loadAllSpecs, type ModelSpec } from '../core/spec.js';
import { createApp } from './app.js';
import { apiConfigFromEnv } from './config.js';
import { createLogger } from './log.js';
import { ApiMetrics, predictorMetrics } from './metrics.js';
import { Predictor } from './predictor.js';
import { startApiServer } from './server.js';

async function main(): Promise<void> {
  const log = createLogger();
  const config = apiConfigFromEnv();
  if (!config.auth.enabled) log.warn('auth_disabled', { message: 'MLOPS_AUTH=off: every route is open to anyone who can reach this port' });
  const paths = resolvePaths();
  ensureStateDir(paths);
  const temporal = temporalSettings();
  const metrics = new ApiMetrics();
  const { follow, ...measured } = predictorMetrics(metrics);
  const predictor = await Predictor.create(
    paths,
    {
      log: (event, fields) => (event === 'model_load_failed' || event === 'feature_snapshot_load_failed' ? log.error(event, fields) : log.info(event, fields)),
      ...measured,
    },
    config.batching,
  );
  follow(predictor);
  // The specs known at start-up are documented; a spec added later is served all the same.
  const specs: ModelSpec[] = [];
  for (const { name, spec, error } of await loadAllSpecs(paths)) {
    if (spec) specs.push(spec);
    else log.error('spec_invalid', { model: name, error });
  }
  let client: Promise<Client> | undefined;
  const getClient = () => {
    client ??= Connection.connect({ address: temporal.address, connectTimeout: 3_000 }).then(
      (connection) => new Client({ connection, namespace: temporal.namespace }),
      (err: unknown) => {
        throw new TemporalUnavailableError(temporal.address, errorMessage(err));
      },
    );
    client.catch(() => (client = undefined)); // try again on the next request
    return client;
  };
  const app = createApp({ paths, temporal, client: getClient, predictor, auth: config.auth, limits: config.limits, specs, metrics, log });
  const server = startApiServer(app, { predictor, limits: config.limits, metrics, auth: config.auth, log }, config.port, config.host, (info) => {
    log.info('api_listening', { url: `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${info.port}`, batching: config.batching, limits: config.limits });
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    const why = err.code === 'EADDRINUSE' ? 'another process is listening there' : err.code === 'ENOTFOUND' || err.code === 'EADDRNOTAVAIL' ? 'no such address on this machine' : err.message;
    console.error(`api failed: cannot listen on HOST=${config.host} PORT=${config.port}: ${why}`);
    process.exit(1);
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
  console.error(`api failed: ${errorMessage(err)}`);
  process.exit(1);
});
