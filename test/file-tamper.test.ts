/**
 * Random writes to every word of a file object's shared memory that JS
 * can reach, each followed by reads, writes and close (tamper-child.ts,
 * in a child process). No crash, no hang, every promise settles once, the
 * file closes and its native object is finalized. Seeded.
 */
import { test } from 'node:test';
import { runTamper } from './tamper.js';

for (const seed of [11, 12]) {
  test(`file shared memory tampering, seed ${seed}: no crash, no hang, every request settled once, closed`, { timeout: 180_000 }, async () => {
    await runTamper('file', seed, 40);
  });
}
