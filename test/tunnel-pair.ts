/**
 * Two network namespaces joined by a veth pair (10.231.0.1 <-> 10.231.0.2),
 * each able to run `iouring-net tunnel` (dist/src/cli/main.js) and other
 * commands. The tunnels' inner network is 10.232.0.0/24. Namespaces come
 * from netns.ts (prefixed, removed in destroy() even after a failure), and
 * every child process is killed in destroy().
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns } from './netns.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The CLI as built: dist/src/cli/main.js. */
export const CLI = join(HERE, '..', 'src', 'cli', 'main.js');

export const OUTER = ['10.231.0.1', '10.231.0.2'] as const;
export const INNER = ['10.232.0.1', '10.232.0.2'] as const;
export const UDP_PORT = 7000;
export const TUN_NAME = 'iontun0';

/** A child process with its output collected and a bounded wait for lines. */
export class Proc {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: (() => void)[] = [];

  constructor(argv: string[]) {
    const [cmd = '', ...args] = argv;
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const wake = (): void => {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    };
    this.child.stdout.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      wake();
    });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        wake();
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolve with the first match of re in stdout+stderr; reject after ms or at exit. */
  async waitFor(re: RegExp, ms: number, what: string): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.stdout) ?? re.exec(this.stderr);
      if (m) return m;
      if (!this.running) throw new Error(`${what}: the process exited first.\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: timed out after ${ms} ms.\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Wait for the exit, bounded; SIGKILL and reject after ms. */
  async exit(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`did not exit within ${ms} ms.\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
      }, ms);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }
}

export class TunnelPair {
  readonly ns: [Netns, Netns];
  private readonly procs: Proc[] = [];

  private constructor(ns: [Netns, Netns]) {
    this.ns = ns;
  }

  /** Two namespaces and a veth pair between them, addressed and up. */
  static create(tag: string): TunnelPair {
    const a = Netns.create(`${tag}a`);
    let b: Netns | undefined;
    try {
      b = Netns.create(`${tag}b`);
      // Interface names are per namespace: fixed names cannot collide.
      a.ip('link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth0', 'netns', b.name);
      a.ip('addr', 'add', `${OUTER[0]}/24`, 'dev', 'veth0');
      b.ip('addr', 'add', `${OUTER[1]}/24`, 'dev', 'veth0');
      a.ip('link', 'set', 'veth0', 'up');
      b.ip('link', 'set', 'veth0', 'up');
      return new TunnelPair([a, b]);
    } catch (err) {
      a.destroy();
      b?.destroy();
      throw err;
    }
  }

  /** Run a command inside namespace i (0 or 1). */
  run(i: 0 | 1, argv: string[]): Proc {
    const p = new Proc(['ip', 'netns', 'exec', this.ns[i].name, ...argv]);
    this.procs.push(p);
    return p;
  }

  /** Run a node script inside namespace i. */
  node(i: 0 | 1, script: string, args: string[]): Proc {
    return this.run(i, [process.execPath, script, ...args]);
  }

  /** The tunnel CLI in namespace i, towards the other one; extra arguments appended. */
  tunnel(i: 0 | 1, extra: string[] = []): Proc {
    const j = i === 0 ? 1 : 0;
    return this.node(i, CLI, [
      'tunnel',
      '--tun',
      TUN_NAME,
      '--address',
      `${INNER[i]}/24`,
      '--listen',
      `${OUTER[i]}:${UDP_PORT}`,
      '--peer',
      `${OUTER[j]}:${UDP_PORT}`,
      ...extra,
    ]);
  }

  /** Kill every process still running and delete both namespaces. Never throws. */
  async destroy(): Promise<void> {
    for (const p of this.procs) p.signal('SIGKILL');
    await Promise.all(this.procs.map((p) => p.exit(5000).catch(() => undefined)));
    for (const n of this.ns) n.destroy();
  }
}
