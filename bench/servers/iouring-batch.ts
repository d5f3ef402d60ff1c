// Echo server on the io_uring batch API: one callback per completed batch,
// each packet echoed to its sender with reply() (no per-packet allocation).
// An optional argument forces the backend ('mmsg' for the fallback row).
import { openUdp } from '../../src/index.js';
import { installHeapProbe } from './heap-probe.js';

const backend = process.argv[2] === 'mmsg' ? 'mmsg' : 'io_uring';
const sock = openUdp({
  type: 'udp4',
  backend,
  address: '127.0.0.1',
  port: 0,
  onBatch(batch) {
    for (let i = 0; i < batch.length; i++) sock.reply(batch, i);
  },
});
// stats() allocates, but it is only called at the probe's two signals.
installHeapProbe({
  packets: () => sock.stats().packetsIn,
  batches: () => sock.stats().batches,
  // Ring wake-ups; the mmsg backend has none (it wakes per socket).
  ...(backend === 'io_uring' ? { wakeups: () => sock.stats().wakeups } : {}),
});
console.log(`READY ${sock.address().port}`);

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    sock.close();
    process.exit(0);
  });
}
