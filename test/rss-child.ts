/**
 * Child for the dgram layer's memory test: in a fresh process (the test
 * runner's own heap would blur the number), binds 20 sockets, sends each
 * 250 small datagrams, and prints how much RSS grew, in bytes. Exits 1 if
 * the datagrams do not arrive within 5 s; closes everything either way.
 */
import { createSocket, type Socket } from '../src/dgram/socket.js';

const bound = (s: Socket): Promise<Socket> => new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
const rss0 = process.memoryUsage().rss;
const socks = await Promise.all(Array.from({ length: 20 }, () => bound(createSocket('udp4'))));
const tx = createSocket('udp4');
let got = 0;
for (const s of socks) s.on('message', () => got++);
for (let round = 0; round < 5; round++) {
  for (const s of socks) for (let i = 0; i < 50; i++) tx.send(Buffer.alloc(500), s.address().port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 20));
}
const deadline = Date.now() + 5000;
while (got < 4000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
const grew = process.memoryUsage().rss - rss0;
for (const s of [tx, ...socks]) s.close();
if (got < 4000) {
  process.stderr.write(`only ${got} datagrams arrived\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(`${grew}\n`);
}
