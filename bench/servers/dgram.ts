// node:dgram echo server: the baseline a Node user gets today, written the
// obvious way (one 'message' event and one send per datagram).
import { createSocket } from 'node:dgram';

const socket = createSocket('udp4');
socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
socket.on('error', (err) => {
  console.error(`dgram echo server: ${err.message}`);
  process.exit(1);
});
socket.bind(0, '127.0.0.1', () => {
  console.log(`READY ${socket.address().port}`);
});

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => socket.close(() => process.exit(0)));
}
