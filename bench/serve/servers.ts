// Server processes for bench/serve.ts: a free port, start in a process group of its own
// (uvicorn's workers are children), wait until an URL answers 200, peak memory of the whole
// process tree, stop the group. Output goes to a log file, never through this process, so
// a chatty server costs the benchmark nothing here.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';

export interface Server {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  exitedWith?: number | string;
}

const running = new Map<number, ChildProcess>();

export { freePort } from '../../core/free-port.js';

export function startServer(name: string, command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): Server {
  const log = openSync(options.logFile, 'w');
  // detached: its own process group, so stopping it also stops the workers it forks.
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  running.set(child.pid, child);
  const server: Server = {
    name,
    pid: child.pid,
    logFile: options.logFile,
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(child.pid!);
        server.exitedWith = code ?? signal ?? 'unknown';
        resolve(server.exitedWith);
      });
    }),
  };
  return server;
}

/** The last `lines` lines of the server's log, for reports of a failed start. */
export function logTail(server: Server, lines = 20): string {
  try {
    return readFileSync(server.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The line of the log that says what went wrong (the first naming an error), else its last line. */
export function logSummary(server: Server): string {
  const lines = logTail(server, 40).split('\n').filter((l) => l.trim() !== '');
  return (lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? '(empty log)').trim();
}

export interface Probe {
  readonly status: number;
  readonly body: string;
}

async function get(url: string, headers: Readonly<Record<string, string>>): Promise<Probe> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.text() };
}

/**
 * GET `url` until it answers 200, the server exits or `timeoutMs` passes. The last answer
 * (or connection error) is returned either way, so a failure can be reported as it was.
 */
export async function waitFor200(server: Server, url: string, headers: Readonly<Record<string, string>>, timeoutMs: number): Promise<Probe> {
  const deadline = Date.now() + timeoutMs;
  let last: Probe = { status: 0, body: 'no answer yet' };
  while (Date.now() < deadline) {
    if (server.exitedWith !== undefined) return { status: 0, body: `the process exited (${server.exitedWith}); ${logSummary(server)}` };
    try {
      last = await get(url, headers);
      if (last.status === 200) return last;
    } catch (err) {
      last = { status: 0, body: err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}` : String(err) };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return last;
}

/** GET each URL once, in order: answers for the parity check. */
export async function fetchAll(urls: readonly string[], headers: Readonly<Record<string, string>>): Promise<Probe[]> {
  const out: Probe[] = [];
  for (const url of urls) out.push(await get(url, headers));
  return out;
}

/** Every process under `root` (itself included), from the parent links in /proc. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const tree: number[] = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop()!;
    tree.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * Peak resident memory of the server: VmHWM (the kernel's high-water mark) of every process
 * in its tree, summed, in MiB. For uvicorn with workers that is the supervisor plus each
 * worker; their peaks need not coincide, so the sum is an upper bound.
 */
export function peakRssMiB(server: Server): number {
  let kb = 0;
  for (const pid of processTree(server.pid)) {
    try {
      const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

/** SIGTERM the server's process group; SIGKILL it when it has not exited within 5 s. */
export async function stopServer(server: Server): Promise<void> {
  signalGroup(server.pid, 'SIGTERM');
  const timer = new Promise((r) => setTimeout(r, 5_000));
  if ((await Promise.race([server.exited.then(() => 'exited'), timer])) !== 'exited') {
    signalGroup(server.pid, 'SIGKILL');
    await server.exited;
  }
  signalGroup(server.pid, 'SIGKILL'); // workers a supervisor left behind
}

/** Last resort on exit or Ctrl-C: kill every group still running, synchronously. */
export function killAll(): void {
  for (const pid of running.keys()) signalGroup(pid, 'SIGKILL');
}

/** Fields after `(comm)` of a /proc/<pid>/stat line: index 0 is field 3 (state). */
function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime + stime (clock ticks) of every live process in the server's tree. */
function treeTicks(server: Server): number {
  let ticks = 0;
  for (const pid of processTree(server.pid)) {
    const f = statFields(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks;
}

/** This process's own CPU ticks, and those of its children that exited and were reaped (the load generator). */
function selfTicks(): { own: number; reaped: number } {
  const f = statFields('self')!;
  return { own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
}

/** Ticks of all CPUs since boot: busy (neither idle nor waiting for I/O) and in total. */
function machineTicks(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - cpu[3]! - cpu[4]!, total };
}

/** Cores in use on average while something ran, split by who used them. */
export interface CpuShare {
  readonly server: number;
  readonly loadgen: number;
  /** Everything else on the machine: a number well above 0 means the run was disturbed. */
  readonly other: number;
}

/**
 * Run `fn` (a load generator run, a child process of this one) and account the machine's CPU
 * meanwhile: the server's tree, the load generator (reaped children) and the rest.
 */
export async function withCpuShare<T>(server: Server, cores: number, fn: () => Promise<T>): Promise<{ value: T; cpu: CpuShare }> {
  const m0 = machineTicks();
  const s0 = treeTicks(server);
  const self0 = selfTicks();
  const value = await fn();
  const m1 = machineTicks();
  const serverTicks = treeTicks(server) - s0;
  const self1 = selfTicks();
  const loadgenTicks = self1.reaped - self0.reaped;
  const otherTicks = m1.busy - m0.busy - serverTicks - loadgenTicks - (self1.own - self0.own);
  const toCores = (ticks: number) => Math.max(0, Math.round((ticks / Math.max(1, m1.total - m0.total)) * cores * 100) / 100);
  return { value, cpu: { server: toCores(serverTicks), loadgen: toCores(loadgenTicks), other: toCores(otherTicks) } };
}
