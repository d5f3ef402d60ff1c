/**
 * A UDP relay between a WireGuard peer and our device, for the replay and
 * forgery tests (test/wg-interop.test.ts), run in the device's namespace:
 *
 *   node wg-relay-child.js LISTEN_ADDR LISTEN_PORT UPSTREAM_ADDR UPSTREAM_PORT
 *
 * Datagrams from UPSTREAM (our device) go to the last client that sent
 * something; datagrams from a client go to UPSTREAM, and the relay keeps
 * the last 64 transport data messages (type 4, longer than a keepalive) it
 * forwarded. Commands are signals, each answered with one line on
 * standard output once the datagrams are sent:
 *
 *   SIGUSR1   send the BATCH most recent kept messages to UPSTREAM again,
 *             as they were ("replayed N")
 *   SIGUSR2   send BATCH copies of kept messages with a fresh counter
 *             (never used by the sender) and one ciphertext byte flipped
 *             ("forged N")
 *
 * Prints READY once listening.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';

const [listenAddr = '', listenPort = '0', upAddr = '', upPort = '0'] = process.argv.slice(2);
const KEEP = 64;
const BATCH = 10;
const MESSAGE_DATA = 4;
const KEEPALIVE_LEN = 32;
const kept: Buffer[] = [];
let client: RemoteInfo | undefined;

const sock = createSocket('udp4');
sock.on('message', (msg, rinfo) => {
  if (rinfo.address === upAddr && rinfo.port === Number(upPort)) {
    if (client) sock.send(msg, client.port, client.address);
    return;
  }
  client = rinfo;
  if (msg[0] === MESSAGE_DATA && msg.length > KEEPALIVE_LEN) {
    kept.push(Buffer.from(msg));
    if (kept.length > KEEP) kept.shift();
  }
  sock.send(msg, Number(upPort), upAddr);
});

function sendAll(list: Buffer[], answer: string): void {
  let left = list.length;
  if (left === 0) process.stdout.write(`${answer}\n`);
  for (const m of list) {
    sock.send(m, Number(upPort), upAddr, () => {
      if (--left === 0) process.stdout.write(`${answer}\n`);
    });
  }
}

function forged(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let k = 0; k < n && kept.length > 0; k++) {
    const m = Buffer.from(kept[k % kept.length] as Buffer);
    // Counter (bytes 8..15, little endian) far ahead of anything sent, so the
    // replay window lets it through to authentication, which must fail.
    m.writeBigUInt64LE(m.readBigUInt64LE(8) + 1_000_000n + BigInt(k), 8);
    m[16] = (m[16] ?? 0) ^ 0x80;
    out.push(m);
  }
  return out;
}

process.on('SIGUSR1', () => {
  const list = kept.slice(-BATCH);
  sendAll(list, `replayed ${list.length}`);
});
process.on('SIGUSR2', () => {
  const list = forged(BATCH);
  sendAll(list, `forged ${list.length}`);
});
setTimeout(() => process.exit(1), 300_000).unref();

sock.bind(Number(listenPort), listenAddr, () => process.stdout.write('READY\n'));
