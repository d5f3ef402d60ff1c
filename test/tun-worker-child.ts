/**
 * Worker body for the TUN worker test: each worker thread has its own
 * ring. Opens a TUN device (down, no address: no traffic), waits until
 * the kernel holds its read, reports its name, then closes it or waits to
 * be terminated.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openTun } from '../src/index.js';
import { waitUntil } from './helpers.js';
import { armedRingReads, readArmed } from './kernel-state.js';

const { mode, name, readMode } = workerData as { mode: string; name: string; readMode: 'multishot' | 'single' | 'auto' };
const reads0 = armedRingReads();
const dev = openTun({ name, readMode, onBatch: () => {} });
await waitUntil(() => readArmed(dev, reads0), 10_000, 'the kernel to hold the read');
parentPort?.postMessage({ name: dev.name, readMode: dev.readMode, backend: dev.backend, armed: true });
if (mode === 'close') dev.close(() => parentPort?.postMessage({ closed: true }));
