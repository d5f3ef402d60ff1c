/**
 * A TUN device's shared memory belongs to the addon: JS code that detaches
 * or transfers `batch.bytes.buffer` inside a batch handler (structuredClone
 * with transfer, postMessage, ArrayBuffer.prototype.transfer, and V8's own
 * detach) and lets any new owner be collected causes no use-after-free
 * (the ASan run of this file would report it): the kernel keeps reading
 * into the pool and writing from the write ring. The device keeps working:
 * every one of many pings through it is answered, it closes, its fd is
 * released and the interface goes away. For every read mode of the run's
 * backend (helpers.ts FILE_BACKEND: multishot and single on io_uring, or
 * poll). The device sits in a network namespace the test creates. Skips
 * (saying why) when not root or without `ip`/`ping`.
 */
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { netdev, openTun, type PacketBatch, type TunDevice } from '../src/index.js';
import { DETACH_WAYS, collectGarbage, detach } from './detach.js';
import { FILE_BACKEND, readModeOption, TUN_READ_MODES, waitUntil, within } from './helpers.js';
import { Netns, tunSkipReason, uniqueIfName } from './netns.js';
import { echoReplyFor } from './tun-packets.js';

const skip = tunSkipReason(['ping']);
const PINGS = 100;

function fdTarget(fd: number): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

function closeDevice(dev: TunDevice | undefined): Promise<void> {
  if (!dev || !dev.isOpen) return Promise.resolve();
  const d = dev;
  return within(new Promise<void>((resolve) => d.close(resolve)), 10_000, `'close' of ${d.name}`);
}

/** A device with an address in ns, answering echo requests from the handler. */
function answeringDevice(ns: Netns, readMode: (typeof TUN_READ_MODES)[number], onHandled: (b: PacketBatch) => void): TunDevice {
  const dev = openTun({ name: uniqueIfName(), readMode: readModeOption(readMode) });
  try {
    assert.equal(dev.backend, FILE_BACKEND);
    assert.equal(dev.readMode, readMode);
    netdev.moveToNetns(dev.name, ns.name);
    netdev.addAddress(dev.name, '10.83.0.1/24', { netns: ns.name });
    netdev.linkUp(dev.name, { netns: ns.name });
    dev.onBatch = (b: PacketBatch) => {
      for (let i = 0; i < b.length; i++) {
        const reply = echoReplyFor(b.data(i));
        if (reply) dev.write(reply);
      }
      onHandled(b);
    };
    return dev;
  } catch (err) {
    dev.close();
    throw err;
  }
}

for (const readMode of TUN_READ_MODES) {
  for (const way of DETACH_WAYS) {
    test(`detaching batch.bytes.buffer (${way}) in the handler, then GC: ${PINGS} pings answered, the device closes (${readMode})`, { skip }, async () => {
      const ns = Netns.create('tundetach');
      let dev: TunDevice | undefined;
      try {
        let detached: boolean | undefined;
        dev = answeringDevice(ns, readMode, (b) => {
          if (detached !== undefined) return;
          // After this batch's replies were written: the kernel keeps
          // reading into this memory, and the replies leave from it.
          detached = detach(b.bytes.buffer, way);
          if (way === 'v8') assert.equal(detached, true, 'V8 detaches the view for real');
          assert.equal(b.bytes.byteLength === 0, detached);
        });
        const name = dev.name;
        const fd = dev.fd;
        const first = await ns.exec('ping', ['-c', '1', '-W', '5', '10.83.0.2'], 20_000);
        assert.equal(first.code, 0, `the first ping:\n${first.stdout}${first.stderr}`);
        assert.notEqual(detached, undefined, 'the handler ran');
        await collectGarbage();

        const r = await ns.exec('ping', ['-c', String(PINGS), '-i', '0.01', '-W', '5', '10.83.0.2'], 60_000);
        assert.equal(r.code, 0, `ping failed:\n${r.stdout}${r.stderr}`);
        assert.match(r.stdout, new RegExp(`${PINGS} packets transmitted, ${PINGS} received`), r.stdout);
        const s = dev.stats(); // read through remapped views
        assert.ok(s.packetsIn >= PINGS + 1 && s.packetsOut >= PINGS + 1, JSON.stringify(s));
        assert.equal(s.writeErrors, 0);
        assert.equal(s.readErrors, 0);
        await collectGarbage();

        await closeDevice(dev);
        assert.equal(dev.isOpen, false);
        assert.notEqual(fdTarget(fd), '/dev/net/tun', 'the TUN fd is closed');
        await waitUntil(() => !ns.hasLink(name), 5000, `${name} to disappear`);
      } finally {
        await closeDevice(dev);
        ns.destroy();
      }
    });
  }
}

test(`a TUN batch's memory kept past close, then detached and collected: no crash (${FILE_BACKEND})`, { skip }, async () => {
  const ns = Netns.create('tunkept');
  let dev: TunDevice | undefined;
  try {
    let kept: Uint8Array | undefined;
    dev = answeringDevice(ns, TUN_READ_MODES[0]!, (b) => {
      kept ??= b.bytes;
    });
    const r = await ns.exec('ping', ['-c', '1', '-W', '5', '10.83.0.2'], 20_000);
    assert.equal(r.code, 0, `ping failed:\n${r.stdout}${r.stderr}`);
    assert.ok(kept, 'a batch arrived');
    await closeDevice(dev);
    assert.equal(detach(kept.buffer, 'v8'), true);
    await collectGarbage();
    assert.throws(() => dev!.write(new Uint8Array(20)), { code: 'ERR_TUN_NOT_RUNNING' });
  } finally {
    await closeDevice(dev);
    ns.destroy();
  }
});
