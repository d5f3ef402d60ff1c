/**
 * Ours against ours: two WireGuard devices, each in its own process and
 * network namespace, joined by a veth pair (10.231.0.1 <-> 10.231.0.2;
 * test/tunnel-pair.ts). Each run: the handshake (started by the first
 * ping), ping, and a TCP transfer through the tunnel whose sha256 must be
 * the same at both ends, on a pair of UDP and TUN backends. One run moves
 * the receiving peer to another address mid-transfer (roaming).
 *
 * Needs root (namespaces, TUN devices); skips saying why otherwise.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generatePrivateKey, keyToBase64, publicKeyFromPrivate, type WireGuardStats } from '../src/index.js';
import { tunSkipReason } from './netns.js';
import { OUTER, TunnelPair, type Proc } from './tunnel-pair.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD = join(HERE, 'wg-device-child.js');
const TCP = join(HERE, 'tunnel-tcp.js');
const INNER = ['10.233.0.1', '10.233.0.2'] as const;
const PORT = [51820, 51821] as const;
const skip = tunSkipReason(['ping']);

/** A device process (wg-device-child.ts) with a line protocol on stdin/stdout. */
class Child {
  readonly proc: ChildProcessWithoutNullStreams;
  out = '';
  private waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(netns: string, config: object) {
    this.proc = spawn('ip', ['netns', 'exec', netns, process.execPath, CHILD, JSON.stringify(config)], { stdio: 'pipe' });
    const wake = (): void => {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    };
    this.proc.stdout.on('data', (d: Buffer) => {
      this.out += d.toString();
      wake();
    });
    this.proc.stderr.on('data', (d: Buffer) => {
      this.out += d.toString();
      wake();
    });
    this.exited = new Promise((resolve) => this.proc.once('close', (code) => (wake(), resolve(code))));
  }

