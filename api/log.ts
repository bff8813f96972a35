// Structured logs: one JSON object per line, with the request id wherever there is one, so a
// line in the log can be matched to the response a client saw (its x-request-id header).
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const min = RANK[(level.toLowerCase() as LogLevel) in RANK ? (level.toLowerCase() as LogLevel) : 'info'];
  const at = (lvl: LogLevel) => (event: string, fields: Record<string, unknown> = {}) => {
    if (RANK[lvl] < min) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, event, ...fields })}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger that drops everything (tests that do not read logs). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
