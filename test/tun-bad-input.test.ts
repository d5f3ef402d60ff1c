/**
 * Bad input to a TUN device gets a clear error of the documented kind and
 * hurts nothing else: a malformed, oversized or refused write fails alone
 * and the device keeps working; a corrupted descriptor in shared memory is
 * caught by the addon; bad options and fds are refused; opening without
 * CAP_NET_ADMIN says EPERM and names the capability. Device tests skip
 * (saying why) when not root or without `ip`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadBinding } from '../src/core/binding.js';
import { asFileBinding, QOP_WRITE } from '../src/file/binding.js';
import type { FileCore } from '../src/file/file.js';
import { netdev, openTun, wrapTun, type PacketBatch, type TunDevice } from '../src/index.js';
import { FILE_BACKEND, readModeOption, TUN_READ_MODES, waitUntil } from './helpers.js';
import { Netns, rootHasLink, tunSkipReason, uniqueIfName } from './netns.js';
import { echoRequest4, get32, ip4, isEchoReply4 } from './tun-packets.js';

const skip = tunSkipReason();
const epermChild = fileURLToPath(new URL('./tun-eperm-child.js', import.meta.url));
const fixture = fileURLToPath(new URL('../../test/fixtures/file-line.txt', import.meta.url));

function closeDevice(dev: TunDevice | undefined): Promise<void> {
  if (!dev || !dev.isOpen) return Promise.resolve();
  return new Promise<void>((resolve) => dev.close(resolve));
}

/** Write with a callback; resolves with its error (or null) and says whether it ran inside write(). */
function writeResult(dev: TunDevice, p: Uint8Array): Promise<{ err: NodeJS.ErrnoException | null; sync: boolean }> {
  let inside = true;
  return new Promise((resolve) => {
    assert.equal(
      dev.write(p, (err) => resolve({ err: err as NodeJS.ErrnoException | null, sync: inside })),
      true,
    );
    inside = false;
  });
}

