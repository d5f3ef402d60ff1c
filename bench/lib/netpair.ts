/**
 * The tunnel benchmark's network: two namespaces `ionet-bench-<pid>-a/b`
 * joined by a veth pair (10.235.0.1 <-> 10.235.0.2). Tunnels carry
 * 10.236.0.0/24 across it. Every process started here is killed and both
 * namespaces are deleted by destroy(); namespaces of bench processes that
 * died are deleted before new ones are made.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { track } from './children.js';

export const OUTER = ['10.235.0.1', '10.235.0.2'] as const;
export const INNER = ['10.236.0.1', '10.236.0.2'] as const;
const PREFIX = 'ionet-bench-';

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeStale(): void {
  for (const line of ip(['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}(\\d+)-[ab]$`).exec(name);
    if (m && !alive(Number(m[1]))) ip(['netns', 'del', name]);
  }
}

export interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export class NetPair {
  readonly names: [string, string];
  private readonly children: ChildProcess[] = [];

  private constructor(names: [string, string]) {
    this.names = names;
  }

  static create(): NetPair {
    removeStale();
    const names: [string, string] = [`${PREFIX}${process.pid}-a`, `${PREFIX}${process.pid}-b`];
    const pair = new NetPair(names);
    try {
      for (const n of names) {
        ip(['netns', 'add', n]);
        ip(['-n', n, 'link', 'set', 'lo', 'up']);
      }
      ip(['-n', names[0], 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth0', 'netns', names[1]]);
      names.forEach((n, i) => {
        ip(['-n', n, 'addr', 'add', `${OUTER[i]}/24`, 'dev', 'veth0']);
        ip(['-n', n, 'link', 'set', 'veth0', 'up']);
      });
    } catch (err) {
      pair.destroy();
      throw err;
    }
    return pair;
  }

  /** Start argv inside namespace i; its stdout and stderr are collected. */
  start(i: 0 | 1, argv: string[]): Running {
    const child = spawn('ip', ['netns', 'exec', this.names[i], ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    this.children.push(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    return { child, output: () => out, exited };
  }

  /** Kill what still runs, delete both namespaces. Never throws. */
  destroy(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const n of this.names) {
      try {
        ip(['netns', 'del', n]);
      } catch {
        // not made, or already gone
      }
    }
  }
}
