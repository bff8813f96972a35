// api/log.ts: the lines of one turn of the event loop leave in one write, in order, and none
// is lost when the process ends, even by an uncaught error.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, lineWriter, logRequest, type Logger } from '../api/log.js';

function collectingStream(): { stream: Writable; writes: string[] } {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, writes };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('lineWriter', () => {
  it('writes the lines of one turn together, in order, after that turn', async () => {
    const { stream, writes } = collectingStream();
    const log = createLogger('info', lineWriter(stream));
    log.info('first', { n: 1 });
    log.debug('dropped');
    log.warn('second', { n: 2 });
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string; level: string })).toMatchObject([
      { event: 'first', level: 'info', n: 1 },
      { event: 'second', level: 'warn', n: 2 },
    ]);
    log.info('third');
    await nextTurn();
    expect(writes).toHaveLength(2);
    expect(writes[1]).toContain('"third"');
  });

  it('writes at once when the pending lines reach the limit', () => {
    const { stream, writes } = collectingStream();
    const write = lineWriter(stream, 10);
    write('12345\n');
    expect(writes).toEqual([]);
    write('67890\n');
    expect(writes).toEqual(['12345\n67890\n']);
  });

  it('writes what is pending when the process dies of an uncaught error', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mlops-log-'));
    const script = path.join(dir, 'crash.mts');
    writeFileSync(
      script,
      `import { createLogger } from ${JSON.stringify(path.resolve('api/log.ts'))};\n` +
        `const log = createLogger('info');\nlog.info('before_crash', { n: 1 });\nlog.error('last_words');\nthrow new Error('planned crash');\n`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('planned crash');
    const events = run.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: string }).event);
    expect(events).toEqual(['before_crash', 'last_words']);
  });
});

describe('logRequest', () => {
  it('logs a 5xx as an error, a 503 as a warning and everything else as information', () => {
    const seen: [string, number][] = [];
    const at = (level: string) => (_event: string, fields: Record<string, unknown> = {}) => seen.push([level, fields.status as number]);
    const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    for (const status of [200, 404, 503, 500, 502]) logRequest(log, { requestId: 'r', method: 'GET', route: '/predict', status, principal: undefined }, performance.now());
    expect(seen).toEqual([['info', 200], ['info', 404], ['warn', 503], ['error', 500], ['error', 502]]);
  });
});
