/**
 * Network namespaces for the TUN tests. Every namespace this file makes is
 * named `ionet-test-<tag>-<pid>-<n>` so that leftovers are recognizable;
 * ones whose process is gone are deleted before a new one is made. Tests
 * destroy theirs in `finally`, and deleting a namespace also deletes every
 * interface inside it. All traffic of the tests stays inside these
 * namespaces: the TUN device is moved in before it gets an address.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { probe } from '../src/index.js';
import { FILE_BACKEND } from './helpers.js';

export const NS_PREFIX = 'ionet-test-';
let counter = 0;

function ipCmd(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

let cachedSkip: string | false | undefined;

/**
 * Why the TUN tests cannot run here (a sentence for node:test's skip), or
 * false. Run scripts/ensure-tools.sh first to install `ip` and `ping`.
 */
export function tunSkipReason(needs: string[] = []): string | false {
  if (cachedSkip === undefined) cachedSkip = baseSkipReason();
  if (cachedSkip) return cachedSkip;
  for (const cmd of needs) {
    if (!hasCommand(cmd)) return `\`${cmd}\` is not installed (scripts/ensure-tools.sh installs it)`;
  }
  return false;
}

function baseSkipReason(): string | false {
  if (process.platform !== 'linux') return 'TUN devices need Linux';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'needs root (CAP_NET_ADMIN) to create TUN devices and network namespaces; run the tests as root to include it';
  }
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (no tun module, or not passed into this container)';
  if (!hasCommand('ip')) return 'iproute2 `ip` is not installed (scripts/ensure-tools.sh installs it)';
  const p = probe();
  // The poll backend needs no io_uring; an io_uring run does.
  if (FILE_BACKEND === 'io_uring' && !p.available) return `io_uring is not usable here: ${p.reason}`;
  try {
    const ns = Netns.create('probe');
    ns.destroy();
  } catch (err) {
    return `cannot create network namespaces here: ${(err as Error).message}`;
  }
  return false;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Delete namespaces left by test processes that no longer exist. */
export function cleanupStale(): void {
  let list = '';
  try {
    list = ipCmd(['netns', 'list']);
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^ionet-test-.*-(\d+)-\d+$/.exec(name);
    if (m && !pidAlive(Number(m[1]))) {
      try {
        ipCmd(['netns', 'del', name]);
      } catch {
        // already gone
      }
    }
  }
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class Netns {
  readonly name: string;

  private constructor(name: string) {
    this.name = name;
  }

  /** Make a fresh namespace with its loopback up. */
  static create(tag: string): Netns {
    cleanupStale();
    const name = `${NS_PREFIX}${tag}-${process.pid}-${counter++}`;
    ipCmd(['netns', 'add', name]);
    const ns = new Netns(name);
    try {
      ns.ip('link', 'set', 'lo', 'up');
    } catch (err) {
      ns.destroy();
      throw err;
    }
    return ns;
  }

  /** `ip -n NAME ...`, synchronously. */
  ip(...args: string[]): string {
    return ipCmd(['-n', this.name, ...args]);
  }

  /**
   * Run a command inside the namespace without blocking the event loop (the
   * device under test must keep reading meanwhile). Killed after timeoutMs.
   */
  exec(cmd: string, args: string[], timeoutMs: number): Promise<ExecResult> {
    return execInNetns(this.name, cmd, args, timeoutMs);
  }

  /** True if the interface exists in this namespace. */
  hasLink(name: string): boolean {
    try {
      this.ip('link', 'show', 'dev', name);
      return true;
    } catch {
      return false;
    }
  }

  /** Delete the namespace and every interface in it. Never throws. */
  destroy(): void {
    try {
      ipCmd(['netns', 'del', this.name]);
    } catch {
      // already gone
    }
  }
}

/** Netns.exec for a namespace made elsewhere (by the parent of a child script). */
export function execInNetns(netns: string, cmd: string, args: string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(t);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A TUN interface name of this process: `ionet<pid>x<n>` (at most 15 bytes). */
export function uniqueIfName(): string {
  return `ionet${process.pid % 100000}x${counter++ % 1000}`;
}

/** True if an interface of that name exists in this (the test's) namespace. */
export function rootHasLink(name: string): boolean {
  try {
    ipCmd(['link', 'show', 'dev', name]);
    return true;
  } catch {
    return false;
  }
}