  /** The first line matching re (searched from `from`), bounded. */
  async line(re: RegExp, ms: number, what: string, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.out.slice(from));
      if (m) return m;
      if (this.proc.exitCode !== null) throw new Error(`${what}: the device process exited:\n${this.out}`);
      if (Date.now() > deadline) throw new Error(`${what}: timed out after ${ms} ms:\n${this.out}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
  }

  async stats(): Promise<WireGuardStats> {
    const from = this.out.length;
    this.proc.stdin.write('stats\n');
    const m = await this.line(/STATS (.*)\n/, 5000, 'stats', from);
    return JSON.parse(m[1]!) as WireGuardStats;
  }

  async close(): Promise<void> {
    if (this.proc.exitCode === null) this.proc.stdin.write('close\n');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

interface Side {
  backend: 'io_uring' | 'mmsg' | 'dgram';
  tunBackend: 'io_uring' | 'poll';
  /** Run this end's device in a worker thread (wg-device-child.ts). */
  worker?: boolean;
}

/** Two devices on the pair's namespaces, each the other's only peer. */
async function startDevices(pair: TunnelPair, sides: [Side, Side]): Promise<[Child, Child]> {
  const keys = [generatePrivateKey(), generatePrivateKey()];
  const children = [0, 1].map((i) => {
    const j = 1 - i;
    return new Child(pair.ns[i as 0 | 1].name, {
      ifname: 'wgt0',
      address: `${INNER[i]}/24`,
      privateKey: keyToBase64(keys[i]!),
      listenPort: PORT[i],
      ...sides[i],
      peers: [{ publicKey: keyToBase64(publicKeyFromPrivate(keys[j]!)), endpoint: `${OUTER[j]}:${PORT[j]}`, allowedIPs: [`${INNER[j]}/32`] }],
    });
  }) as [Child, Child];
  const ready = await Promise.all(children.map((c) => c.line(/READY (.*)\n/, 15_000, 'device start')));
  ready.forEach((m, i) => {
    const { thread } = JSON.parse(m[1]!) as { thread: number };
    assert.equal(thread !== 0, sides[i]!.worker === true, `end ${i} runs on the thread asked for (threadId ${thread})`);
  });
  return children;
}

/** A TCP transfer of `bytes` from namespace `from` to the other through the tunnel, with equal sha256 at both ends. */
async function transfer(pair: TunnelPair, bytes: number, from: 0 | 1 = 0, during?: (sink: Proc) => Promise<void>): Promise<void> {
  const to = from === 0 ? 1 : 0;
  const sink = pair.node(to, TCP, ['sink', INNER[to], '5001']);
  await sink.waitFor(/READY/, 10_000, 'sink ready');
  const source = pair.node(from, TCP, ['source', INNER[to], '5001', String(bytes)]);
  if (during) await during(sink);
  const [sent, got] = await Promise.all([
    source.waitFor(/\{.*\}/, 120_000, 'source done'),
    sink.waitFor(/\{.*\}/, 120_000, 'sink done'),
  ]);
  const a = JSON.parse(sent[0]) as { bytes: number; sha256: string };
  const b = JSON.parse(got[0]) as { bytes: number; sha256: string };
  assert.equal(a.bytes, bytes);
  assert.deepEqual(b, a, 'the receiver got exactly what was sent');
}

async function ping(pair: TunnelPair, from: 0 | 1): Promise<void> {
  const r = await pair.ns[from].exec('ping', ['-c', '3', '-i', '0.2', '-W', '5', INNER[1 - from]!], 30_000);
  assert.equal(r.code, 0, `ping through the tunnel failed:\n${r.stdout}${r.stderr}`);
}

const RUNS: { name: string; sides: [Side, Side]; bytes: number }[] = [
  { name: 'io_uring UDP, io_uring TUN on both ends', sides: [{ backend: 'io_uring', tunBackend: 'io_uring' }, { backend: 'io_uring', tunBackend: 'io_uring' }], bytes: 64 << 20 },
  { name: 'mmsg UDP + poll TUN against io_uring UDP + poll TUN', sides: [{ backend: 'mmsg', tunBackend: 'poll' }, { backend: 'io_uring', tunBackend: 'poll' }], bytes: 24 << 20 },
  { name: 'dgram UDP + io_uring TUN against mmsg UDP + io_uring TUN', sides: [{ backend: 'dgram', tunBackend: 'io_uring' }, { backend: 'mmsg', tunBackend: 'io_uring' }], bytes: 8 << 20 },
  {
    name: 'both ends in worker threads (io_uring)',
    sides: [
      { backend: 'io_uring', tunBackend: 'io_uring', worker: true },
      { backend: 'io_uring', tunBackend: 'io_uring', worker: true },
    ],
    bytes: 32 << 20,
  },
];

for (const run of RUNS) {
  test(`WireGuard ours-to-ours across namespaces: ${run.name}: handshake, ping, TCP ${run.bytes >> 20} MB with equal sha256`, { skip, timeout: 180_000 }, async () => {
    const pair = TunnelPair.create('wgd');
    let devs: [Child, Child] | undefined;
    try {
      devs = await startDevices(pair, run.sides);
      await ping(pair, 0);
      await devs[0].line(/HANDSHAKE (.*"initiator":true.*)\n/, 5000, 'initiator handshake event');
      await devs[1].line(/HANDSHAKE (.*"initiator":false.*)\n/, 5000, 'responder handshake event');
      await transfer(pair, run.bytes);
      const [a, b] = await Promise.all([devs[0].stats(), devs[1].stats()]);
      assert.equal(a.backend.udp, run.sides[0].backend);
      assert.equal(b.backend.tun, run.sides[1].tunBackend);
      const pa = a.peers[0]!;
      const pb = b.peers[0]!;
      assert.equal(pa.endpoint, `${OUTER[1]}:${PORT[1]}`);
      assert.equal(pb.endpoint, `${OUTER[0]}:${PORT[0]}`);
      assert.ok(pa.txBytes > run.bytes, 'the transfer went through the tunnel');
      // What one side sent the other received (UDP payload bytes, as wg show counts them), less drops on the way.
      assert.ok(pb.rxBytes <= pa.txBytes && pb.rxBytes > run.bytes);
      for (const s of [a, b]) {
        assert.equal(s.drops.auth, 0);
        assert.equal(s.drops.replay, 0);
        assert.equal(s.drops.sourceNotAllowed, 0);
        assert.equal(s.handshake.indices, s.peers[0]!.keypairs, 'a live index per keypair, nothing leaked');
      }
    } finally {
      await Promise.all((devs ?? []).map((d) => d.close()));
      await pair.destroy();
    }
  });
}

test('WireGuard roaming: a peer moves to another address mid-transfer; the other end follows its packets, nothing is lost', { skip, timeout: 180_000 }, async () => {
  const pair = TunnelPair.create('wgr');
  let devs: [Child, Child] | undefined;
  try {
    const sides: [Side, Side] = [
      { backend: 'io_uring', tunBackend: 'io_uring' },
      { backend: 'io_uring', tunBackend: 'io_uring' },
    ];
    devs = await startDevices(pair, sides);
    await ping(pair, 0);
    const [a] = devs;
    const moved = '10.231.0.3';
    // The sending end moves (a peer that sends nothing after moving cannot
    // be followed until it does: WireGuard learns endpoints from packets).
    await transfer(pair, 96 << 20, 1, async (sink) => {
      // Once data flows, its namespace swaps its address: its packets leave
      // from the new one, and the old one is gone.
      for (let i = 0; i < 200 && (await a.stats()).peers[0]!.rxBytes < 4 << 20; i++) await new Promise((r) => setTimeout(r, 20));
      const nsB = pair.ns[1];
      await nsB.exec('sh', ['-c', 'echo 1 > /proc/sys/net/ipv4/conf/veth0/promote_secondaries'], 5000);
      nsB.ip('addr', 'add', `${moved}/24`, 'dev', 'veth0');
      nsB.ip('addr', 'del', `${OUTER[1]}/24`, 'dev', 'veth0');
      assert.doesNotMatch(sink.stdout, /\{/, 'the move happened while data was still flowing');
    });
    await a.line(new RegExp(`ROAM .*${moved.replace(/\./g, '\\.')}:${PORT[1]}`), 5000, 'roam event');
    const s = await a.stats();
    assert.equal(s.peers[0]!.endpoint, `${moved}:${PORT[1]}`, 'the endpoint followed the authenticated packets');
    assert.equal(s.peers[0]!.handshakes, 1, 'followed without a new handshake');
    assert.equal(s.handshakeDrops['decrypt-failed'] ?? 0, 0);
  } finally {
    await Promise.all((devs ?? []).map((d) => d.close()));
    await pair.destroy();
  }
});
