#!/usr/bin/env node
// `npx mlops`: the CLI (cli/main.ts) run through tsx, which the package already depends on.
import { register } from 'tsx/esm/api';

register();
const { processIo, runCli } = await import('../cli/main.ts');
const code = await runCli(process.argv.slice(2), processIo());
// stdout may still be draining into a pipe: set the code and let Node exit when it is written.
process.exitCode = code;
