/**
 * Files over io_uring: read a one-line fixture and compare it, write and
 * read at offsets, many requests in one turn, a full request queue, errors
 * in Node's shapes, the close contract, and progress while libuv's fs
 * thread pool is stuck. On the backend of the run (helpers.ts
 * FILE_BACKEND): io_uring, or poll with IOURING_NET_BACKEND=mmsg. No root
 * needed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, read, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openFile, probe, type RingFile } from '../src/index.js';
import { FILE_BACKEND, openFds, waitUntil } from './helpers.js';
import { threadsBlockedOn } from './kernel-state.js';

const fixture = fileURLToPath(new URL('../../test/fixtures/file-line.txt', import.meta.url));
const p = probe();
const skip = FILE_BACKEND === 'poll' || p.available ? false : `io_uring is not usable here: ${p.reason}`;
const dir = mkdtempSync(join(tmpdir(), 'ionet-file-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function withFile<T>(f: RingFile, fn: (f: RingFile) => Promise<T>): Promise<T> {
  try {
    return await fn(f);
  } finally {
    if (f.isOpen) await f.close();
  }
}

test('reads the one-line fixture through the ring', { skip }, async () => {
  const expected = readFileSync(fixture);
  await withFile(openFile(fixture), async (f) => {
    assert.equal(f.backend, FILE_BACKEND);
    const got = await f.read(4096, 0);
    assert.deepEqual(got, expected);
    assert.equal(got.toString(), 'iouring-net read this line through io_uring.\n');
    // At an offset, and past the end.
    assert.equal((await f.read(4, 12)).toString(), 'read');
    assert.equal((await f.read(100, expected.length)).length, 0);
    assert.equal((await f.read(0, 0)).length, 0);
  });
});

test('writes at offsets land where asked; 200 requests of one turn', { skip }, async () => {
  const path = join(dir, 'offsets.bin');
  await withFile(openFile(path, { flags: 'w+' }), async (f) => {
    const writes: Promise<number>[] = [];
    // Reverse order, all in one turn: positions decide, not arrival.
    for (let i = 199; i >= 0; i--) writes.push(f.write(Buffer.alloc(100, i), i * 100));
    const sizes = await Promise.all(writes);
    assert.ok(sizes.every((n) => n === 100));
    const disk = readFileSync(path);
    assert.equal(disk.length, 20000);
    for (let i = 0; i < 200; i++) assert.equal(disk[i * 100 + 50], i, `block ${i}`);
    // Read back through the ring as well, many at once.
    const reads = await Promise.all(Array.from({ length: 200 }, (_, i) => f.read(100, i * 100)));
    reads.forEach((b, i) => assert.ok(b.equals(Buffer.alloc(100, i)), `read block ${i}`));
    assert.equal(await f.write('text'), 4); // at the file position
  });
});

test('a full request queue waits instead of failing; order is kept', { skip }, async () => {
  const path = join(dir, 'queue.bin');
  await withFile(openFile(path, { flags: 'w+', queueSize: 4, bufferBytes: 1024 }), async (f) => {
    const all = Array.from({ length: 300 }, (_, i) => f.write(Buffer.alloc(500, i & 0xff), i * 500));
    assert.deepEqual(new Set(await Promise.all(all)), new Set([500]));
    const disk = readFileSync(path);
    for (let i = 0; i < 300; i++) assert.equal(disk[i * 500], i & 0xff);
    assert.throws(() => f.read(1024), { code: 'ERR_OUT_OF_RANGE' });
    assert.equal((await f.read(1023, 0)).length, 1023);
  });
});

test('openFile(fd) takes the fd; close releases it', { skip }, async () => {
  const fds0 = openFds();
  const path = join(dir, 'fd.txt');
  writeFileSync(path, 'abc');
  const f = openFile(openSync(path, 'r'));
  assert.equal(f.path, undefined);
  assert.equal((await f.read(10, 0)).toString(), 'abc');
  await f.close();
  assert.equal(openFds(), fds0, 'the fd is closed');
});

test('errors look like Node errors', { skip }, async () => {
  const missing = join(dir, 'missing.txt');
  assert.throws(() => openFile(missing), (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.path, missing);
    return true;
  });
  assert.throws(() => openFile(fixture, { queueSize: 3 }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => openFile(-1), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => openFile({} as unknown as string), { code: 'ERR_INVALID_ARG_TYPE' });
  const f = openFile(fixture); // read-only
  try {
    await assert.rejects(f.write('x', 0), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EBADF');
      assert.equal(err.syscall, 'write');
      assert.equal(err.path, fixture);
      return true;
    });
    assert.throws(() => f.read(-1), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => f.read(1, -5), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => f.read(1, 1.5), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => f.write(5 as unknown as string), { code: 'ERR_INVALID_ARG_TYPE' });
    // Still works after the errors.
    assert.equal((await f.read(7, 0)).toString(), 'iouring');
  } finally {
    await f.close();
  }
  await assert.rejects(f.close(), { code: 'EBADF' });
  await assert.rejects(f.read(1, 0), { code: 'EBADF', syscall: 'read' });
});

test('close with requests in flight or waiting settles every one of them', { skip }, async () => {
  const path = join(dir, 'close.bin');
  const f = openFile(path, { flags: 'w+', queueSize: 8, bufferBytes: 8192 });
  const settled: string[] = [];
  const all = Array.from({ length: 50 }, (_, i) =>
    f.write(Buffer.alloc(1000, 1), i * 1000).then(
      () => settled.push('ok'),
      (err: NodeJS.ErrnoException) => settled.push(err.code ?? 'error'),
    ),
  );
  await f.close();
  await Promise.all(all);
  assert.equal(settled.length, 50);
  assert.ok(settled.every((s) => s === 'ok' || s === 'ECANCELED'), settled.join(','));
  assert.ok(settled.includes('ECANCELED'), 'the requests still waiting were cancelled');
});

test('the backend option forces one; bad values are refused', async () => {
  await withFile(openFile(fixture, { backend: 'poll' }), async (f) => {
    assert.equal(f.backend, 'poll');
    assert.equal((await f.read(7, 0)).toString(), 'iouring');
  });
  if (p.available) {
    await withFile(openFile(fixture, { backend: 'io_uring' }), async (f) => assert.equal(f.backend, 'io_uring'));
  }
  assert.throws(() => openFile(fixture, { backend: 'mmsg' as 'poll' }), { code: 'ERR_INVALID_ARG_VALUE', message: /auto, io_uring, poll/ });
});

test('IOURING_NET_BACKEND picks the file backend: mmsg and dgram mean poll', () => {
  const index = fileURLToPath(new URL('../src/index.js', import.meta.url));
  const script = `import('${index}').then(async (m) => { const f = m.openFile('${fixture}'); console.log(f.backend); await f.close(); })`;
  const cases: [string, string][] = [['mmsg', 'poll'], ['dgram', 'poll']];
  if (p.available) cases.push(['io_uring', 'io_uring'], ['auto', 'io_uring']);
  for (const [env, want] of cases) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, IOURING_NET_BACKEND: env },
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), want, `IOURING_NET_BACKEND=${env}`);
  }
});

test('the poll backend refuses what could block the thread (pipes, sockets, terminals)', async () => {
  // /dev/null is harmless, but a character device may be a terminal: the
  // rule is regular files and block devices only. The fd is taken and closed.
  const fds0 = openFds();
  assert.throws(() => openFile('/dev/null', { backend: 'poll' }), (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, 'ERR_INVALID_ARG_VALUE');
    assert.match(err.message, /poll backend/);
    return true;
  });
  assert.equal(openFds(), fds0, 'no fd leaked');
});

test("requests complete while libuv's fs thread pool is stuck", { skip, timeout: 20_000 }, async () => {
  // Four fs.read()s on an empty FIFO block every thread of libuv's pool
  // (UV_THREADPOOL_SIZE defaults to 4): a backend that used the pool would
  // wait behind them, and a request stuck there holds up process exit.
  const fifo = join(dir, 'stuck.fifo');
  execFileSync('mkfifo', [fifo]);
  const fd = openSync(fifo, 'r+'); // read-write: opening does not wait for a peer
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  let unblocked = 0;
  for (let i = 0; i < pool; i++) read(fd, Buffer.alloc(1), 0, 1, null, () => void unblocked++);
  try {
    // The reads now occupy the pool: every pool thread sits in read(2) on the FIFO.
    await waitUntil(() => threadsBlockedOn(fd) === pool, 10_000, `${pool} pool threads blocked reading the FIFO (${threadsBlockedOn(fd)} now)`);
    const path = join(dir, 'pool.bin');
    await withFile(openFile(path, { flags: 'w+' }), async (f) => {
      assert.equal(await f.write('not through the pool', 0), 20);
      assert.equal((await f.read(20, 0)).toString(), 'not through the pool');
    });
    assert.equal(unblocked, 0, 'the pool was stuck the whole time');
    assert.equal(threadsBlockedOn(fd), pool, 'the pool is still stuck');
  } finally {
    writeSync(fd, Buffer.alloc(pool)); // let the stuck reads finish
    await waitUntil(() => unblocked === pool, 10_000, 'the stuck reads to finish');
    closeSync(fd);
  }
});

test('bad open flags and mode are refused with Node codes before anything is opened', () => {
  const path = join(tmpdir(), `ionet-badflags-${process.pid}`);
  const range = { code: 'ERR_OUT_OF_RANGE' };
  const type = { code: 'ERR_INVALID_ARG_TYPE' };
  // -0 reached an assertion inside Node's fs.openSync that aborted the process.
  assert.throws(() => openFile(path, { flags: -0 }), range);
  assert.throws(() => openFile(path, { flags: 1.5 }), range);
  assert.throws(() => openFile(path, { flags: -1 }), range);
  assert.throws(() => openFile(path, { flags: 2 ** 40 }), range);
  assert.throws(() => openFile(path, { flags: {} as never }), type);
  assert.throws(() => openFile(path, { flags: 'w', mode: -0 }), range);
  assert.throws(() => openFile(path, { flags: 'w', mode: 0o10000 }), range);
  assert.throws(() => openFile(path, { flags: 'w', mode: '644' as never }), type);
  assert.equal(existsSync(path), false, 'nothing was created');
});
