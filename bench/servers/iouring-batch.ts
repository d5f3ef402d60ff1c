// Echo server on the io_uring batch API: one callback per completed batch,
// each packet echoed to its sender with reply() (no per-packet allocation).
import { openUdp } from '../../src/index.js';

const sock = openUdp({
  type: 'udp4',
  address: '127.0.0.1',
  port: 0,
  onBatch(batch) {
    for (let i = 0; i < batch.length; i++) sock.reply(batch, i);
  },
});
console.log(`READY ${sock.address().port}`);

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    sock.close();
    process.exit(0);
  });
}
