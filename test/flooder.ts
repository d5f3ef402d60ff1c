/**
 * A child process that floods 127.0.0.1:PORT with 64-byte datagrams using
 * node:dgram, for at most SECONDS, and exits when its parent goes away.
 * Used by the close-under-load tests. Usage: node flooder.js PORT SECONDS
 */
import { createSocket } from 'node:dgram';

const port = Number(process.argv[2]);
const seconds = Number(process.argv[3] ?? '10');
const sock = createSocket('udp4');
const payload = Buffer.alloc(64, 0x5a);
const deadline = Date.now() + seconds * 1000;
sock.on('error', () => {
  /* ICMP port unreachable while the target is between binds: expected */
});
function burst(): void {
  if (Date.now() > deadline) {
    sock.close();
    return;
  }
  for (let i = 0; i < 64; i++) sock.send(payload, port, '127.0.0.1');
  setImmediate(burst);
}
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
burst();
process.stdout.write('FLOODING\n');
