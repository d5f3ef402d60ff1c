/**
 * Child of tun-offload-io.test.ts, run inside the test's network namespace
 * (`ip netns exec NS node tun-offload-child.js ...`):
 *
 *   send HOST PORT COUNT SIZE   COUNT datagrams of SIZE bytes to HOST:PORT in
 *                               one turn from a socket with UDP GSO, so the
 *                               kernel makes one USO super-segment of them
 *                               for a TUN that takes USO; payload byte k of
 *                               datagram i is (i * 7 + k) & 0xff
 *   recv HOST PORT COUNT        bind HOST:PORT, print READY, then one JSON
 *                               line once COUNT datagrams came (or after
 *                               10 s): { count, good, sizes }; a datagram
 *                               is good if it has the sender's pattern
 */
import { openUdp } from '../src/index.js';

const [mode, host = '', portText = '0', countText = '0', sizeText = '0'] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const type = host.includes(':') ? 'udp6' : 'udp4';

export function pattern(i: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let k = 0; k < size; k++) b[k] = (i * 7 + k) & 0xff;
  return b;
}

if (mode === 'send') {
  const size = Number(sizeText);
  const tx = openUdp({ type, gso: true, sendQueueSize: 256 });
  await tx.ready;
  for (let i = 0; i < count; i++) tx.send(pattern(i, size), port, host);
  const deadline = Date.now() + 10_000;
  while (tx.stats().packetsOut + tx.stats().sendErrors < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const s = tx.stats();
  process.stdout.write(`${JSON.stringify({ sent: s.packetsOut, errors: s.sendErrors, gsoSends: s.gsoSends })}\n`);
  tx.close();
} else if (mode === 'recv') {
  const rx = openUdp({ type, address: host, port, recvBuffers: 256, maxMessageSize: 65535 });
  let got = 0;
  let good = 0;
  const sizes = new Set<number>();
  const finish = (): void => {
    process.stdout.write(`${JSON.stringify({ count: got, good, sizes: [...sizes] })}\n`);
    rx.close();
    clearTimeout(timer);
  };
  const timer = setTimeout(finish, 10_000);
  rx.onBatch = (b) => {
    for (let i = 0; i < b.length; i++) {
      const d = b.data(i);
      got++;
      sizes.add(d.length);
      // Datagram i of the sender starts with (i * 7) & 0xff; which i is
      // unknown here, so check the pattern's step instead.
      let ok = d.length > 1;
      for (let k = 1; k < d.length && ok; k++) ok = d[k] === ((d[0]! + k) & 0xff);
      if (ok) good++;
    }
    if (got >= count) finish();
  };
  await rx.ready;
  process.stdout.write('READY\n');
} else {
  process.stderr.write('usage: tun-offload-child.js send HOST PORT COUNT SIZE | recv HOST PORT COUNT\n');
  process.exit(2);
}
