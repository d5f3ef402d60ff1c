/**
 * Harness of the WireGuard interop tests (test/wireguard-interop.test.ts): network
 * namespaces on one LAN, each running a WireGuard implementation as a user
 * would: ours (`iouring-net wireguard -f NAME`, dist/src/cli/main.js) or
 * Debian's `wireguard-go -f NAME`, configured with `wg set` and `ip`, and
 * read back with `wg show NAME dump`.
 *
 * The LAN: a hub namespace with a bridge; node i has veth0 = 10.77.0.i/24
 * outside and, on its WireGuard interface, 10.78.0.i/24 inside. Interface
 * names are unique per test process (`iwg<pid><n>`): the UAPI sockets live
 * in /var/run/wireguard, which namespaces share. Everything is removed in
 * destroy(), even after a failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatePrivateKey, keyToBase64, publicKeyFromPrivate } from '../src/index.js';
import { Netns } from './netns.js';
import { CLI, Proc } from './tunnel-pair.js';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const TCP_SCRIPT = join(HERE, 'tunnel-tcp.js');
export const RELAY_SCRIPT = join(HERE, 'wg-relay-child.js');

export type Kind = 'ours' | 'wggo';

let ifCounter = 0;

/** A WireGuard interface name of this process (at most 15 bytes). */
export function uniqueWgName(): string {
  return `iwg${process.pid % 100000}n${ifCounter++ % 100}`;
}

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Why the interop tests cannot run here, or false. */
export function interopSkipReason(base: string | false): string | false {
  if (base) return base;
  for (const cmd of ['wg', 'wireguard-go', 'ping']) {
    if (!hasCommand(cmd)) return `\`${cmd}\` is not installed (scripts/ensure-tools.sh installs wireguard-tools, wireguard-go and ping as root)`;
  }
  return false;
}

/** One peer line of `wg show NAME dump`. */
export interface DumpPeer {
  publicKey: string;
  presharedKey: string;
  endpoint: string;
  allowedIPs: string;
  latestHandshake: number;
  rx: number;
  tx: number;
  persistentKeepalive: string;
}

/** `wg show NAME dump`, parsed. */
export interface Dump {
  privateKey: string;
  publicKey: string;
  listenPort: number;
  fwmark: string;
  peers: DumpPeer[];
}

export function parseDump(text: string): Dump {
  const lines = text.trim().split('\n');
  const [privateKey = '', publicKey = '', port = '0', fwmark = ''] = (lines[0] ?? '').split('\t');
  const peers = lines.slice(1).map((l) => {
    const f = l.split('\t');
    return {
      publicKey: f[0] ?? '',
      presharedKey: f[1] ?? '',
      endpoint: f[2] ?? '',
      allowedIPs: f[3] ?? '',
      latestHandshake: Number(f[4] ?? 0),
      rx: Number(f[5] ?? 0),
      tx: Number(f[6] ?? 0),
      persistentKeepalive: f[7] ?? '',
    };
  });
  return { privateKey, publicKey, listenPort: Number(port), fwmark, peers };
}

/** A WireGuard interface in its own namespace on the LAN. */
export class WgNode {
  readonly privateKey = keyToBase64(generatePrivateKey());
  readonly publicKey: string;
  readonly name = uniqueWgName();
  proc!: Proc;

  constructor(
    readonly lan: Lan,
    readonly ns: Netns,
    /** 1-based: outer 10.77.0.i, inner 10.78.0.i. */
    readonly index: number,
    readonly kind: Kind,
    readonly port: number,
  ) {
    this.publicKey = keyToBase64(publicKeyFromPrivate(Buffer.from(this.privateKey, 'base64')));
  }

  get outer(): string {
    return `10.77.0.${this.index}`;
  }

  get inner(): string {
    return `10.78.0.${this.index}`;
  }

  get endpoint(): string {
    return `${this.outer}:${this.port}`;
  }

