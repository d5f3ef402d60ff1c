/**
 * A file's shared memory belongs to the addon: JS code that reaches it (as
 * a hostile caller can, through the object's internals, as
 * tamper-child.ts does) and detaches or transfers it (structuredClone with
 * transfer, postMessage, ArrayBuffer.prototype.transfer, V8's own detach),
 * with requests in flight, then lets any new owner be collected, causes no
 * use-after-free (the ASan run of this file would report it), and the file
 * keeps working: the requests in flight and every later read and write at
 * an offset return the right bytes, and close works. On the backend of the
 * run (helpers.ts FILE_BACKEND): io_uring, or poll with
 * IOURING_NET_BACKEND=mmsg.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openFile, type RingFile } from '../src/index.js';
import { DETACH_WAYS, collectGarbage, detach } from './detach.js';
import { FILE_BACKEND } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ionet-file-detach-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The object's shared memory, reached the way a hostile caller can. */
function memoryOf(f: RingFile): Uint8Array {
  return (f as unknown as { core: { memory: { bytes: Uint8Array } } }).core.memory.bytes;
}

/** Bytes k of a test: a pattern that differs at every offset and per tag. */
function pattern(tag: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (tag * 131 + ((offset + i) * 7) + ((offset + i) >> 8)) & 0xff;
  return b;
}

function fdTarget(fd: number): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

const CHUNK = 4096;
const CHUNKS = 64;

for (const way of DETACH_WAYS) {
  test(`detaching a file's memory (${way}) with requests in flight, then GC: reads and writes stay right, close works (${FILE_BACKEND})`, async () => {
    const path = join(dir, `detach-${way}.bin`);
    const f = openFile(path, { flags: 'w+', queueSize: 64 });
    const fd = f.fd;
    try {
      assert.equal(f.backend, FILE_BACKEND);
      // Chunk k holds pattern(0, k * CHUNK); the even ones are rewritten below.
      for (let k = 0; k < CHUNKS; k++) assert.equal(await f.write(pattern(0, k * CHUNK, CHUNK), k * CHUNK), CHUNK);

      // In flight together: reads of the odd chunks, writes of the even ones.
      const reads: Promise<Buffer>[] = [];
      const writes: Promise<number>[] = [];
      for (let k = 0; k < CHUNKS; k++) {
        if (k % 2) reads.push(f.read(CHUNK, k * CHUNK));
        else writes.push(f.write(pattern(1, k * CHUNK, CHUNK), k * CHUNK));
      }
      // The addon and the kernel read and write this memory meanwhile.
      const mem = memoryOf(f);
      const detached = detach(mem.buffer, way);
      if (way === 'v8') assert.equal(detached, true, 'V8 detaches the view for real');
      assert.equal(mem.byteLength === 0, detached);
      await collectGarbage();

      const got = await Promise.all(reads);
      got.forEach((b, i) => assert.deepEqual(b, pattern(0, (2 * i + 1) * CHUNK, CHUNK), `read of chunk ${2 * i + 1}`));
      for (const n of await Promise.all(writes)) assert.equal(n, CHUNK);

      // Later requests at offsets, through the remapped views.
      await collectGarbage();
      for (let k = 0; k < CHUNKS; k += 3) assert.equal(await f.write(pattern(2, k * CHUNK + 5, 777), k * CHUNK + 5), 777);
      const want = Buffer.alloc(CHUNKS * CHUNK);
      for (let k = 0; k < CHUNKS; k++) pattern(k % 2 ? 0 : 1, k * CHUNK, CHUNK).copy(want, k * CHUNK);
      for (let k = 0; k < CHUNKS; k += 3) pattern(2, k * CHUNK + 5, 777).copy(want, k * CHUNK + 5);
      for (let k = 0; k < CHUNKS; k++) {
        assert.deepEqual(await f.read(CHUNK, k * CHUNK), want.subarray(k * CHUNK, (k + 1) * CHUNK), `chunk ${k} read back`);
      }
      assert.deepEqual(await f.read(100, CHUNKS * CHUNK - 50), want.subarray(CHUNKS * CHUNK - 50), 'a short read at the end');
      assert.deepEqual(readFileSync(path), want, 'the file on disk');

      await f.close();
      assert.equal(f.isOpen, false);
      assert.notEqual(fdTarget(fd), path, 'the fd is closed');
      await assert.rejects(f.read(1, 0), { code: 'EBADF' });
      await collectGarbage();
    } finally {
      if (f.isOpen) await f.close();
    }
  });
}

test(`a file's memory kept past close, then detached and collected: no crash (${FILE_BACKEND})`, async () => {
  const f = openFile(join(dir, 'kept.bin'), { flags: 'w+' });
  assert.equal(await f.write('kept', 0), 4);
  const kept = memoryOf(f);
  await f.close();
  assert.equal(detach(kept.buffer, 'v8'), true);
  await collectGarbage();
  // The file's state after close does not depend on the view: still closed, still EBADF.
  assert.equal(f.isOpen, false);
  await assert.rejects(f.write('x', 0), { code: 'EBADF' });
});
