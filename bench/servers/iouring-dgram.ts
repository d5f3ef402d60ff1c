// Echo server on iouring-net's node:dgram-compatible layer: the node:dgram
// echo server (servers/dgram.ts) with only its import changed. Sends still
// reach the kernel batched (one io_uring_enter per JS turn).
import { createSocket } from '../../src/dgram/socket.js';
import { installHeapProbe } from './heap-probe.js';

const socket = createSocket('udp4');
// Same per-packet work as servers/dgram.ts: a counter for the heap probe.
let received = 0;
socket.on('message', (msg, rinfo) => {
  received++;
  socket.send(msg, rinfo.port, rinfo.address);
});
socket.on('error', (err) => {
  console.error(`iouring-dgram echo server: ${err.message}`);
  process.exit(1);
});
socket.bind(0, '127.0.0.1', () => {
  console.log(`READY ${socket.address().port}`);
});
installHeapProbe({ packets: () => received });

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => socket.close(() => process.exit(0)));
}
