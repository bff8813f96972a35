// The code version recorded in lineage: MLOPS_CODE_VERSION when set (the image build passes
// the commit), else the git commit when run from a checkout ("+dirty" when files differ), else
// the package version.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../core/config.js';

export function codeVersion(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MLOPS_CODE_VERSION) return env.MLOPS_CODE_VERSION;
  try {
    const git = (args: string[]) =>
      execFileSync('git', args, { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git(['rev-parse', '--short=12', 'HEAD']);
    const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
    return dirty ? `${commit}+dirty` : commit;
  } catch {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    return `v${pkg.version}`;
  }
}
