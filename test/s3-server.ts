// An S3-compatible server for the tests, on 127.0.0.1: moto's server from PyPI, which honours
// conditional writes (If-None-Match: *, If-Match) as S3 does. Installed once into .tools/moto
// (pip --target, no virtualenv needed); .ci/run installs it before the tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../core/config.js';
import type { AddressInfo } from 'node:net';
import { freePort } from '../core/free-port.js';
import { s3Client } from '../storage/s3-store.js';

export const MOTO_VERSION = '5.2.1';
const MOTO_DIR = path.join(PROJECT_ROOT, '.tools', 'moto');

const motoImports = (): boolean =>
  spawnSync('python3', ['-c', 'import moto.server'], { env: { ...process.env, PYTHONPATH: MOTO_DIR }, stdio: 'ignore' }).status === 0;

/** Make `python3 -m moto.server` work with .tools/moto on PYTHONPATH; returns that folder. */
export async function ensureMoto(log: (line: string) => void = () => {}): Promise<string> {
  if (motoImports()) return MOTO_DIR;
  // One installer at a time (test files start in parallel): mkdir is the lock.
  const lock = `${MOTO_DIR}.installing`;
  await mkdir(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 500));
      if (motoImports()) return MOTO_DIR;
    }
  }
  try {
    if (motoImports()) return MOTO_DIR;
    log(`installing moto[server]==${MOTO_VERSION} from PyPI into ${MOTO_DIR}`);
    const pip = spawnSync(
      'python3',
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--upgrade', '--target', MOTO_DIR, `moto[server]==${MOTO_VERSION}`],
      { encoding: 'utf8' },
    );
    if (pip.status !== 0 || !motoImports()) throw new Error(`could not install moto[server]==${MOTO_VERSION} with pip: ${(pip.stderr || pip.stdout).trim().split('\n').slice(-3).join(' ')}`);
    return MOTO_DIR;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

export interface S3Server {
  readonly endpoint: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** Start moto on a free port of 127.0.0.1 and wait until it answers. */
export async function startS3Server(log?: (line: string) => void): Promise<S3Server> {
  const pythonPath = await ensureMoto(log);
  const port = await freePort();
  const proc = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, PYTHONPATH: pythonPath, PYTHONDONTWRITEBYTECODE: '1' },
    stdio: 'ignore',
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`moto.server exited with code ${proc.exitCode} before answering`);
    const ok = await fetch(`${endpoint}/moto-api/`).then((r) => r.status < 500, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`moto.server did not answer on ${endpoint} within 60 s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    process: proc,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** The AWS SDK environment that points a process at `endpoint` (moto takes any credentials). */
export function s3Env(endpoint: string): Record<string, string> {
  return { AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };
}

/** A new empty bucket on the server; returns its name. */
export async function createBucket(endpoint: string): Promise<string> {
  const bucket = `mlops-${randomUUID().slice(0, 8)}`;
  const client = s3Client(s3Env(endpoint));
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return bucket;
}

/** How a FaultProxy answers: passing requests on, answering 500 (S3's InternalError), or not answering at all. */
export type FaultMode = 'pass' | 'error' | 'hang';

export interface FaultProxy {
  readonly endpoint: string;
  mode: FaultMode;
  /** Added to every request passed on: a remote store's round trip (benchmarks). */
  delayMs: number;
  /** Requests answered with an error or left hanging since the proxy started. */
  readonly faults: number;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy in front of the S3 server that a test can make fail: every request passes,
 * gets a 500, or hangs (until the client gives up), as `mode` says at the time it arrives.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { createServer: createHttpServer, request } = await import('node:http');
  const upstream = new URL(target);
  const hanging = new Set<import('node:http').ServerResponse>();
  const state = { mode: 'pass' as FaultMode, faults: 0, delayMs: 0 };
  const server = createHttpServer((req, res) => {
    if (state.mode === 'error') {
      state.faults++;
      req.resume();
      res.writeHead(500, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected by the test</Message></Error>');
      return;
    }
    if (state.mode === 'hang') {
      state.faults++;
      req.resume();
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    const forward = () => {
      const up = request(
        { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (state.delayMs > 0) {
      req.pause();
      setTimeout(forward, state.delayMs);
    } else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(m: FaultMode) {
      state.mode = m;
      if (m !== 'hang') for (const res of hanging) res.destroy();
    },
    get faults() {
      return state.faults;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    stop: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
