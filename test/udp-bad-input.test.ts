/** Bad input gets a clear error of the documented kind, never a crash. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openUdp, type UdpSocket } from '../src/index.js';
import { BACKEND, collector, waitUntil, type Received, open } from './helpers.js';
import { once } from 'node:events';

async function closeSock(s: UdpSocket): Promise<void> {
  if (s.isOpen) await new Promise<void>((r) => s.close(r));
}

test('bad socket type, port and address are refused with Node codes', () => {
  assert.throws(() => openUdp({ type: 'udp5' as 'udp4' }), { code: 'ERR_SOCKET_BAD_TYPE' });
  assert.throws(() => openUdp(null as never), { code: 'ERR_INVALID_ARG_TYPE' });
  for (const port of [-1, 65536, 1.5, NaN, '80' as unknown as number]) {
    assert.throws(() => openUdp({ type: 'udp4', port }), { code: 'ERR_SOCKET_BAD_PORT' }, String(port));
  }
  assert.throws(() => openUdp({ type: 'udp4', address: 'not-an-ip' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => openUdp({ type: 'udp4', address: '::1' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => openUdp({ type: 'udp4', recvBuffers: 3 }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => openUdp({ type: 'udp4', maxMessageSize: 0 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => openUdp({ type: 'udp4', receiveMode: 'fast' as 'auto' }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('binding a port in use fails with EADDRINUSE like node:dgram', async () => {
  const a = await open({ type: 'udp4', address: '127.0.0.1' });
  try {
    const port = a.address().port;
    const check = (err: NodeJS.ErrnoException): true => {
      assert.equal(err.code, 'EADDRINUSE');
      assert.equal(err.syscall, 'bind');
      assert.equal(err.errno, -98);
      assert.match(err.message, new RegExp(`bind EADDRINUSE 127.0.0.1:${port}`));
      return true;
    };
    if (BACKEND === 'dgram') {
      // node:dgram binds asynchronously: the error is an event, and ready rejects.
      const b = openUdp({ type: 'udp4', address: '127.0.0.1', port });
      const [err] = (await once(b, 'error')) as [NodeJS.ErrnoException];
      check(err);
      await assert.rejects(b.ready, check);
      await closeSock(b);
    } else {
      assert.throws(() => openUdp({ type: 'udp4', address: '127.0.0.1', port }), check);
    }
  } finally {
    await closeSock(a);
  }
});

test('send argument errors', async () => {
  const a = await open({ type: 'udp4', address: '127.0.0.1' });
  try {
    assert.throws(() => a.send('text' as unknown as Uint8Array, 9, '127.0.0.1'), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => a.send(Buffer.from('x'), 0, '127.0.0.1'), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.throws(() => a.send(Buffer.from('x'), 70000, '127.0.0.1'), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.throws(() => a.send(Buffer.from('x'), 9, 'nope'), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => a.send(Buffer.from('x')), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
    assert.throws(() => a.endpoint('127.0.0.1', 0), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.throws(() => a.endpoint('::1', 53), { code: 'ERR_INVALID_ARG_VALUE' });
  } finally {
    await closeSock(a);
  }
});

test('a datagram over 65,507 bytes on IPv4 fails with EMSGSIZE, asynchronously', async () => {
  const a = await open({ type: 'udp4', address: '127.0.0.1' });
  try {
    let sync = true;
    const err = await new Promise<Error | null>((resolve) => {
      a.send(Buffer.alloc(65508), a.address().port, '127.0.0.1', (e) => {
        assert.equal(sync, false, 'callback must not run inside send()');
        resolve(e);
      });
      sync = false;
    });
    assert.equal((err as NodeJS.ErrnoException).code, 'EMSGSIZE');
    // Without a callback it is an 'error' event.
    const evt = await new Promise<Error>((resolve) => {
      a.once('error', resolve);
      a.send(Buffer.alloc(70000), a.address().port, '127.0.0.1');
    });
    assert.equal((evt as NodeJS.ErrnoException).code, 'EMSGSIZE');
    // The largest legal datagram goes through.
    const got: Received[] = [];
    const b = await open({ type: 'udp4', address: '127.0.0.1', maxMessageSize: 65507, recvBuffers: 4, onBatch: collector(got) });
    a.send(Buffer.alloc(65507, 3), b.address().port, '127.0.0.1');
    await waitUntil(() => got.length === 1, 5000, 'max datagram');
    assert.equal(got[0]!.data.length, 65507);
    assert.equal(got[0]!.truncated, false);
    await closeSock(b);
  } finally {
    await closeSock(a);
  }
});

test('a zero-length datagram arrives', async () => {
  const got: Received[] = [];
  const a = await open({ type: 'udp4', address: '127.0.0.1', onBatch: collector(got) });
  try {
    a.send(new Uint8Array(0), a.address().port, '127.0.0.1');
    await waitUntil(() => got.length === 1, 5000, 'empty datagram');
    assert.equal(got[0]!.data.length, 0);
  } finally {
    await closeSock(a);
  }
});

test('use after close and double close', async () => {
  const a = await open({ type: 'udp4', address: '127.0.0.1' });
  await closeSock(a);
  assert.throws(() => a.send(Buffer.from('x'), 9, '127.0.0.1'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  assert.throws(() => a.close(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  assert.throws(() => a.address(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  assert.throws(() => a.setTTL(4), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  const b = await open({ type: 'udp4', address: '127.0.0.1' });
  b.close();
  assert.throws(() => b.close(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  await new Promise<void>((r) => b.once('close', r));
});

test('a batch index out of range throws instead of reading other memory', async () => {
  const errors: unknown[] = [];
  const a: UdpSocket = await open({
    type: 'udp4',
    address: '127.0.0.1',
    onBatch: (batch) => {
      for (const i of [-1, batch.length, 1e9]) {
        try {
          batch.size(i);
        } catch (e) {
          errors.push(e);
        }
      }
    },
  });
  try {
    a.send(Buffer.from('x'), a.address().port, '127.0.0.1');
    await waitUntil(() => errors.length === 3, 5000, 'batch errors');
    for (const e of errors) assert.equal((e as { code: string }).code, 'ERR_OUT_OF_RANGE');
  } finally {
    await closeSock(a);
  }
});

test('misused batch API calls throw errors with Node codes, never plain TypeErrors', async () => {
  const s = await open({ type: 'udp4', address: '127.0.0.1' });
  try {
    const batch = await new Promise<import('../src/index.js').RecvBatch>((resolve) => {
      s.onBatch = (b) => resolve(b);
      openUdp({ type: 'udp4', address: '127.0.0.1' }).once('listening', function (this: UdpSocket) {
        this.send(Buffer.from('x'), s.address().port, '127.0.0.1', () => this.close());
      });
    });
    const type = { code: 'ERR_INVALID_ARG_TYPE' };
    assert.throws(() => s.reply({} as never, 0), type);
    assert.throws(() => s.reply(null as never, 0), type);
    assert.throws(() => s.reply(batch, Symbol('i') as never), type);
    assert.throws(() => s.reply(batch, 1n as never), type);
    assert.throws(() => s.reply(batch, 0.5), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => s.sendMany(null as never), type);
    assert.throws(() => s.sendMany([null as never], 9, '127.0.0.1'), type);
    assert.throws(() => s.connect(9, 42 as never), type);
    assert.throws(() => s.connect(9, Symbol('a') as never), type);
    assert.throws(() => s.send(Buffer.alloc(1), 9, {} as never), type);
    assert.throws(() => s.sendFrom(Buffer.alloc(4), 1n as never, 2, s.endpoint('127.0.0.1', 9)), type);
    assert.throws(() => s.sendFrom(Buffer.alloc(4), 0, '2' as never, s.endpoint('127.0.0.1', 9)), type);
    assert.throws(() => s.sendFrom(Buffer.alloc(4), 2, 3, s.endpoint('127.0.0.1', 9)), { code: 'ERR_OUT_OF_RANGE' });
  } finally {
    await closeSock(s);
  }
});
