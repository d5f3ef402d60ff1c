/**
 * Run inside a network namespace of its own (test/tunnel-rebind-count.test.ts):
 *
 *   node rebind-count-child.js UDP_BACKEND TUN_BACKEND DATAGRAMS [RCVBUF]
 *
 * A tunnel (UDP on 127.0.0.1, its TUN device in this namespace) and a peer
 * socket that sends DATAGRAMS datagrams to it as fast as the peer's send
 * ring allows, each one an IPv4 ICMP packet to the TUN's own address that
 * the kernel takes and answers nothing (so nothing comes back). While
 * they flow, the tunnel's socket is replaced again and again; after the
 * last one a final rebind drains the socket that took the tail. Then it
 * waits (bounded) until every datagram the peer sent is accounted for by
 * the tunnel or the kernel, and prints one JSON line: what was sent, the
 * tunnel's counters, and the namespace's UDP counters (/proc/net/snmp)
 * before and after. The namespace holds nothing else, so the kernel's
 * counters are this test's alone. IPv6 is off so the TUN device sends
 * nothing of its own. RCVBUF sets the tunnel sockets' SO_RCVBUF (a tiny
 * one makes the kernel drop datagrams on full queues, of old sockets too).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createTunnel, netdev, openUdp, type RecvBatch } from '../src/index.js';
import { ip4 } from './tun-packets.js';

type UdpBackend = 'io_uring' | 'mmsg' | 'dgram';
type TunBackend = 'io_uring' | 'poll';

const [udpBackend = 'io_uring', tunBackend = 'io_uring', countText = '100000', rcvbufText = ''] = process.argv.slice(2);
const COUNT = Number(countText);
const RCVBUF = rcvbufText ? Number(rcvbufText) : undefined;
const CHUNK = 64;

/** The Udp line of /proc/net/snmp as a map. */
function udpSnmp(): Record<string, number> {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const keys = (lines[0] ?? '').split(/\s+/).slice(1);
  const vals = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(keys.map((k, i) => [k, vals[i] ?? 0]));
}

/**
 * An IPv4 ICMP echo reply (type 0) from 10.241.0.2 to 10.241.0.1 with a
 * valid IP header: the tunnel writes it to the TUN device and the kernel
 * discards it (its ICMP checksum is left 0), answering nothing.
 */
function echoReply(): Uint8Array {
  const p = new Uint8Array(20 + 8 + 100);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[8] = 64;
  p[9] = 1;
  p.set(ip4('10.241.0.2'), 12);
  p.set(ip4('10.241.0.1'), 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ((p[i] ?? 0) << 8) | (p[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  p[10] = (~sum >> 8) & 0xff;
  p[11] = ~sum & 0xff;
  return p;
}

async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!pred() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return pred();
}

async function main(): Promise<void> {
  for (const k of ['all', 'default']) writeFileSync(`/proc/sys/net/ipv6/conf/${k}/disable_ipv6`, '1');
  const peer = openUdp({ type: 'udp4', address: '127.0.0.1', gso: false });
  let junk = 0;
  peer.onBatch = (b: RecvBatch) => (junk += b.length);
  const tunnel = await createTunnel({
    tun: { name: 'rbcount0', backend: tunBackend as TunBackend },
    listen: '127.0.0.1:0',
    peer: `127.0.0.1:${peer.address().port}`,
    backend: udpBackend as UdpBackend,
    ...(RCVBUF !== undefined ? { udp: { recvBufferSize: RCVBUF } } : {}),
    quiet: true,
  });
  const errors: string[] = [];
  tunnel.on('error', (err: Error) => errors.push(err.message));
  netdev.addAddress(tunnel.tun.name, '10.241.0.1/24');
  netdev.linkUp(tunnel.tun.name);
  const port = tunnel.local.port;
  const snmp0 = udpSnmp();

  const packet = echoReply();
  let accepted = 0;
  let sending = true;
  const sender = (async () => {
    while (accepted < COUNT) {
      let n = 0;
      while (n < CHUNK && accepted < COUNT && peer.send(packet, port, '127.0.0.1')) {
        n++;
        accepted++;
      }
      await new Promise((r) => setImmediate(r));
    }
    sending = false;
  })();
  let rebindsDuring = 0;
  while (sending) {
    await tunnel.rebind();
    if (sending) rebindsDuring++;
  }
  await sender;
  const sentAll = await waitFor(() => {
    const s = peer.stats();
    return s.packetsOut + s.sendErrors >= accepted;
  }, 10_000);
  // The socket that took the tail is drained by one more rebind.
  await tunnel.rebind();
  const sent = peer.stats().packetsOut;
  const accounted = (): number => {
    const t = tunnel.stats();
    const k = udpSnmp();
    // What the kernel refused or dropped without the tunnel seeing it.
    const kernel = (k.NoPorts ?? 0) - (snmp0.NoPorts ?? 0) + (udpBackend === 'dgram' ? (k.RcvbufErrors ?? 0) - (snmp0.RcvbufErrors ?? 0) : 0);
    return t.rx.packets + t.drops.total + kernel;
  };
  const settled = await waitFor(() => accounted() >= sent, 10_000);
  const s = tunnel.stats();
  const snmp1 = udpSnmp();
  await tunnel.close();
  peer.close();
  const out = {
    accepted,
    sent,
    sentAll,
    settled,
    peerSendErrors: peer.stats().sendErrors,
    rebindsDuring,
    rebinds: s.rebinds,
    rebindsUnconfirmed: s.rebindsUnconfirmed,
    rx: s.rx.packets,
    tx: s.tx.packets,
    drops: s.drops,
    backend: s.backend,
    snmp: Object.fromEntries(Object.keys(snmp1).map((k) => [k, (snmp1[k] ?? 0) - (snmp0[k] ?? 0)])),
    errors,
    junk,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

setTimeout(() => {
  process.stderr.write('rebind-count-child: gave up after 90 s\n');
  process.exit(1);
}, 90_000).unref();
main().catch((err: unknown) => {
  process.stderr.write(`rebind-count-child: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
