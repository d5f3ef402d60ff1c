/**
 * One end-to-end run of the tunnel CLI with TUN offloads, shared by
 * tunnel-offload.test.ts (1 GB each way) and tun-forward.test.ts (small,
 * so that the ASan addon runs the forwarders too): two namespaces, a
 * tunnel in each with its own --offload, and at the same time
 *
 *   - TCP over IPv4, `bytes` each way (A -> B and B -> A), sha256 equal;
 *   - TCP over IPv6 (addresses added to the TUN devices), A -> B;
 *   - UDP round trips (udp-echo-child.ts), every echo intact;
 *   - ping with 1400-byte payloads until 10 replies came back.
 *
 * Then the counters (SIGUSR1) must show the offloads at work where they
 * are on (super-segments read and split, coalesced writes) and nowhere
 * else, nothing malformed and nothing from strangers; SIGTERM ends both
 * with status 0.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INNER, TUN_NAME, TunnelPair, type Proc } from './tunnel-pair.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const TCP = join(HERE, 'tunnel-tcp.js');
const UDP_ECHO = join(HERE, 'udp-echo-child.js');
const INNER6 = ['fd00:232::1', 'fd00:232::2'] as const;

export type OffloadMode = 'on' | 'off' | 'auto';

export interface OffloadRun {
  tunBackend: 'io_uring' | 'poll';
  /** --offload of the tunnel in namespace A and B. */
  offload: [OffloadMode, OffloadMode];
  /** Bytes of TCP over IPv4 each way, and over IPv6 A -> B. */
  bytes: number;
  bytes6: number;
}

interface Transfer {
  bytes: number;
  sha256: string;
}

function lastJson<T>(p: Proc): T {
  return JSON.parse(p.stdout.trim().split('\n').pop() ?? '') as T;
}

/** The last stats line printed after SIGUSR1. */
async function freshStats(p: Proc): Promise<Record<string, string>> {
  const before = p.stdout.length;
  p.signal('SIGUSR1');
  const deadline = Date.now() + 5000;
  let line: string | undefined;
  while (!(line = /stats ([^\n]*)\n/.exec(p.stdout.slice(before))?.[1]) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(line, `a stats line after SIGUSR1; stdout:\n${p.stdout}`);
  return Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string]));
}

/** Wait for a child and check it succeeded; its last JSON line. */
async function result<T>(p: Proc, ms: number, what: string): Promise<T> {
  const r = await p.exit(ms);
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${p.stderr}`);
  return lastJson<T>(p);
}

export async function runOffloadCase(c: OffloadRun, log: (line: string) => void): Promise<void> {
  const pair = TunnelPair.create('tunoff');
  try {
    const tunnels = ([0, 1] as const).map((i) =>
      pair.tunnel(i, ['--tun-backend', c.tunBackend, '--offload', c.offload[i]]),
    );
    for (const [i, t] of tunnels.entries()) {
      const m = await t.waitFor(/up: .*, offloads (\S+), (\S+) forwarding/, 20_000, 'the tunnel to come up');
      const off = c.offload[i] === 'off';
      assert.equal(m[1] === 'off', off, `offloads of tunnel ${i}: ${m[0]}`);
      assert.equal(m[2], off ? 'js' : 'native');
    }
    ([0, 1] as const).forEach((i) => pair.ns[i].ip('addr', 'add', `${INNER6[i]}/64`, 'dev', TUN_NAME, 'nodad'));

    const sinks = [
      pair.node(1, TCP, ['sink', INNER[1], '9000']),
      pair.node(0, TCP, ['sink', INNER[0], '9001']),
      pair.node(1, TCP, ['sink', INNER6[1], '9002']),
    ];
    const echo = pair.node(1, UDP_ECHO, ['server', INNER[1], '9003']);
    for (const s of [...sinks, echo]) await s.waitFor(/READY/, 20_000, 'a listener');
    const sources = [
      pair.node(0, TCP, ['source', INNER[1], '9000', String(c.bytes)]),
      pair.node(1, TCP, ['source', INNER[0], '9001', String(c.bytes)]),
      pair.node(0, TCP, ['source', INNER6[1], '9002', String(c.bytes6)]),
    ];
    const udp = pair.node(0, UDP_ECHO, ['client', INNER[1], '9003', '200', '900']);
    const ping = pair.run(0, ['ping', '-c', '10', '-w', '60', '-i', '0.2', '-s', '1400', INNER[1]]);

    const names = ['IPv4 A -> B', 'IPv4 B -> A', 'IPv6 A -> B'];
    for (let k = 0; k < 3; k++) {
      const sent = await result<Transfer>(sources[k]!, 240_000, `TCP source ${names[k]}`);
      const got = await result<Transfer>(sinks[k]!, 30_000, `TCP sink ${names[k]}`);
      const want = k === 2 ? c.bytes6 : c.bytes;
      assert.equal(sent.bytes, want);
      assert.equal(got.bytes, want, `${names[k]}: every byte arrived`);
      assert.equal(got.sha256, sent.sha256, `${names[k]}: the checksums match`);
    }
    const u = await result<{ done: number; resent: number; corrupt: number }>(udp, 120_000, 'UDP echo client');
    assert.equal(u.done, 200);
    assert.equal(u.corrupt, 0, 'no UDP datagram was changed');
    const pr = await ping.exit(90_000);
    assert.equal(pr.code, 0, `ping:\n${ping.stdout}${ping.stderr}`);
    echo.signal('SIGTERM');

    const stats = [await freshStats(tunnels[0]!), await freshStats(tunnels[1]!)];
    for (const [i, s] of stats.entries()) {
      assert.equal(s.tun_backend, c.tunBackend);
      assert.equal(s.drop_not_from_peer, '0');
      assert.equal(s.drop_malformed, '0');
      assert.equal(s.tun_offload_errors, '0');
      assert.equal(s.tun_offload_fallbacks, '0');
      const on = c.offload[i] !== 'off';
      // The kernel hands an offloading device TSO super-segments, and the
      // device coalesces what it writes; a plain one sees neither.
      assert.equal(Number(s.tun_super_in) > 0, on, `super-segments read by ${i}: ${s.tun_super_in}`);
      assert.equal(Number(s.tun_coalesced_writes) > 0, on, `coalesced writes by ${i}: ${s.tun_coalesced_writes}`);
    }
    const keys = ['tx_packets', 'rx_packets', 'drops_total', 'udp_gso_sends', 'udp_gro_receives', 'tun_super_in', 'tun_coalesced_writes', 'tun_coalesced_packets', 'tun_split_deferred'];
    const brief = (s: Record<string, string>): string => keys.map((k) => `${k}=${s[k]}`).join(' ');
    log(`${c.tunBackend} ${c.offload.join('/')}: UDP echoes re-sent ${u.resent}; A: ${brief(stats[0]!)}; B: ${brief(stats[1]!)}`);

    for (const t of tunnels) t.signal('SIGTERM');
    for (const t of tunnels) {
      const r = await t.exit(15_000);
      assert.equal(r.code, 0, `exit status after SIGTERM:\n${t.stderr}`);
    }
  } finally {
    await pair.destroy();
  }
}