  /** Start the implementation in the foreground, set key and port, address and up. */
  async start(env: Record<string, string> = {}): Promise<void> {
    const argv =
      this.kind === 'ours'
        ? [process.execPath, CLI, 'wireguard', '-f', this.name]
        : ['wireguard-go', '-f', this.name];
    this.proc = this.lan.run(this.ns, argv, { LOG_LEVEL: 'verbose', ...env });
    // wg can talk to it once the UAPI socket exists.
    const sock = `/var/run/wireguard/${this.name}.sock`;
    await waitFor(() => existsSync(sock) && this.tryWg(['show', this.name]) !== null, 20_000, `${this.kind} ${this.name} to serve its UAPI`, this.proc);
    this.wg(['set', this.name, 'private-key', this.lan.secretFile(this.privateKey), 'listen-port', String(this.port)]);
    this.ns.ip('addr', 'add', `${this.inner}/24`, 'dev', this.name);
    this.ns.ip('link', 'set', this.name, 'up');
  }

  /** `wg ARGS` inside the namespace; throws with its stderr on failure. */
  wg(args: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.ns.name, 'wg', ...args], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  tryWg(args: string[]): string | null {
    try {
      return this.wg(args);
    } catch {
      return null;
    }
  }

  /** Add or change a peer: the other node, with extra `wg set` peer arguments. */
  addPeer(other: WgNode, extra: string[] = [], allowed = `${other.inner}/32`): void {
    this.wg(['set', this.name, 'peer', other.publicKey, 'allowed-ips', allowed, 'endpoint', other.endpoint, ...extra]);
  }

  dump(): Dump {
    return parseDump(this.wg(['show', this.name, 'dump']));
  }

  peer(other: WgNode): DumpPeer {
    const p = this.dump().peers.find((x) => x.publicKey === other.publicKey);
    if (!p) throw new Error(`${this.name} has no peer ${other.publicKey}`);
    return p;
  }

  /** Ping the other node's inner address; true if all came back. */
  async ping(other: WgNode, count = 3, wait = 2): Promise<boolean> {
    const p = this.lan.run(this.ns, ['ping', '-c', String(count), '-i', '0.2', '-W', String(wait), other.inner]);
    const r = await p.exit(30_000);
    return r.code === 0 && new RegExp(`${count} received`).test(p.stdout);
  }

  /** Our device's counters (SIGUSR1 prints them); ours only. */
  async stats(): Promise<OurStats> {
    const before = this.proc.stdout.length;
    this.proc.signal('SIGUSR1');
    const re = /stats (\{[^\n]*\})\n/g;
    let m: RegExpExecArray | null = null;
    await waitFor(
      () => {
        re.lastIndex = before;
        m = re.exec(this.proc.stdout);
        return m !== null;
      },
      5000,
      'a stats line after SIGUSR1',
      this.proc,
    );
    return JSON.parse((m as unknown as RegExpExecArray)[1] ?? '{}') as OurStats;
  }

  /** SIGTERM; resolves with the exit status. */
  async stop(): Promise<number | null> {
    this.proc.signal('SIGTERM');
    return (await this.proc.exit(15_000)).code;
  }
}

/** The parts of device.stats() the tests read. */
export interface OurStats {
  drops: Record<string, number>;
  handshakeDrops: Record<string, number>;
  peers: { publicKey: string; endpoint: string | null; rxKeepalives: number; txKeepalives: number; rxBytes: number; txBytes: number; drops: Record<string, number> }[];
  handshake: { initiationsSent: number; responsesSent: number };
}

/**
 * Resolve when pred() holds; reject after ms (or when proc exited). Between
 * checks: `step` (e.g. send something), or a 50 ms pause.
 */
export async function waitFor(pred: () => boolean, ms: number, what: string, proc?: Proc, step?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (proc && !proc.running) throw new Error(`${what}: the process exited.\nstdout:\n${proc.stdout}\nstderr:\n${proc.stderr}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${proc ? `\nstdout:\n${proc.stdout}\nstderr:\n${proc.stderr}` : ''}`);
    await (step ? step() : new Promise((r) => setTimeout(r, 50)));
  }
}

