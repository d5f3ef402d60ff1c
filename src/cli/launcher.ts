/**
 * When `npx iouring-net tunnel` (or `npm exec`, `npm run`) starts the
 * tunnel, the process tree is npm -> sh -c -> node (this CLI), and the pid
 * a shell's `$!` gives is npm's. Signals sent to npm do not reach the
 * tunnel as they should (measured with npm 11.19):
 *
 *   SIGTERM, SIGINT  npm forwards them to `sh`, which dies without passing
 *                    them on: the tunnel is orphaned with its interface up
 *   SIGUSR1          starts npm's own inspector (Node's default for USR1)
 *   SIGHUP           ends npm (not forwarded): no rebind, tunnel orphaned
 *
 * (Ctrl-C in a terminal is fine: the terminal signals the whole process
 * group, the tunnel included.) So the CLI prints its own pid, can write it
 * to a file (--pid-file), and, when it was started by npm, watches that npm
 * process and stops cleanly (interface removed) once npm is gone.
 */
import { readFileSync } from 'node:fs';

/** A process, identified by pid and start time (pids are reused). */
export interface ProcessId {
  pid: number;
  /** /proc/PID/stat field 22, clock ticks since boot. */
  start: string;
}

/** How far up the tree npm may be: npm -> sh -> node is two. */
const MAX_DEPTH = 4;

/** ppid, start time and command line of a process, or null if it is gone. */
function procInfo(pid: number): { ppid: number; start: string; cmdline: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    return { ppid: Number(fields[1]), start: fields[19] ?? '', cmdline };
  } catch {
    return null;
  }
}

/** npm shows as "npm exec ...", "npm run ..." (its process title) or node .../npm-cli.js. */
function isNpm(cmdline: string): boolean {
  return /^(npm|npx)(\s|$)/.test(cmdline) || /\/npm-cli\.js(\s|$)|\/npx-cli\.js(\s|$)/.test(cmdline);
}

/**
 * The npm process this CLI runs under, or null. Only looked for when npm's
 * environment says npm started us (npm_command is set for npx, npm exec and
 * npm run), and only a few levels up.
 */
export function findNpmLauncher(env: NodeJS.ProcessEnv = process.env): ProcessId | null {
  if (env.npm_command === undefined) return null;
  let pid = process.ppid;
  for (let depth = 0; depth < MAX_DEPTH && pid > 1; depth++) {
    const info = procInfo(pid);
    if (info === null) return null;
    if (isNpm(info.cmdline)) return { pid, start: info.start };
    pid = info.ppid;
  }
  return null;
}

/** True while the process still runs (same pid, same start time). */
export function isAlive(p: ProcessId): boolean {
  const info = procInfo(p.pid);
  return info !== null && info.start === p.start;
}

/** Calls onGone once when the process has exited; checks every intervalMs. */
export function watchProcess(p: ProcessId, onGone: () => void, intervalMs = 500): () => void {
  const timer = setInterval(() => {
    if (isAlive(p)) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  // The tunnel itself keeps the process alive; this must not.
  timer.unref();
  return () => clearInterval(timer);
}
