/**
 * Every datagram counted across rebinds under traffic. A child process in
 * a network namespace of its own (test/rebind-count-child.ts) sends
 * datagrams to a tunnel as fast as it can while the tunnel's socket is
 * replaced again and again, then checks where each one went. Here:
 *
 * - every datagram the peer sent is accounted for: written to the TUN
 *   device, or in one of the tunnel's drop counters, or (dgram backend
 *   only) in the kernel's own UDP counters of the namespace;
 * - on the io_uring and mmsg backends (SO_REUSEPORT, the old socket is
 *   drained up to its end marker) a rebind loses nothing: no `rebind`
 *   drops, every drain confirmed, no datagram refused by the kernel, and
 *   the tunnel's `receiveQueueFull` equals the kernel's RcvbufErrors;
 * - on the dgram backend (no SO_REUSEPORT in Node 20's node:dgram: the old
 *   socket is drained and closed before the new one binds) the only
 *   datagrams the tunnel does not see are the ones the kernel refused in
 *   that gap (NoPorts) or dropped on a full queue (RcvbufErrors).
 *
 * Then, with a tiny SO_RCVBUF so that the kernel drops datagrams on full
 * queues (the peer sends 64 per loop turn, the queue holds a few), the
 * tunnel's `receiveQueueFull` still equals the kernel's count, summed over
 * the sockets it retired (read from each one's end marker).
 *
 * And with the loopback interface down, where the end marker cannot come
 * back, a rebind is counted as unconfirmed (rebindsUnconfirmed).
 *
 * Skips (saying why) when not root.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Netns, tunSkipReason } from './netns.js';

const skip = tunSkipReason();
const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'rebind-count-child.js');
const UNCONFIRMED_CHILD = join(dirname(fileURLToPath(import.meta.url)), 'rebind-unconfirmed-child.js');
const DATAGRAMS = 100_000;

interface Result {
  accepted: number;
  sent: number;
  sentAll: boolean;
  settled: boolean;
  peerSendErrors: number;
  rebindsDuring: number;
  rebinds: number;
  rebindsUnconfirmed: number;
  rx: number;
  tx: number;
  drops: Record<string, number> & { total: number };
  backend: { udp: string; tun: string };
  snmp: Record<string, number>;
  errors: string[];
}

const cases = [
  { udp: 'io_uring', tun: 'io_uring' },
  { udp: 'mmsg', tun: 'io_uring' },
  { udp: 'mmsg', tun: 'poll' },
  { udp: 'dgram', tun: 'io_uring' },
] as const;

async function runChild(args: string[]): Promise<Result> {
  const ns = Netns.create('rbcount');
  try {
    const r = await ns.exec(process.execPath, [CHILD, ...args], 100_000);
    assert.equal(r.code, 0, `the child failed:\n${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Result;
  } finally {
    ns.destroy();
  }
}

for (const { udp, tun } of cases) {
  test(`every datagram is counted across rebinds under traffic (UDP ${udp}, TUN ${tun})`, { skip, timeout: 120_000 }, async () => {
    {
      const res = await runChild([udp, tun, String(DATAGRAMS)]);
      const info = JSON.stringify(res);
      console.log(`# UDP ${udp}, TUN ${tun}: ${info}`);
      assert.deepEqual(res.backend, { udp, tun });
      assert.equal(res.sentAll, true, `the peer's sends completed: ${info}`);
      assert.equal(res.peerSendErrors, 0, info);
      assert.equal(res.sent, DATAGRAMS, info);
      assert.deepEqual(res.errors, []);
      assert.ok(res.rebindsDuring >= 10, `the socket was replaced while datagrams flowed: ${info}`);
      assert.equal(res.tx, 0, 'nothing went the other way, so every drop is of a received datagram');
      assert.equal(res.rebindsUnconfirmed, 0, `every drain reached its end marker: ${info}`);
      const refused = res.snmp.NoPorts ?? 0;
      const kernelQueueFull = res.snmp.RcvbufErrors ?? 0;
      if (udp === 'dgram') {
        assert.equal(res.rx + res.drops.total + refused + kernelQueueFull, res.sent, `every datagram accounted for: ${info}`);
        assert.equal(res.drops.receiveQueueFull, 0, 'node:dgram cannot see the kernel counter');
      } else {
        assert.equal(res.rx + res.drops.total, res.sent, `every datagram accounted for by the tunnel: ${info}`);
        assert.equal(res.drops.rebind, 0, `a rebind loses nothing: ${info}`);
        assert.equal(refused, 0, `the kernel never found the port without a socket: ${info}`);
        assert.equal(res.drops.receiveQueueFull, kernelQueueFull, `the tunnel counts the kernel's queue drops: ${info}`);
      }
      assert.equal(res.settled, true, info);
    }
  });
}

for (const udp of ['io_uring', 'mmsg'] as const) {
  test(`kernel queue drops of every socket are counted across rebinds (UDP ${udp}, tiny SO_RCVBUF)`, { skip, timeout: 120_000 }, async () => {
    const res = await runChild([udp, 'io_uring', '20000', '2048']);
    const info = JSON.stringify(res);
    console.log(`# UDP ${udp}, tiny SO_RCVBUF: ${info}`);
    assert.equal(res.sent, 20_000, info);
    assert.ok(res.rebindsDuring >= 10, info);
    assert.equal(res.rebindsUnconfirmed, 0, info);
    const kernelQueueFull = res.snmp.RcvbufErrors ?? 0;
    assert.ok(kernelQueueFull > 0, `the kernel dropped datagrams on a full queue: ${info}`);
    assert.equal(res.drops.receiveQueueFull, kernelQueueFull, `the tunnel counts them all: ${info}`);
    assert.equal(res.drops.rebind, 0, info);
    assert.equal(res.rx + res.drops.total, res.sent, `every datagram accounted for: ${info}`);
  });
}

test('with the loopback down, a rebind whose drain cannot be confirmed is counted', { skip, timeout: 60_000 }, async () => {
  const ns = Netns.create('rbunconf');
  try {
    ns.ip('link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1');
    ns.ip('addr', 'add', '10.244.0.1/24', 'dev', 'veth0');
    ns.ip('link', 'set', 'veth0', 'up');
    ns.ip('link', 'set', 'veth1', 'up');
    ns.ip('link', 'set', 'lo', 'down');
    const r = await ns.exec(process.execPath, [UNCONFIRMED_CHILD], 50_000);
    assert.equal(r.code, 0, `the child failed:\n${r.stderr}`);
    const res = JSON.parse(r.stdout.trim()) as { rebinds: number; rebindsUnconfirmed: number };
    assert.equal(res.rebinds, 1);
    assert.equal(res.rebindsUnconfirmed, 1, JSON.stringify(res));
  } finally {
    ns.destroy();
  }
});
