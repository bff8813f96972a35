// Bearer tokens with two scopes: `predict` (ask for predictions, read the registry, reports and
// runs) and `admin` (everything, including train, evaluate, approve, rollback, batch, monitor and
// schedules). Tokens come from configuration and are compared in constant time: each presented
// token is hashed and compared with every configured token's hash, with no early exit.
import type { MiddlewareHandler } from 'hono';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage, ForbiddenError, UnauthenticatedError } from '../core/errors.js';

export const SCOPES = ['predict', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiToken {
  /** Who holds it: logged with every request made with it. */
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly sha256: Buffer;
}

export interface AuthConfig {
  /** False only when explicitly switched off (MLOPS_AUTH=off), for local experiments. */
  readonly enabled: boolean;
  readonly tokens: readonly ApiToken[];
  /** GET and POST /predict without a token (everything else still needs one). */
  readonly openPredict: boolean;
  /** Monitoring reports without a token, so a browser can open them. */
  readonly openReports: boolean;
}

/** A token in configuration must be long enough that guessing it is hopeless. */
const MIN_TOKEN_LENGTH = 16;

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function apiToken(name: string, token: string, scopes: readonly Scope[]): ApiToken {
  if (token.length < MIN_TOKEN_LENGTH) throw new Error(`API token '${name}' is shorter than ${MIN_TOKEN_LENGTH} characters`);
  return { name, scopes, sha256: digest(token) };
}

interface TokenEntry {
  readonly name: string;
  readonly token: string;
  readonly scopes: readonly Scope[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The entries of a tokens file ({"tokens": [{"name", "token", "scopes"}]}); any other shape names the file and the entry. */
function tokensInFile(file: string): TokenEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`MLOPS_API_TOKENS_FILE=${file}: ${errorMessage(err)}`);
  }
  const list = isRecord(parsed) ? parsed.tokens : undefined;
  if (!Array.isArray(list)) throw new Error(`${file}: must be {"tokens": [{"name", "token", "scopes"}]}`);
  return list.map((t: unknown, i) => {
    const scopes: unknown[] = isRecord(t) && Array.isArray(t.scopes) ? t.scopes : [];
    if (!isRecord(t) || typeof t.name !== 'string' || typeof t.token !== 'string' || scopes.length === 0 || !scopes.every((s) => SCOPES.includes(s as Scope))) {
      throw new Error(`${file}: tokens[${i}] needs a name, a token and scopes from ${SCOPES.join(', ')}`);
    }
    return { name: t.name, token: t.token, scopes: scopes as Scope[] };
  });
}

/**
 * Tokens from the environment: MLOPS_API_TOKENS_FILE (JSON: {"tokens": [{"name", "token",
 * "scopes": ["predict"|"admin"]}]}) and/or MLOPS_API_TOKENS ("scope:token,scope:token").
 */
export function authFromEnv(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  const openPredict = env.MLOPS_PUBLIC_PREDICT === 'true';
  const openReports = env.MLOPS_PUBLIC_REPORTS === 'true';
  if (env.MLOPS_AUTH === 'off') return { enabled: false, tokens: [], openPredict: true, openReports: true };
  const tokens: ApiToken[] = [];
  if (env.MLOPS_API_TOKENS_FILE) {
    for (const t of tokensInFile(env.MLOPS_API_TOKENS_FILE)) tokens.push(apiToken(t.name, t.token, t.scopes));
  }
  for (const [i, entry] of (env.MLOPS_API_TOKENS ?? '').split(',').filter(Boolean).entries()) {
    const [scope, token] = [entry.slice(0, entry.indexOf(':')), entry.slice(entry.indexOf(':') + 1)];
    if (!SCOPES.includes(scope as Scope) || !token) throw new Error(`MLOPS_API_TOKENS entry ${i + 1} must be scope:token with a scope from ${SCOPES.join(', ')}`);
    tokens.push(apiToken(`${scope}-${i + 1}`, token, [scope as Scope]));
  }
  if (tokens.length === 0) {
    throw new Error(
      'No API tokens are configured. Set MLOPS_API_TOKENS_FILE to a JSON file ({"tokens": [{"name": "ops", "token": "...", "scopes": ["admin"]}]}) ' +
        'or MLOPS_API_TOKENS=predict:<token>,admin:<token>; MLOPS_AUTH=off runs without authentication (local experiments only).',
    );
  }
  return { enabled: true, tokens, openPredict, openReports };
}

/** The configured token matching `presented`, checked against all of them in constant time. */
function match(config: AuthConfig, presented: string): ApiToken | undefined {
  const hash = digest(presented);
  let found: ApiToken | undefined;
  for (const t of config.tokens) if (timingSafeEqual(hash, t.sha256) && !found) found = t;
  return found;
}

export type AuthVariables = { principal: string };

/**
 * Who may do what `scope` allows, from the request's Authorization header (admin holds every
 * scope): the principal's name ('anonymous' when auth is off or the route is open and no token
 * came). No token or an unknown one throws UnauthenticatedError (401); a known token without
 * the scope ForbiddenError (403). `openWithoutToken` lets a request without any Authorization
 * header through (configured open reads).
 */
export function authorize(config: AuthConfig, header: string | undefined, scope: Scope, openWithoutToken = false): string {
  if (!config.enabled) return 'anonymous';
  if (!header) {
    if (openWithoutToken) return 'anonymous';
    throw new UnauthenticatedError(`send 'Authorization: Bearer <token>' with a token holding the '${scope}' scope`);
  }
  const m = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(header);
  if (!m) throw new UnauthenticatedError("the Authorization header must be 'Bearer <token>'");
  const token = match(config, m[1]!);
  if (!token) throw new UnauthenticatedError('the token is not valid');
  if (!token.scopes.includes(scope) && !token.scopes.includes('admin')) throw new ForbiddenError(token.name, scope);
  return token.name;
}

/** Middleware: authorize() the request for `scope`, and keep the principal for the request log. */
export function requireScope(config: AuthConfig, scope: Scope, openWithoutToken = false): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    c.set('principal', authorize(config, c.req.header('authorization'), scope, openWithoutToken));
    return next();
  };
}

/**
 * A tokens file for a local installation: made once with a random admin and predict token
 * (readable by its owner only), then read as it is. Returns the tokens by name.
 */
export function ensureTokenFile(file: string): Record<string, string> {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    const tokens = [
      { name: 'local-admin', token: randomBytes(24).toString('base64url'), scopes: ['admin'] },
      { name: 'local-predict', token: randomBytes(24).toString('base64url'), scopes: ['predict'] },
    ];
    writeFileSync(file, `${JSON.stringify({ tokens }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  }
  return Object.fromEntries(tokensInFile(file).map((t) => [t.name, t.token]));
}
