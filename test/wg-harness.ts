/**
 * Two WireGuard devices in this process for the WireGuard device tests:
 * each TUN interface moved into its own network namespace (so pings and
 * routes stay there), the two UDP sockets on this namespace's loopback.
 * Optionally a relay between them (A -> relay -> B and back) that records
 * what A sends, to replay and forge from, and a shared ManualClock so
 * timers run only when a test advances time.
 */
import { execFileSync } from 'node:child_process';
import { openUdp, createWireGuard, generatePrivateKey, publicKeyFromPrivate, type UdpSocket, type WireGuardDevice, type WireGuardOptions, type WireGuardPeerOptions } from '../src/index.js';
import { ManualClock } from '../src/wireguard/clock.js';
import { Netns, uniqueIfName, type ExecResult } from './netns.js';
import { waitUntil } from './helpers.js';

export const INNER_A = '10.77.0.1';
export const INNER_B = '10.77.0.2';

export interface PairOptions {
  /** Share a ManualClock (and a wall clock that follows it). */
  manual?: boolean;
  /** Put a recording relay between the devices. */
  relay?: boolean;
  a?: Partial<WireGuardOptions>;
  b?: Partial<WireGuardOptions>;
  /** A's settings of its peer B (publicKey, endpoint... override the defaults). */
  peerOfA?: Partial<WireGuardPeerOptions>;
  peerOfB?: Partial<WireGuardPeerOptions>;
}

export class Relay {
  readonly sock: UdpSocket;
  /** Datagrams A sent towards B, copied. */
  readonly fromA: Buffer[] = [];
  aPort = 0;
  bPort = 0;
  constructor() {
    this.sock = openUdp({ type: 'udp4', address: '127.0.0.1', port: 0, backend: 'mmsg', quiet: true });
    this.sock.onBatch = (b) => {
      for (let i = 0; i < b.length; i++) {
        const port = b.port(i);
        if (port === this.aPort) {
          this.fromA.push(b.copy(i));
          this.sock.send(b.data(i), this.bPort, '127.0.0.1');
        } else if (port === this.bPort) {
          this.sock.send(b.data(i), this.aPort, '127.0.0.1');
        }
      }
    };
  }
  get port(): number {
    return this.sock.address().port;
  }
  /** Send raw bytes to B as if they came from A's side. */
  toB(data: Uint8Array): void {
    this.sock.send(data, this.bPort, '127.0.0.1');
  }
}

export class LocalPair {
  readonly clock: ManualClock | undefined;
  relay: Relay | undefined;
  a!: WireGuardDevice;
  b!: WireGuardDevice;
  readonly nsA: Netns;
  readonly nsB: Netns;
  readonly keyA = generatePrivateKey();
  readonly keyB = generatePrivateKey();
  readonly events: { dev: 'a' | 'b'; type: string; data: unknown }[] = [];

  private constructor(manual: boolean) {
    this.clock = manual ? new ManualClock(1_000_000) : undefined;
    this.nsA = Netns.create('wga');
    this.nsB = Netns.create('wgb');
  }

  static async create(o: PairOptions = {}): Promise<LocalPair> {
    const p = new LocalPair(o.manual === true);
    try {
      await p.start(o);
      return p;
    } catch (err) {
      await p.destroy();
      throw err;
    }
  }

  private async start(o: PairOptions): Promise<void> {
    const clock = this.clock;
    const wall0 = BigInt(Date.now()) * 1_000_000n;
    const timing = clock ? { clock, wallClock: () => wall0 + BigInt(Math.floor(clock.now() * 1e6)) } : {};
    const ifA = uniqueIfName();
    const ifB = uniqueIfName();
    this.a = await createWireGuard({ interface: ifA, privateKey: this.keyA, quiet: true, ...timing, ...o.a });
    this.b = await createWireGuard({ interface: ifB, privateKey: this.keyB, quiet: true, ...timing, ...o.b });
    for (const [name, d] of [['a', this.a], ['b', this.b]] as const) {
      for (const type of ['handshake', 'roam', 'error']) d.on(type, (data: unknown) => this.events.push({ dev: name, type, data }));
    }
    if (o.relay) {
      const r = new Relay();
      this.relay = r;
      r.aPort = this.a.listenPort;
      r.bPort = this.b.listenPort;
    }
    const toB = this.relay ? this.relay.port : this.b.listenPort;
    const toA = this.relay ? this.relay.port : this.a.listenPort;
    this.a.addPeer({ publicKey: publicKeyFromPrivate(this.keyB), endpoint: `127.0.0.1:${toB}`, allowedIPs: [`${INNER_B}/32`], ...o.peerOfA });
    this.b.addPeer({ publicKey: publicKeyFromPrivate(this.keyA), endpoint: `127.0.0.1:${toA}`, allowedIPs: [`${INNER_A}/32`], ...o.peerOfB });
    for (const [ns, dev, addr] of [
      [this.nsA, this.a, INNER_A],
      [this.nsB, this.b, INNER_B],
    ] as const) {
      // Moved from this namespace into ns (where it dies with ns at the latest).
      execFileSync('ip', ['link', 'set', dev.tun.name, 'netns', ns.name], { stdio: 'ignore', timeout: 10_000 });
      ns.ip('addr', 'add', `${addr}/24`, 'dev', dev.tun.name);
      ns.ip('link', 'set', dev.tun.name, 'up');
    }
  }

  /** Datagrams a device has queued on its socket so far: transport messages and handshake messages. */
  private pushed(d: WireGuardDevice): number {
    const s = d.stats();
    const h = s.handshake;
    return s.peers.reduce((n, peer) => n + peer.txPackets, 0) + h.initiationsSent + h.responsesSent + h.cookiesSent;
  }

  /**
   * Wait (bounded) until every datagram each device queued has reached the
   * other (no relay): what the timers sent during a clock step has been
   * received and acted on before time moves again.
   */
  async settle(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // the turn's flushes go out
    await this.until(
      () => this.b.stats().udp.packetsIn >= this.pushed(this.a) && this.a.stats().udp.packetsIn >= this.pushed(this.b),
      'both devices received what the other sent',
    );
  }

  /**
   * Move the shared clock forward by ms in steps (1 s by default), letting
   * the packets each step's timers send arrive before the next step, as
   * they would in real time.
   */
  async advance(ms: number, step = 1000): Promise<void> {
    const clock = this.clock;
    if (!clock) throw new Error('not a manual-clock pair');
    for (let left = ms; left > 0; left -= step) {
      clock.advance(Math.min(step, left));
      await this.settle();
    }
  }

  /** One ping from A's namespace to `to` (default B), bounded. */
  ping(to = INNER_B, extra: string[] = [], waitSeconds = 3): Promise<ExecResult> {
    return this.nsA.exec('ping', ['-c', '1', '-W', String(waitSeconds), ...extra, to], (waitSeconds + 5) * 1000);
  }

  /** The count of events of a type from a device. */
  count(dev: 'a' | 'b', type: string): number {
    return this.events.filter((e) => e.dev === dev && e.type === type).length;
  }

  /** Wait (bounded, real time) until pred holds. */
  until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
    return waitUntil(pred, ms, what);
  }

  async destroy(): Promise<void> {
    await Promise.all([this.a?.close(), this.b?.close()]);
    if (this.relay?.sock.isOpen) this.relay.sock.close();
    this.nsA.destroy();
    this.nsB.destroy();
  }
}
