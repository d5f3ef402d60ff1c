/**
 * Test tools written in C: built on demand with gcc, run from the tests.
 *
 * seccomp-run (test/native/seccomp-run.c) runs a command under a seccomp
 * filter that refuses io_uring_setup with EPERM (as Docker's default profile
 * does) or ENOSYS (as a kernel without io_uring does).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file runs as dist/test/tools.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SECCOMP_RUN_SRC = join(ROOT, 'test', 'native', 'seccomp-run.c');
const SECCOMP_RUN_BIN = join(ROOT, 'build', 'test-tools', 'seccomp-run');

/** seccomp-run's own exit statuses (see the comment at the top of the C file). */
export const SECCOMP_RUN_EXIT = {
  usage: 2,
  /** The filter cannot be installed here: skip, do not fail. */
  noSeccomp: 3,
  /** The filter was installed but did not refuse io_uring: the tool is broken. */
  selfCheck: 4,
  notFound: 127,
} as const;

/** Thrown by buildSeccompRun when there is no gcc at all (tests may skip). */
export class NoCompilerError extends Error {}

/**
 * Compile seccomp-run into build/test-tools/ if the binary is missing or older
 * than its source, and return its path. Synchronous, so tests can call it at
 * load time. Throws NoCompilerError without gcc, Error on a compile error.
 */
export function buildSeccompRun(): string {
  if (existsSync(SECCOMP_RUN_BIN) && statSync(SECCOMP_RUN_BIN).mtimeMs >= statSync(SECCOMP_RUN_SRC).mtimeMs) {
    return SECCOMP_RUN_BIN;
  }
  mkdirSync(dirname(SECCOMP_RUN_BIN), { recursive: true });
  // Build under a private name and rename: test files run in parallel
  // processes may build at once, and none may see a half-written binary.
  const tmp = `${SECCOMP_RUN_BIN}.tmp-${process.pid}`;
  try {
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11', '-o', tmp, SECCOMP_RUN_SRC], {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      timeout: 60_000,
    });
    renameSync(tmp, SECCOMP_RUN_BIN);
  } catch (err) {
    rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new NoCompilerError('gcc was not found; it is needed to build test/native/seccomp-run.c');
    throw new Error(`gcc failed to build ${SECCOMP_RUN_SRC}:\n${e.stderr ?? e.message}`);
  }
  return SECCOMP_RUN_BIN;
}

export type SeccompErrno = 'EPERM' | 'ENOSYS';

export interface RunResult {
  /** Exit status, or null if the process was killed (see signal). */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True if it was killed for running longer than the timeout. */
  timedOut: boolean;
}

export interface RunOptions {
  /** Refuse io_uring_enter and io_uring_register too, as Docker does. */
  alsoEnterRegister?: boolean;
  /** Kill the child after this long (default 20 s). */
  timeoutMs?: number;
}

/**
 * Run `node scriptPath ...args` with io_uring_setup refused with `errno` by
 * seccomp-run, or with no filter at all when `errno` is null (the control:
 * the very same child, command line and environment otherwise).
 */
export function runUnderSeccomp(
  errno: SeccompErrno | null,
  scriptPath: string,
  args: readonly string[] = [],
  env?: NodeJS.ProcessEnv,
  options: RunOptions = {},
): RunResult {
  const nodeArgv = [process.execPath, scriptPath, ...args];
  if (errno === null) return run(nodeArgv, env, options.timeoutMs);
  const filter = ['--errno', errno, ...(options.alsoEnterRegister ? ['--also-enter-register'] : [])];
  return runSeccompRun([...filter, '--', ...nodeArgv], env, options.timeoutMs);
}

/** Run seccomp-run with these exact arguments (for testing the tool itself). */
export function runSeccompRun(toolArgs: readonly string[], env?: NodeJS.ProcessEnv, timeoutMs?: number): RunResult {
  return run([buildSeccompRun(), ...toolArgs], env, timeoutMs);
}

function run(argv: readonly string[], env: NodeJS.ProcessEnv | undefined, timeoutMs = 20_000): RunResult {
  const [file = '', ...args] = argv;
  const r = spawnSync(file, args, {
    env: env ?? process.env,
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  if (r.error && !timedOut) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', timedOut };
}
