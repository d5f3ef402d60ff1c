/**
 * The allocation-free copy the tunnel's data path uses (src/core/copy.ts, and
 * UdpSocket.sendFrom on top of it): exact bytes at every alignment and
 * length, NaN bit patterns included (a Float64Array store may change a
 * NaN's bits; the copy must not), and no heap allocation once warm.
 * No root needed.
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { test } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { alignedAt, copyBytes, wordsOf } from '../src/core/copy.js';
import { openUdp, type RecvBatch } from '../src/index.js';
import { BACKEND, closed, waitUntil } from './helpers.js';

/**
 * Random bytes; the first half has NaN patterns (quiet, signalling,
 * negative) every 24 bytes, the second half almost surely none: both the
 * word path and the byte path for NaN words run.
 */
function source(n: number): Uint8Array {
  const b = new Uint8Array(n);
  randomFillSync(b);
  const dv = new DataView(b.buffer);
  const nans = [0x7ff00000, 0x7ff80000, 0xfff00000, 0xfff7ffff];
  for (let i = 0; i + 8 <= n / 2; i += 24) {
    dv.setUint32(i, (i * 2654435761) >>> 0, true);
    dv.setUint32(i + 4, (nans[(i / 24) % 4] ?? 0) | 1, true);
  }
  return b;
}

test('copyBytes copies exactly at every alignment and length, NaN words included', () => {
  const src = source(4096);
  const dst = new Uint8Array(4096 + 64);
  const sw = wordsOf(src);
  const dw = wordsOf(dst);
  for (const len of [0, 1, 7, 8, 15, 16, 17, 63, 64, 65, 1400, 1501, 4000]) {
    for (const so of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 2048, 2049, 2055]) {
      for (const aligned of [true, false]) {
        dst.fill(0xee);
        const base = 24 + (so % 3);
        const at = aligned ? alignedAt(base, so) : base;
        if (len + so > src.length) continue;
        copyBytes(dst, dw, at, src, sw, so, len);
        assert.deepEqual(dst.subarray(at, at + len), src.subarray(so, so + len), `len ${len} from ${so} to ${at}`);
        assert.equal(dst[at - 1], 0xee, 'nothing written before');
        assert.equal(dst[at + len], 0xee, 'nothing written after');
      }
    }
  }
});

test('copyBytes allocates nothing once warm', () => {
  const src = source(1 << 16);
  const dst = new Uint8Array(1 << 16);
  const sw = wordsOf(src);
  const dw = wordsOf(dst);
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const so = (i * 1499) & 0x7fff;
      copyBytes(dst, dw, alignedAt(16384 + (i & 63), so), src, sw, so, 1400);
    }
  };
  run(50_000); // warm up (optimize)
  const before = getHeapStatistics().used_heap_size;
  run(20_000);
  const grew = getHeapStatistics().used_heap_size - before;
  // A view per copy would be ~96 B x 20,000 = 1.9 MB; a GC in the window only lowers the number.
  assert.ok(grew < 200_000, `heap grew ${grew} bytes over 20,000 copies`);
});

test(`sendFrom sends the bytes at an offset of another buffer exactly (${BACKEND} backend)`, async () => {
  const got: Buffer[] = [];
  const rx = openUdp({ type: 'udp4', address: '127.0.0.1', onBatch: (b: RecvBatch) => {
    for (let i = 0; i < b.length; i++) got.push(b.copy(i));
  } });
  await rx.ready;
  const tx = openUdp({ type: 'udp4', address: '127.0.0.1' });
  await tx.ready;
  try {
    const big = source(8192);
    const ep = tx.endpoint('127.0.0.1', rx.address().port);
    // A view that does not start at its buffer's offset 0, too.
    const view = new Uint8Array(big.buffer, 3, 8000);
    const cases: [Uint8Array, number, number][] = [];
    for (let k = 0; k < 40; k++) cases.push([k % 2 ? big : view, (k * 131) % 2000, [0, 1, 9, 64, 1400, 1999][k % 6] ?? 1]);
    for (const [src, off, len] of cases) assert.equal(tx.sendFrom(src, off, len, ep), true);
    await waitUntil(() => got.length === cases.length, 5000, 'every datagram');
    cases.forEach(([src, off, len], k) => {
      assert.deepEqual(new Uint8Array(got[k]!), src.subarray(off, off + len), `datagram ${k}`);
    });
    assert.throws(() => tx.sendFrom(big, 8000, 500, ep), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => tx.sendFrom(big, -1, 5, ep), { code: 'ERR_OUT_OF_RANGE' });
  } finally {
    const waits = [closed(rx), closed(tx)];
    rx.close();
    tx.close();
    await Promise.all(waits);
  }
});
