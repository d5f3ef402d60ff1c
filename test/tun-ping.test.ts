/**
 * A TUN device answers ping: the test creates a network namespace, moves a
 * new TUN device into it with an address, and runs `ping` there towards a
 * peer address routed to the device. The handler reads each ICMP echo
 * request from the device and writes the reply; ping must succeed. For
 * every read mode, with and without the packet information header, and
 * over IPv6 with the header (its ethertype is chosen by IP version). On the
 * backend of the run (helpers.ts FILE_BACKEND): io_uring, or poll with
 * IOURING_NET_BACKEND=mmsg. Skips (saying why) when not root or without
 * `ip`/`ping`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netdev, openTun, type PacketBatch, type TunDevice } from '../src/index.js';
import { FILE_BACKEND, readModeOption, waitUntil } from './helpers.js';
import { Netns, tunSkipReason, uniqueIfName } from './netns.js';
import { echoReplyFor } from './tun-packets.js';

const skip = tunSkipReason(['ping']);

function closeDevice(dev: TunDevice | undefined): Promise<void> {
  if (!dev || !dev.isOpen) return Promise.resolve();
  return new Promise<void>((resolve) => dev.close(resolve));
}

interface Case {
  readMode: 'multishot' | 'single' | 'poll';
  packetInfo: boolean;
  v6: boolean;
}

const cases: Case[] =
  FILE_BACKEND === 'poll'
    ? [
        { readMode: 'poll', packetInfo: false, v6: false },
        { readMode: 'poll', packetInfo: true, v6: false },
        { readMode: 'poll', packetInfo: true, v6: true },
        { readMode: 'poll', packetInfo: false, v6: true },
      ]
    : [
        { readMode: 'multishot', packetInfo: false, v6: false },
        { readMode: 'multishot', packetInfo: true, v6: false },
        { readMode: 'single', packetInfo: false, v6: false },
        { readMode: 'single', packetInfo: true, v6: false },
        { readMode: 'multishot', packetInfo: true, v6: true },
        { readMode: 'single', packetInfo: false, v6: true },
      ];

for (const c of cases) {
  const label = `${c.readMode} reads, packetInfo ${c.packetInfo}, ${c.v6 ? 'IPv6' : 'IPv4'}`;
  test(`ping through a TUN device answered from JS (${label})`, { skip }, async (t) => {
    const ns = Netns.create('ping');
    let dev: TunDevice | undefined;
    try {
      dev = openTun({ name: uniqueIfName(), packetInfo: c.packetInfo, readMode: readModeOption(c.readMode) });
      assert.equal(dev.backend, FILE_BACKEND);
      if (dev.readMode !== c.readMode) {
        t.skip(`the kernel has no ${c.readMode} reads for TUN (IORING_OP_READ_MULTISHOT needs Linux 6.7)`);
        return;
      }
      const name = dev.name;
      const opts = { netns: ns.name };
      netdev.moveToNetns(name, ns.name);
      netdev.addAddress(name, c.v6 ? 'fd00:77::1/64' : '10.77.0.1/24', opts);
      netdev.linkUp(name, opts);

      let requests = 0;
      let badProto = 0;
      const d = dev;
      d.onBatch = (b: PacketBatch) => {
        for (let i = 0; i < b.length; i++) {
          const version = b.version(i);
          if (c.packetInfo && b.proto(i) !== (version === 6 ? 0x86dd : 0x0800)) badProto++;
          const reply = echoReplyFor(b.data(i));
          if (!reply) continue; // router solicitations and the like
          requests++;
          d.write(reply);
        }
      };
      const peer = c.v6 ? 'fd00:77::2' : '10.77.0.2';
      const args = c.v6 ? ['-6', '-c', '3', '-i', '0.2', '-W', '2', peer] : ['-c', '3', '-i', '0.2', '-W', '2', peer];
      const r = await ns.exec('ping', args, 20_000);
      assert.equal(r.code, 0, `ping failed:\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /3 received/);
      assert.ok(requests >= 3, `saw ${requests} echo requests`);
      assert.equal(badProto, 0, 'packet information ethertype matches the IP version');
      const s = dev.stats();
      assert.ok(s.packetsIn >= 3 && s.packetsOut >= 3, JSON.stringify(s));
      assert.equal(s.writeErrors, 0);

      await closeDevice(dev);
      // The fd is closed, so the (non-persistent) interface goes away.
      await waitUntil(() => !ns.hasLink(name), 5000, 'the interface to disappear');
    } finally {
      await closeDevice(dev);
      ns.destroy();
    }
  });
}

test('a multi-queue device: two queues of one interface, both answering', { skip }, async () => {
  const ns = Netns.create('mq');
  const devs: TunDevice[] = [];
  try {
    const name = uniqueIfName();
    devs.push(openTun({ name, multiQueue: true }));
    devs.push(openTun({ name, multiQueue: true })); // attaches a second queue
    assert.equal(devs[1]!.name, name);
    assert.ok(devs.every((d) => d.backend === FILE_BACKEND));
    assert.ok(devs.every((d) => d.multiQueue));
    assert.notEqual(devs[0]!.fd, devs[1]!.fd);
    netdev.moveToNetns(name, ns.name);
    netdev.addAddress(name, '10.82.0.1/24', { netns: ns.name });
    netdev.linkUp(name, { netns: ns.name });
    let requests = 0;
    for (const d of devs) {
      d.onBatch = (b: PacketBatch) => {
        for (let i = 0; i < b.length; i++) {
          const reply = echoReplyFor(b.data(i));
          if (reply) {
            requests++;
            d.write(reply);
          }
        }
      };
    }
    const r = await ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.82.0.2'], 20_000);
    assert.equal(r.code, 0, `ping failed:\n${r.stdout}${r.stderr}`);
    assert.ok(requests >= 3);
    // Closing one queue leaves the interface to the other.
    await closeDevice(devs[0]);
    assert.ok(ns.hasLink(name));
    await closeDevice(devs[1]);
    await waitUntil(() => !ns.hasLink(name), 5000, 'the interface to disappear');
  } finally {
    for (const d of devs) await closeDevice(d);
    ns.destroy();
  }
});
