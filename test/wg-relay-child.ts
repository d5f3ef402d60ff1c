/**
 * A UDP relay in front of a WireGuard peer, as a NAT would be, for the
 * roaming, replay and forgery tests (test/wireguard-interop.test.ts). It runs in
 * the peer's namespace:
 *
 *   node wg-relay-child.js INNER_ADDR INNER_PORT OUTER_ADDR UPSTREAM_ADDR UPSTREAM_PORT [MOVED_ADDR]
 *
 * The peer sends to INNER (its endpoint for our device); the relay sends
 * that on to UPSTREAM (our device) from its outer socket, bound to
 * OUTER_ADDR and a port of the kernel's choosing, and sends what UPSTREAM
 * answers back to the peer. It keeps the last 64 transport data messages
 * (type 4, longer than a keepalive) it forwarded. Commands are signals,
 * each answered with one line on standard output:
 *
 *   SIGHUP    take a new outer socket on MOVED_ADDR (the address our device
 *             sees changes mid-flow, as after a NAT rebinding or a move):
 *             "moved ADDR:PORT"
 *   SIGUSR1   send the BATCH most recent kept messages to UPSTREAM again,
 *             as they were: "replayed N"
 *   SIGUSR2   send BATCH copies of kept messages with a fresh counter
 *             (never used by the sender) and one ciphertext byte flipped:
 *             "forged N"
 *
 * Prints "READY ADDR:PORT" (its outer address) once listening.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

const [innerAddr = '', innerPort = '0', outerAddr = '', upAddr = '', upPortText = '0', movedAddr = ''] = process.argv.slice(2);
const upPort = Number(upPortText);
const KEEP = 64;
const BATCH = 10;
const MESSAGE_DATA = 4;
const KEEPALIVE_LEN = 32;
const kept: Buffer[] = [];
let client: RemoteInfo | undefined;

const inner = createSocket('udp4');
let outer: Socket | undefined;

function openOuter(address: string, then: (where: string) => void): void {
  const s = createSocket('udp4');
  s.on('message', (msg, rinfo) => {
    if (rinfo.address === upAddr && rinfo.port === upPort && client) inner.send(msg, client.port, client.address);
  });
  s.bind(0, address, () => {
    const old = outer;
    outer = s;
    old?.close();
    then(`${address}:${s.address().port}`);
  });
}

inner.on('message', (msg, rinfo) => {
  client = rinfo;
  if (msg[0] === MESSAGE_DATA && msg.length > KEEPALIVE_LEN) {
    kept.push(Buffer.from(msg));
    if (kept.length > KEEP) kept.shift();
  }
  outer?.send(msg, upPort, upAddr);
});

function sendAll(list: Buffer[], answer: string): void {
  let left = list.length;
  if (left === 0) process.stdout.write(`${answer}\n`);
  for (const m of list) {
    outer?.send(m, upPort, upAddr, () => {
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

process.on('SIGHUP', () => openOuter(movedAddr, (where) => process.stdout.write(`moved ${where}\n`)));
process.on('SIGUSR1', () => {
  const list = kept.slice(-BATCH);
  sendAll(list, `replayed ${list.length}`);
});
process.on('SIGUSR2', () => {
  const list = forged(BATCH);
  sendAll(list, `forged ${list.length}`);
});
setTimeout(() => process.exit(1), 300_000).unref();

inner.bind(Number(innerPort), innerAddr, () => openOuter(outerAddr, (where) => process.stdout.write(`READY ${where}\n`)));
