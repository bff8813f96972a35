// The typed client (client/): its checked-in document and types are what this checkout's API
// serves (CI fails when a route changed and `npm run client:generate` was not run), and it
// speaks to the API as generated: typed answers, the API's errors as ApiError.
import { describe, expect, it } from 'vitest';
import { ApiError, createMlopsClient, data } from '../client/index.js';
import { servedDocument, staleFiles } from '../client/generate.js';
import { TemporalUnavailableError } from '../core/errors.js';
import { testApi, testPaths, TEST_TOKENS } from './helpers.js';

describe('typed client', () => {
  it('matches the document the API serves', async () => {
    expect(await staleFiles(await servedDocument()), 'run npm run client:generate and commit client/').toEqual([]);
  }, 120_000);

  it('reads typed answers and throws the API’s errors as ApiError', async () => {
    const api = await testApi(await testPaths(), async () => {
      throw new TemporalUnavailableError('127.0.0.1:1', 'connection refused');
    }, { address: '127.0.0.1:1', namespace: 'default', taskQueue: 'unused', uiUrl: 'http://localhost:8233' });
    try {
      const fetch = (request: Request) => Promise.resolve(api.app.request(request));
      const client = createMlopsClient('http://api.test/', { token: TEST_TOKENS.predict, fetch });
      const { models } = await data(client.GET('/models'));
      expect(models.map((m) => m.name)).toContain('flight_delay');
      expect(models.find((m) => m.name === 'flight_delay')).toMatchObject({ task: 'binary', champion: null, versions: 0 });

      const unknown = await data(client.GET('/models/{name}', { params: { path: { name: 'no_such_model' } } })).catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(ApiError);
      expect(unknown).toMatchObject({ status: 404, type: 'UnknownModelError' });

      const invalid = await data(client.POST('/predict', { body: { model: 'flight_delay', rows: [{ date: 'soon', distance: '1', origin: 'ORD', destination: 'LAX' }] } })).catch((e: unknown) => e);
      expect(invalid).toMatchObject({ status: 400, type: 'InvalidRequestError', fields: [{ field: 'rows.0.date' }] });

      const anonymous = createMlopsClient('http://api.test', { fetch });
      expect(await data(anonymous.GET('/models')).catch((e: unknown) => e)).toMatchObject({ status: 401 });
      const predictOnly = await data(client.POST('/workflows/train', { body: { model: 'flight_delay' } })).catch((e: unknown) => e);
      expect(predictOnly).toMatchObject({ status: 403 });
    } finally {
      api.close();
    }
  });
});
