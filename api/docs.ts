// The API's documentation: the OpenAPI 3.1 document generated from the routes' zod schemas at
// /openapi.json, and Swagger UI at /docs, served from the swagger-ui-dist package so it works
// offline (nothing is fetched from a CDN).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PROJECT_ROOT } from '../core/config.js';
import { loadAllSpecs } from '../core/spec.js';
import type { Api, AppDeps } from './app.js';

/** The only files served from swagger-ui-dist, with their content types. */
const ASSETS = new Map([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
  ['swagger-ui-standalone-preset.js', 'text/javascript; charset=utf-8'],
]);

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tabular-mlops API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

// validatorUrl 'none': Swagger UI would otherwise load a badge from validator.swagger.io.
const INIT = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    persistAuthorization: true,
    validatorUrl: 'none',
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: 'StandaloneLayout'
  });
};
`;

const DOCS_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'";

const DOCUMENT: Parameters<Api['getOpenAPI31Document']>[0] = {
    openapi: '3.1.0',
    info: {
      title: 'tabular-mlops API',
      version: '1',
      description:
        'Train, promote, batch-score and monitor tabular models on Temporal; predictions from the promoted ONNX model. ' +
        'Errors are {"error": {"type", "message", "fields"?, "requestId"}}. Send `Authorization: Bearer <token>`: ' +
        "a 'predict' token reads and predicts, an 'admin' token does everything.",
    },
    tags: [
      { name: 'predictions', description: 'From the champion, micro-batched' },
      { name: 'models', description: 'Registry, aliases, promotion' },
      { name: 'workflows', description: 'Start and follow runs' },
      { name: 'monitoring', description: 'Drift reports' },
      { name: 'schedules', description: 'Weekly train, batch and monitor' },
      { name: 'datasets', description: 'Ingest raw files into the lake' },
      { name: 'operations', description: 'Health, readiness, metrics' },
    ],
  };

/** Swagger UI and /openapi.json; `rebuild` makes the app anew for the current specs (api/app.ts createApp). */
export function registerDocs(app: Api, deps: AppDeps, rebuild: (deps: AppDeps) => Api): void {
  const dist = path.dirname(createRequire(path.join(PROJECT_ROOT, 'package.json')).resolve('swagger-ui-dist/package.json'));
  const cache = new Map<string, Promise<string>>();
  const asset = (name: string) => {
    let text = cache.get(name);
    if (!text) cache.set(name, (text = readFile(path.join(dist, name), 'utf8')));
    return text;
  };

  // The document describes the specs as they are now: a spec added, edited or removed while the
  // API runs is documented at once (the app is rebuilt for the document when the specs changed).
  let cached: { key: string; doc: unknown } | undefined;
  app.get('/openapi.json', async (c) => {
    const specs = (await loadAllSpecs(deps.paths)).flatMap((s) => (s.spec ? [s.spec] : []));
    const key = JSON.stringify(specs);
    if (cached?.key !== key) cached = { key, doc: rebuild({ ...deps, specs }).getOpenAPI31Document(DOCUMENT) };
    return c.json(cached.doc);
  });
  app.get('/docs', (c) => c.html(PAGE, 200, { 'content-security-policy': DOCS_CSP }));
  app.get('/docs/', (c) => c.redirect('/docs', 301)); // a typed URL often ends with a slash
  app.get('/docs/init.js', (c) => c.body(INIT, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/docs/assets/:file', async (c) => {
    const file = c.req.param('file');
    const type = ASSETS.get(file);
    if (!type) return c.json({ error: { type: 'NotFound', message: `no documentation asset '${file.slice(0, 64)}'` } }, 404);
    return c.body(await asset(file), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
  });
}
