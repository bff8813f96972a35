// Running `temporal server start-dev` for the embedded default: state in a SQLite file so
// runs survive restarts, the Web UI on :8233, and the project's search attributes registered.
import { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { SEARCH_ATTRIBUTES } from '../core/types.js';

export interface DevServerOptions {
  readonly cli: string;
  readonly dbFile: string;
  readonly ip?: string;
  readonly port?: number;
  readonly uiPort?: number;
  readonly namespace?: string;
}

export interface DevServer {
  readonly address: string;
  readonly uiUrl: string;
  /** False when a server was already listening and is reused rather than started. */
  readonly started: boolean;
  stop(): Promise<void>;
}

const TYPE_NAMES: Record<string, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

export function searchAttributeArgs(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${TYPE_NAMES[k.type]}`]);
}

/** True when a Temporal frontend answers at `address`. */
export async function isTemporalUp(address: string, timeoutMs = 1500): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

/**
 * Register the project's search attributes that the server lacks. `start-dev --search-attribute`
 * registers them only when it creates its database: a server whose state file predates an
 * attribute would refuse every workflow that sets it (BadSearchAttributes).
 */
export async function ensureSearchAttributes(address: string, namespace: string): Promise<string[]> {
  const connection = await Connection.connect({ address });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = SEARCH_ATTRIBUTES.filter((k) => !customAttributes?.[k.name]);
    if (missing.length > 0) {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((k) => [k.name, encodeSearchAttributeIndexedValueType(k.type)!])),
      });
    }
    return missing.map((k) => k.name);
  } finally {
    await connection.close();
  }
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? 8233;
  const address = `${ip}:${port}`;
  const uiUrl = `http://localhost:${uiPort}`;
  const namespace = options.namespace ?? 'default';
  if (await isTemporalUp(address)) {
    await ensureSearchAttributes(address, namespace);
    return { address, uiUrl, started: false, stop: async () => {} };
  }
  await mkdir(path.dirname(options.dbFile), { recursive: true });
  const args = [
    'server', 'start-dev',
    '--db-filename', options.dbFile,
    '--ip', ip,
    '--port', String(port),
    '--ui-port', String(uiPort),
    '--ui-disable-news-fetch',
    '--log-level', 'error',
    '--namespace', namespace,
    ...searchAttributeArgs(),
  ];
  const child: ChildProcess = spawn(options.cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`temporal server start-dev exited with code ${child.exitCode}:\n${output.trim()}`);
    }
    if (await isTemporalUp(address)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`temporal server start-dev did not answer on ${address} within 60 s:\n${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await ensureSearchAttributes(address, namespace);
  return {
    address,
    uiUrl,
    started: true,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