test('bad options are refused before anything is created', () => {
  assert.throws(() => openTun({ name: 'a-name-that-is-too-long' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => openTun({ name: 'has/slash' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => openTun({ name: 7 as unknown as string }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => openTun({ mtu: 10 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => openTun({ mtu: 70000 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => openTun({ readMode: 'fast' as 'auto' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => openTun({ readBuffers: 3 }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => openTun({ writeQueueSize: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => openTun({ maxPacketSize: 20 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => openTun({ packetInfo: 'yes' as unknown as boolean }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => openTun({ onBatch: 5 as unknown as () => void }), { code: 'ERR_INVALID_ARG_TYPE' });
  // The UDP fallback's name is not a TUN backend ('poll' is).
  assert.throws(() => openTun({ backend: 'mmsg' as 'poll' }), { code: 'ERR_INVALID_ARG_VALUE', message: /auto, io_uring, poll/ });
  assert.throws(() => wrapTun(0, { backend: 'fast' as 'poll' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => openTun(null as never), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => wrapTun(-1), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => wrapTun(1.5), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('wrapTun refuses an fd that is not a TUN fd and leaves it open', { skip }, () => {
  const fd = openSync(fixture, 'r');
  try {
    assert.throws(() => wrapTun(fd), (err: NodeJS.ErrnoException) => {
      assert.equal(err.syscall, 'TUNGETIFF');
      assert.match(err.message, /not attached to a TUN device/);
      return true;
    });
    assert.ok(fstatSync(fd).isFile(), 'the fd is still open');
  } finally {
    closeSync(fd);
  }
});

test('wrapTun wraps an attached TUN fd and checks packetInfo against it', { skip }, async () => {
  const native = asFileBinding(loadBinding().binding!);
  const name = uniqueIfName();
  const out = new Uint8Array(16);
  const [fd = -1] = native.tunOpen(name, 0, 0, out);
  assert.ok(fd >= 0, `tunOpen: ${fd}`);
  let dev: TunDevice | undefined;
  try {
    assert.throws(() => wrapTun(fd, { packetInfo: true }), { code: 'ERR_INVALID_ARG_VALUE' });
    dev = wrapTun(fd, { readMode: 'single' });
    assert.equal(dev.name, name);
    assert.equal(dev.fd, fd);
    assert.equal(dev.packetInfo, false);
    assert.equal(dev.mtu, 1500);
    assert.equal(dev.backend, FILE_BACKEND);
    assert.equal(dev.readMode, FILE_BACKEND === 'poll' ? 'poll' : 'single');
    await closeDevice(dev);
    assert.throws(() => fstatSync(fd), { code: 'EBADF' });
    await waitUntil(() => !rootHasLink(name), 5000, `${name} to disappear`);
  } finally {
    if (dev === undefined) closeSync(fd);
    else await closeDevice(dev);
  }
});

test('opening without CAP_NET_ADMIN fails with EPERM naming the capability', { skip }, (t) => {
  const which = spawnSync('sh', ['-c', 'command -v setpriv'], { encoding: 'utf8' });
  if (which.status !== 0) {
    t.skip('setpriv (util-linux) is not installed: cannot drop CAP_NET_ADMIN for the child');
    return;
  }
  const args = ['--bounding-set=-net_admin', '--inh-caps=-net_admin', process.execPath, epermChild, uniqueIfName()];
  const r = spawnSync('setpriv', args, { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { code?: string; syscall?: string; message?: string; opened?: boolean };
  assert.notEqual(got.opened, true, 'the device opened without CAP_NET_ADMIN');
  assert.equal(got.code, 'EPERM');
  assert.equal(got.syscall, 'TUNSETIFF');
  assert.match(got.message ?? '', /CAP_NET_ADMIN/);
});

test('malformed, oversized and refused writes fail alone; the device keeps working', { skip }, async () => {
  const ns = Netns.create('bad');
  let dev: TunDevice | undefined;
  try {
    dev = openTun({ name: uniqueIfName(), maxPacketSize: 1500 });
    assert.equal(dev.backend, FILE_BACKEND);
    const opts = { netns: ns.name };
    netdev.moveToNetns(dev.name, ns.name);
    netdev.addAddress(dev.name, '10.80.0.1/24', opts);
    const peer = ip4('10.80.0.2');
    const local = ip4('10.80.0.1');
    const replies: number[] = [];
    dev.onBatch = (b: PacketBatch) => {
      for (let i = 0; i < b.length; i++) {
        const p = b.data(i);
        if (isEchoReply4(p)) replies.push(get32(p, 28));
      }
    };
    const ping = async (n: number): Promise<void> => {
      const payload = new Uint8Array(8);
      new DataView(payload.buffer).setUint32(0, n);
      const { err } = await writeResult(dev!, echoRequest4(peer, local, 9, n, payload));
      assert.equal(err, null);
      await waitUntil(() => replies.includes(n), 5000, `echo reply ${n}`);
    };

    // Refused by the kernel: the interface is still down (EIO).
    const down = await writeResult(dev, echoRequest4(peer, local, 9, 0, new Uint8Array(8)));
    assert.equal(down.err?.code, 'EIO');
    assert.equal(down.err?.syscall, 'write');
    netdev.linkUp(dev.name, opts);
    await ping(1);

    // Refused before the kernel sees them, asynchronously.
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'EINVAL'],
      [Uint8Array.of(0x45), 'EINVAL'], // shorter than an IPv4 header
      [new Uint8Array(60), 'EINVAL'], // version 0
      [Uint8Array.from({ length: 60 }, () => 0x51), 'EINVAL'], // version 5
      [Uint8Array.from({ length: 30 }, (_, i) => (i ? 0 : 0x60)), 'EINVAL'], // shorter than an IPv6 header
      [Uint8Array.from({ length: 1501 }, (_, i) => (i ? 0 : 0x45)), 'EMSGSIZE'],
      [Uint8Array.from({ length: 70000 }, (_, i) => (i ? 0 : 0x45)), 'EMSGSIZE'],
    ];
    for (const [p, code] of cases) {
      const { err, sync } = await writeResult(dev, p);
      assert.equal(err?.code, code, `${p.length} bytes`);
      assert.equal(sync, false, 'the callback does not run inside write()');
    }
    // Without a callback the error is an 'error' event.
    const evt = await new Promise<NodeJS.ErrnoException>((resolve) => {
      dev!.once('error', resolve);
      dev!.write(new Uint8Array(40));
    });
    assert.equal(evt.code, 'EINVAL');
    await ping(2);

    // A descriptor corrupted in shared memory (a JS bug) is caught by the
    // addon: that write fails with EFAULT/EINVAL, nothing else happens.
    const core = (dev as unknown as { core: FileCore }).core;
    const q = core.queue as unknown as { desc: Int32Array; tail: number; mask: number };
    for (const [word, value, code] of [
      [0, 8, 'EFAULT'], // offset inside the control words
      [1, 1 << 30, 'EFAULT'], // length past the end
      [3, 99, 'EINVAL'], // no such operation
      [3, 2, 'EINVAL'], // a read request on a TUN device
    ] as const) {
      const pkt = echoRequest4(peer, local, 9, 3, new Uint8Array(8));
      const at = core.queue.reserve(pkt.length);
      core.bytes.set(pkt, at);
      const done = new Promise<NodeJS.ErrnoException | null>((resolve) =>
        core.push(at, pkt.length, QOP_WRITE, 0, (err) => resolve(err as NodeJS.ErrnoException | null)),
      );
      q.desc[((q.tail - 1) & q.mask) * 12 + word] = value;
      assert.equal((await done)?.code, code, `word ${word} = ${value}`);
    }
    await ping(4);
    const s = dev.stats();
    assert.ok(s.writeErrors >= 5, JSON.stringify(s));
    assert.equal(s.readErrors, 0);
  } finally {
    await closeDevice(dev);
    ns.destroy();
  }
});

for (const readMode of TUN_READ_MODES) {
  test(`deleting the interface under a reading device: 'error' EBADFD, then close (${readMode})`, { skip }, async () => {
    const name = uniqueIfName();
    // Down, no address: no traffic. (Poll backend: the fd then polls
    // POLLERR, and a read names the error.)
    const dev = openTun({ name, readMode: readModeOption(readMode), onBatch: () => {} });
    try {
      const err = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no error event')), 5000);
        dev.once('error', (e: NodeJS.ErrnoException) => {
          clearTimeout(t);
          resolve(e);
        });
        netdev.deleteLink(name);
      });
      assert.equal(err.code, 'EBADFD');
      assert.equal(err.syscall, 'read');
      assert.match(err.message, /deleted/);
      // A write now fails alone, with the same code.
      const w = await writeResult(dev, echoRequest4(ip4('10.0.0.2'), ip4('10.0.0.1'), 1, 1, new Uint8Array(8)));
      assert.equal(w.err?.code, 'EBADFD');
    } finally {
      await closeDevice(dev);
    }
    assert.equal(rootHasLink(name), false);
  });
}
