/**
 * Child for the GSO fallback test, run in a namespace whose loopback has a
 * 1500-byte MTU: two bursts of 3000-byte datagrams to one peer. UDP GSO
 * refuses segments larger than the route's MTU (EINVAL); every datagram
 * must still arrive (sent one by one, fragmented), and the socket must
 * learn not to try that size again. Each burst is waited for (hang guard:
 * 10 s); prints one JSON line, with what arrived even after a timeout.
 */
import { openUdp, type UdpStats } from '../src/index.js';
import { waitUntil } from './helpers.js';

const COUNT = 20;
const SIZE = 3000;
const rx = openUdp({ type: 'udp4', address: '127.0.0.1', recvBuffers: 64, maxMessageSize: 4096 });
const tx = openUdp({ type: 'udp4', address: '127.0.0.1' });
await Promise.all([rx.ready, tx.ready]);
let good = 0;
let bad = 0;
rx.onBatch = (b) => {
  for (let i = 0; i < b.length; i++) {
    const d = b.data(i);
    if (d.length === SIZE && d[0] === d[SIZE - 1]) good++;
    else bad++;
  }
};
const port = rx.address().port;
const burst = (tag: number): void => {
  for (let i = 0; i < COUNT; i++) tx.send(Buffer.alloc(SIZE, tag + i), port, '127.0.0.1');
};
const until = (n: number): Promise<string | undefined> =>
  waitUntil(() => good + bad >= n, 10_000, `${n} datagrams`).then(
    () => undefined,
    (err: Error) => err.message,
  );
burst(0);
const timeoutFirst = await until(COUNT);
const first: UdpStats = tx.stats();
burst(100);
const timeoutSecond = timeoutFirst ?? (await until(2 * COUNT));
const second: UdpStats = tx.stats();
process.stdout.write(
  `${JSON.stringify({
    good,
    bad,
    sendErrors: second.sendErrors,
    fallbacksFirst: first.gsoFallbacks,
    fallbacksSecond: second.gsoFallbacks,
    gsoSends: second.gsoSends,
    ...(timeoutFirst || timeoutSecond ? { timeout: timeoutFirst ?? timeoutSecond } : {}),
  })}\n`,
);
rx.close();
tx.close();
