/**
 * Child script for the TUN exit tests: opens a TUN device (left down, in
 * the test's own namespace, no address: no traffic) with writes queued,
 * waits until the kernel holds its read, prints the name and 'armed', then
 * ends the way argv[2] says. The parent checks that it exits by itself,
 * with the right status, and that the interface is gone afterwards.
 */
import { openTun } from '../src/index.js';
import { waitUntil } from './helpers.js';
import { armedRingReads, readArmed } from './kernel-state.js';

const how = process.argv[2];
const name = process.argv[3];
const arg = process.argv[4];
const readMode = arg === 'single' || arg === 'multishot' ? arg : 'auto';
const reads0 = armedRingReads();
const dev = openTun({ name: name ?? '', readMode, onBatch: () => {} });
// Writes to a down device fail (EIO); that is fine here, they are in flight.
dev.on('error', () => {});
for (let i = 0; i < 50; i++) dev.write(Uint8Array.from([0x45, ...new Array<number>(27).fill(0)]), () => {});
process.stdout.write(`${dev.name}\n`);
await waitUntil(() => readArmed(dev, reads0), 10_000, 'the kernel to hold the read');
process.stdout.write('armed\n');
if (how === 'exit') process.exit(0);
if (how === 'unref') dev.unref();
if (how === 'close') dev.close();
if (how === 'throw') throw new Error('boom (expected by the test)');