/** The processes inside a namespace (`ip netns pids`, which is not one of them). */
export function netnsPids(ns: Netns): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A LAN of namespaces joined by a bridge in a hub namespace. */
export class Lan {
  readonly hub: Netns;
  readonly nodes: WgNode[] = [];
  private readonly procs: Proc[] = [];
  private readonly spaces: Netns[] = [];
  /** Key files for `wg set ... private-key FILE` (a pipe is not a file wg can open). */
  readonly dir = mkdtempSync(join(tmpdir(), 'iouring-net-wg-'));
  private files = 0;

  private constructor(private readonly tag: string) {
    this.hub = Netns.create(`${tag}h`);
    this.spaces.push(this.hub);
    this.hub.ip('link', 'add', 'br0', 'type', 'bridge');
    this.hub.ip('link', 'set', 'br0', 'up');
  }

  static create(tag: string): Lan {
    return new Lan(tag);
  }

  /** A file (mode 0600) holding `text`, for wg's key arguments. */
  secretFile(text: string): string {
    const path = join(this.dir, `k${this.files++}`);
    writeFileSync(path, `${text}\n`, { mode: 0o600 });
    return path;
  }

  /** A namespace on the LAN with its WireGuard node (not started). */
  node(kind: Kind, port = 51820): WgNode {
    const index = this.nodes.length + 1;
    const ns = Netns.create(`${this.tag}${index}`);
    this.spaces.push(ns);
    const hubSide = `v${index}`;
    ns.ip('link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', hubSide, 'netns', this.hub.name);
    this.hub.ip('link', 'set', hubSide, 'master', 'br0');
    this.hub.ip('link', 'set', hubSide, 'up');
    ns.ip('addr', 'add', `10.77.0.${index}/24`, 'dev', 'veth0');
    ns.ip('link', 'set', 'veth0', 'up');
    const n = new WgNode(this, ns, index, kind, port);
    this.nodes.push(n);
    return n;
  }

  /** Run a command inside a namespace (killed in destroy()). */
  run(ns: Netns, argv: string[], env: Record<string, string> = {}): Proc {
    const p = new Proc(['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'ip', 'netns', 'exec', ns.name, ...argv]);
    this.procs.push(p);
    return p;
  }

  /**
   * Kill every process still running, those started here and those left in
   * the namespaces (a daemon that wg-quick started), and delete the
   * namespaces. Never throws.
   */
  async destroy(): Promise<void> {
    for (const p of this.procs) p.signal('SIGTERM');
    await Promise.all(this.procs.map((p) => p.exit(10_000).catch(() => undefined)));
    for (const n of this.spaces) {
      for (const pid of netnsPids(n)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    for (const n of this.spaces) n.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A TCP transfer of `bytes` from one node to another's inner address; both JSON results. */
export async function tcpTransfer(from: WgNode, to: WgNode, bytes: number, port: number): Promise<{ sent: Transfer; got: Transfer }> {
  const lan = from.lan;
  const sink = lan.run(to.ns, [process.execPath, TCP_SCRIPT, 'sink', to.inner, String(port)]);
  await sink.waitFor(/READY/, 20_000, 'the TCP sink to listen');
  const source = lan.run(from.ns, [process.execPath, TCP_SCRIPT, 'source', to.inner, String(port), String(bytes)]);
  const sr = await source.exit(180_000);
  if (sr.code !== 0) throw new Error(`TCP source failed:\n${source.stderr}`);
  const kr = await sink.exit(30_000);
  if (kr.code !== 0) throw new Error(`TCP sink failed:\n${sink.stderr}`);
  return { sent: lastJson(source), got: lastJson(sink) };
}

export interface Transfer {
  bytes: number;
  sha256: string;
}

function lastJson(p: Proc): Transfer {
  return JSON.parse(p.stdout.trim().split('\n').pop() ?? '') as Transfer;
}
