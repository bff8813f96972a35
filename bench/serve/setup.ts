// Tools bench/serve.ts needs besides Node: the Python environment of the FastAPI reference
// (a venv with pinned versions from PyPI) and the Go load generator, both kept in .tools/ and
// rebuilt only when what they are made from changes.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The FastAPI reference's packages, pinned: current releases on PyPI with wheels for Python
 * 3.11 on linux x86_64. uvicorn[standard] brings uvloop and httptools, which uvicorn picks by
 * itself: the fastest Python stack a production service would run.
 */
export const PYTHON_PINS: Readonly<Record<string, string>> = {
  fastapi: '0.165.0',
  'uvicorn[standard]': '0.54.0',
  onnxruntime: '1.32.0',
  numpy: '2.4.6',
};

/** Packages whose versions the report prints (the pins and what they pulled in that matters). */
const REPORTED_PACKAGES = ['fastapi', 'starlette', 'pydantic', 'pydantic-core', 'uvicorn', 'uvloop', 'httptools', 'onnxruntime', 'numpy'];

export interface PythonEnv {
  readonly python: string;
  readonly uvicorn: string;
  /** Python itself and the reported packages, e.g. { python: '3.11.7', fastapi: '0.165.0', ... }. */
  readonly versions: Readonly<Record<string, string>>;
}

function pipName(requirement: string): string {
  return requirement.replace(/\[.*\]$/, '');
}

/** Installed versions of `names` in the venv (missing ones absent), plus Python's own. */
function installedVersions(python: string, names: readonly string[]): Record<string, string> {
  const script = [
    'import importlib.metadata as m, json, platform, sys',
    'out = {"python": platform.python_version()}',
    'for n in sys.argv[1:]:',
    '    try: out[n] = m.version(n)',
    '    except m.PackageNotFoundError: pass',
    'print(json.dumps(out))',
  ].join('\n');
  const run = spawnSync(python, ['-c', script, ...names], { encoding: 'utf8' });
  if (run.status !== 0) return {};
  return JSON.parse(run.stdout) as Record<string, string>;
}

/** A venv at `venvDir` holding exactly the pinned packages; created or completed with pip when not. */
export function ensurePythonEnv(venvDir: string): PythonEnv {
  const python = path.join(venvDir, 'bin', 'python');
  if (!existsSync(python)) {
    console.log(`creating the Python venv ${venvDir} ...`);
    try {
      execFileSync('python3', ['-m', 'venv', venvDir], { stdio: 'inherit' });
    } catch {
      throw new Error(`python3 -m venv ${venvDir} failed: the FastAPI reference needs Python 3 with venv (on Debian: apt-get install python3-venv)`);
    }
  }
  const pinned = Object.entries(PYTHON_PINS);
  const have = installedVersions(python, pinned.map(([req]) => pipName(req)));
  const missing = pinned.filter(([req, version]) => have[pipName(req)] !== version);
  if (missing.length > 0) {
    console.log(`pip install ${pinned.map(([req, v]) => `${req}==${v}`).join(' ')} ...`);
    execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...pinned.map(([req, v]) => `${req}==${v}`)], {
      stdio: 'inherit',
    });
  }
  return { python, uvicorn: path.join(venvDir, 'bin', 'uvicorn'), versions: installedVersions(python, REPORTED_PACKAGES) };
}

/** Hash of the load generator's sources: the binary is rebuilt when it changes. */
function sourceHash(sourceDir: string): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(sourceDir).filter((f) => f.endsWith('.go') || f === 'go.mod').sort()) {
    hash.update(file).update('\0').update(readFileSync(path.join(sourceDir, file))).update('\0');
  }
  return hash.digest('hex');
}

/** `go build` bench/serve/loadgen into `binary` unless the binary was built from these sources. */
export function ensureLoadgen(sourceDir: string, binary: string): string {
  const stamp = `${binary}.sha256`;
  const hash = sourceHash(sourceDir);
  if (existsSync(binary) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) return binary;
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('the load generator needs Go (>= 1.22) on PATH: install it (e.g. apt-get install golang-go) and run again');
  }
  console.log(`building the load generator: go build -o ${binary} (${sourceDir}) ...`);
  // GOTOOLCHAIN=local: build with the Go that is here, never fetch another toolchain.
  execFileSync('go', ['build', '-o', binary, '.'], { cwd: sourceDir, stdio: 'inherit', env: { ...process.env, GOTOOLCHAIN: 'local' } });
  writeFileSync(stamp, `${hash}\n`);
  return binary;
}

export function goVersion(): string {
  const run = spawnSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : 'unknown';
}
