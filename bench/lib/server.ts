// Starting and stopping one echo server process. The contract with a server
// is tiny and language-neutral: print "READY <port>" on stdout once bound,
// echo datagrams, exit on SIGTERM. Lines printed after READY (such as the
// heap probe's `HEAP {json}`) can be awaited with waitForLine().
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { track } from './children.js';
import type { Command } from './pin.js';

export interface RunningServer {
  readonly pid: number;
  readonly port: number;
  /** Why the server is gone, or undefined while it is still running. */
  exitReason(): string | undefined;
  /** First and last lines the server wrote to stderr, for error messages. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL if it lingers. Resolves once it has exited. */
  stop(): Promise<void>;
  /**
   * The first stdout line after READY that matches `re` (one already seen
   * or a later one). Rejects after `timeoutMs` or when the server exits.
   */
  waitForLine(re: RegExp, timeoutMs: number): Promise<string>;
}

export interface StartOptions {
  /** Extra environment variables for the server (added to ours). */
  readonly env?: Readonly<Record<string, string>>;
}

// Node puts the useful line of an uncaught error first and the stack after
// it, while native crashes tend to say the useful thing last: keep both ends.
const STDERR_HEAD = 3;
const STDERR_TAIL = 4;
const STOP_GRACE_MS = 3000;
// Stdout lines kept after READY for waitForLine(); bounded so that a chatty
// server cannot grow the runner's memory.
const KEEP_LINES = 100;

export function startServer(cmd: Command, readyTimeoutMs: number, options: StartOptions = {}): Promise<RunningServer> {
  const env = options.env === undefined ? process.env : { ...process.env, ...options.env };
  const child = spawn(cmd.command, [...cmd.args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  track(child);
  const head: string[] = [];
  const tail: string[] = [];
  let dropped = 0;
  // The "SomeError: what happened" line of an uncaught exception says more
  // than any amount of stack, so it is kept separately.
  let errorLine: string | undefined;
  let exit: string | undefined;
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (line.trim() === '') return;
    if (errorLine === undefined && /^\w*Error\b.*:/.test(line)) errorLine = line.trim();
    if (head.length < STDERR_HEAD) {
      head.push(line.trim());
      return;
    }
    tail.push(line.trim());
    if (tail.length > STDERR_TAIL) {
      tail.shift();
      dropped++;
    }
  });
  const stderrTail = (): string =>
    errorLine ?? [...head, ...(dropped > 0 ? ['...'] : []), ...tail].join(' | ');
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = signal !== null ? `killed by ${signal}` : `exited with code ${String(code)}`;
      resolve();
    });
    // A process that never started emits 'error' and possibly no 'exit'.
    child.once('error', (err) => {
      if (child.pid !== undefined) return;
      exit ??= `failed to start: ${err.message}`;
      resolve();
    });
  });

  const stop = async (): Promise<void> => {
    if (exit !== undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  const lines: string[] = [];
  const waiters = new Set<(line: string | undefined) => void>();
  let closed = false;
  const onLaterLine = (line: string): void => {
    lines.push(line);
    if (lines.length > KEEP_LINES) lines.shift();
    for (const w of waiters) w(line);
  };
  // undefined tells the waiters that no more lines will come.
  child.once('close', () => {
    closed = true;
    for (const w of waiters) w(undefined);
  });
  const waitForLine = (re: RegExp, timeoutMs: number): Promise<string> => {
    const seen = lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    if (closed) return Promise.reject(new Error(`server ${exit ?? 'exited'} without printing a line matching ${String(re)}`));
    return new Promise<string>((resolve, reject) => {
      const done = (): void => {
        waiters.delete(waiter);
        clearTimeout(timer);
      };
      const waiter = (line: string | undefined): void => {
        if (line === undefined) {
          done();
          reject(new Error(`server ${exit ?? 'exited'} before printing a line matching ${String(re)}`));
        } else if (re.test(line)) {
          done();
          resolve(line);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no line matching ${String(re)} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  };

  return new Promise<RunningServer>((resolve, reject) => {
    let settled = false;
    const fail = (reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const err = stderrTail();
      // A server that failed to come up must not keep running unobserved.
      void stop().then(() => reject(new Error(err === '' ? reason : `${reason}; stderr: ${err}`)));
    };
    const timer = setTimeout(() => fail(`no READY line within ${readyTimeoutMs / 1000} s`), readyTimeoutMs);
    child.once('error', (err) => fail(`cannot start ${cmd.command}: ${err.message}`));
    // Keep reading stdout after READY so a chatty server never blocks on a full pipe.
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (settled) {
        onLaterLine(line);
        return;
      }
      const m = /^READY (\d+)\s*$/.exec(line);
      if (m === null) return;
      const port = Number(m[1]);
      const pid = child.pid;
      if (pid === undefined || !(port > 0 && port < 65536)) {
        fail(`bad READY line: ${line}`);
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve({ pid, port, exitReason: () => exit, stderrTail, stop, waitForLine });
    });
    // 'exit' can come before buffered stderr is read; wait for 'close' so the
    // error message includes what the server said before dying.
    child.once('close', () => fail(`server ${exit ?? 'exited'} before READY`));
  });
}
