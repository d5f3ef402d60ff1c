/**
 * Worker body for the TUN worker test: each worker thread has its own
 * ring. Opens a TUN device (down, no address: no traffic) with a read in
 * flight, reports its name, then closes it or waits to be terminated.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openTun } from '../src/index.js';

const { mode, name, readMode } = workerData as { mode: string; name: string; readMode: 'multishot' | 'single' | 'auto' };
const dev = openTun({ name, readMode, onBatch: () => {} });
parentPort?.postMessage({ name: dev.name, readMode: dev.readMode, backend: dev.backend });
if (mode === 'close') dev.close(() => parentPort?.postMessage({ closed: true }));
