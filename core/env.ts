// Settings read from environment variables, checked when a process starts: a value that cannot
// be used stops it with a message naming the variable (InvalidSettingError), instead of being
// quietly replaced by a default or failing later far from its cause.
import { InvalidSettingError } from './errors.js';

/** A whole number from `min` to `max`, or `fallback` when the variable is unset or empty. */
export function wholeNumberSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new InvalidSettingError(name, raw, `must be a whole number from ${min} to ${max}`);
  return n;
}

/** A TCP port to listen on or connect to; `allowAny` accepts 0 (any free port). */
export function portSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, allowAny = false): number {
  return wholeNumberSetting(env, name, fallback, allowAny ? 0 : 1, 65_535);
}

// host:port, the host a name, an IPv4 address or a bracketed IPv6 address.
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/** `host:port` (Temporal's address, the worker's metrics endpoint), or `fallback` when unset or empty. */
export function hostPortSetting(env: NodeJS.ProcessEnv, name: string, fallback: string): string;
export function hostPortSetting(env: NodeJS.ProcessEnv, name: string, fallback?: undefined): string | undefined;
export function hostPortSetting(env: NodeJS.ProcessEnv, name: string, fallback?: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const match = HOST_PORT.exec(raw);
  const port = match ? Number(match[2]) : 0;
  if (!match || port < 1 || port > 65_535) throw new InvalidSettingError(name, raw, 'must be host:port, e.g. 127.0.0.1:7233');
  return raw;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** LOG_LEVEL: one of LOG_LEVELS in any case, `info` when unset or empty. */
export function logLevelSetting(env: NodeJS.ProcessEnv): LogLevel {
  const raw = env.LOG_LEVEL;
  if (raw === undefined || raw === '') return 'info';
  const level = raw.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new InvalidSettingError('LOG_LEVEL', raw, `must be one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}
