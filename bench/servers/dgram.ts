// node:dgram echo server: the baseline a Node user gets today, written the
// obvious way (one 'message' event and one send per datagram).
import { createSocket } from 'node:dgram';
import { installHeapProbe } from './heap-probe.js';

const socket = createSocket('udp4');
// node:dgram keeps no counters; a number increment allocates nothing.
let received = 0;
socket.on('message', (msg, rinfo) => {
  received++;
  socket.send(msg, rinfo.port, rinfo.address);
});
socket.on('error', (err) => {
  console.error(`dgram echo server: ${err.message}`);
  process.exit(1);
});
socket.bind(0, '127.0.0.1', () => {
  console.log(`READY ${socket.address().port}`);
});
installHeapProbe({ packets: () => received });

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => socket.close(() => process.exit(0)));
}
