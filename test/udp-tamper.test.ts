/**
 * Random writes to every word of a UDP socket's shared memory that JS can
 * reach, at random moments, each followed by traffic and close (the run is
 * tamper-child.ts, in a child process so that a crash or a hang shows).
 * Whatever was written: no crash, no hang, every socket closes and is
 * finalized, and every accepted send's callback is called exactly once.
 * Seeded: a failure names its seed. On the backend of this run; the
 * sanitizer run of the suite runs it through the ASan addon.
 */
import { test } from 'node:test';
import { runTamper } from './tamper.js';

for (const seed of [1, 2, 3]) {
  test(`UDP shared memory tampering, seed ${seed}: no crash, no hang, every socket closed, callbacks exactly once`, { timeout: 180_000 }, async () => {
    await runTamper('udp', seed, 40);
  });
}
