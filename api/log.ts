// Structured logs: one JSON object per line, with the request id wherever there is one, so a
// line in the log can be matched to the response a client saw (its x-request-id header).
import { logLevelSetting, type LogLevel } from '../core/env.js';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

/**
 * Lines to a stream, one write per turn of the event loop. Node writes standard output to a
 * file or a pipe synchronously, one system call per write; under load the API logs a line per
 * request, and the lines of one burst of requests now leave together. Whatever is pending when
 * the process exits (an error included) is written by the 'exit' handler, synchronously, like
 * any write to such a stream; only a kill -9 can lose the lines of the turn it interrupts.
 */
export function lineWriter(stream: NodeJS.WritableStream = process.stdout, maxPendingChars = 64 * 1024): (line: string) => void {
  let pending: string[] = [];
  let pendingChars = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    pendingChars = 0;
    stream.write(text);
  };
  process.on('exit', flush);
  return (line) => {
    pending.push(line);
    pendingChars += line.length;
    if (pendingChars >= maxPendingChars) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}

/** A logger writing lines at `level` and above (LOG_LEVEL by default; an unknown level stops the process at start-up). */
export function createLogger(level: LogLevel = logLevelSetting(process.env), write: (line: string) => void = lineWriter()): Logger {
  const min = RANK[level];
  const at = (lvl: LogLevel) => (event: string, fields: Record<string, unknown> = {}) => {
    if (RANK[lvl] < min) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, event, ...fields })}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger that drops everything (tests that do not read logs). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** What the log says about each answered request. */
export interface RequestLogFields {
  readonly requestId: string;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly principal: string | undefined;
}

/**
 * One line per answered request, `ms` since `startedMs`: an error for a 5xx, a warning for a 503
 * (no champion yet, Temporal unreachable: a state the answer explains, not a fault), else info.
 */
export function logRequest(log: Logger, fields: RequestLogFields, startedMs: number): void {
  const line = { ...fields, ms: Math.round((performance.now() - startedMs) * 100) / 100 };
  if (fields.status === 503) log.warn('request', line);
  else if (fields.status >= 500) log.error('request', line);
  else log.info('request', line);
}
