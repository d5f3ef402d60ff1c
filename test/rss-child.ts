/**
 * Child for the dgram layer's memory test: in a fresh process (the test
 * runner's own heap would blur the number), binds 20 sockets, sends each
 * 250 small datagrams in five rounds (each round waited for: 50 per socket
 * fit its receive buffers), and prints how much RSS grew, in bytes. Exits
 * 1 if a round's datagrams do not all arrive (hang guard: 10 s per round);
 * closes everything either way.
 */
import { createSocket, type Socket } from '../src/dgram/socket.js';
import { waitUntil } from './helpers.js';

const bound = (s: Socket): Promise<Socket> => new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
const rss0 = process.memoryUsage().rss;
const socks = await Promise.all(Array.from({ length: 20 }, () => bound(createSocket('udp4'))));
const tx = createSocket('udp4');
let got = 0;
for (const s of socks) s.on('message', () => got++);
try {
  for (let round = 0; round < 5; round++) {
    for (const s of socks) for (let i = 0; i < 50; i++) tx.send(Buffer.alloc(500), s.address().port, '127.0.0.1');
    const want = (round + 1) * socks.length * 50;
    await waitUntil(() => got === want, 10_000, `round ${round}: ${want} datagrams (${got} arrived)`);
  }
  process.stdout.write(`${process.memoryUsage().rss - rss0}\n`);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  for (const s of [tx, ...socks]) s.close();
}
