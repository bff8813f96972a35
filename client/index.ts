// The typed client for TypeScript callers: openapi-fetch over the types generated from the API's
// /openapi.json (client/schema.d.ts), a bearer token on every request, and the API's error body
// as a typed ApiError. Every route, parameter and answer is typed by the document:
//
//   const api = createMlopsClient('http://localhost:3000', { token: process.env.MLOPS_TOKEN });
//   const models = await data(api.GET('/models'));
//   const run = await data(api.POST('/workflows/train', { body: { model: 'my_model' } }));
import createFetchClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths } from './schema.js';
export type Schemas = components['schemas'];
export type MlopsClient = Client<paths>;

export interface ClientOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  /** Another fetch (tests, proxies); globalThis.fetch when left out. */
  readonly fetch?: (request: Request) => Promise<Response>;
}

export function createMlopsClient(baseUrl: string, options: ClientOptions = {}): MlopsClient {
  return createFetchClient<paths>({
    baseUrl: baseUrl.replace(/\/+$/, ''),
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/** An answer other than 2xx, as the API words it: {error: {type, message, fields?, requestId}}. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    /** The API's error type (e.g. InvalidRequestError, UnknownModelError), or HTTP<status> for a body without one. */
    readonly type: string,
    message: string,
    readonly fields: readonly { readonly field: string; readonly problem: string }[] = [],
    readonly requestId?: string,
  ) {
    super(message);
  }
}

interface ErrorShape {
  readonly error?: { readonly type?: string; readonly message?: string; readonly fields?: { field: string; problem: string }[]; readonly requestId?: string };
}

/** The data of an openapi-fetch answer, or its error thrown as an ApiError. */
export async function data<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data: body, error, response } = await call;
  if (response.ok) return body as T;
  const e = (error as ErrorShape | undefined)?.error;
  throw new ApiError(response.status, e?.type ?? `HTTP${response.status}`, e?.message ?? (typeof error === 'string' && error ? error : response.statusText), e?.fields ?? [], e?.requestId);
}
