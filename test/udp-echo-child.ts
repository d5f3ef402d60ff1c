/**
 * UDP traffic alongside the tunnel tests' TCP transfers (plain node:dgram:
 * a traffic source, not the code under test), run inside a namespace:
 *
 *   server HOST PORT              echo every datagram back; prints READY
 *   client HOST PORT COUNT SIZE   COUNT round trips of SIZE-byte datagrams,
 *                                 each re-sent every 200 ms until its echo
 *                                 comes back intact (a loaded tunnel may
 *                                 drop some, as any router); prints one
 *                                 JSON line { done, resent, corrupt }
 *
 * Each side gives up after 120 s.
 */
import { createSocket } from 'node:dgram';

const [mode, host = '', portText = '0', countText = '0', sizeText = '0'] = process.argv.slice(2);
const port = Number(portText);
const type = host.includes(':') ? 'udp6' : 'udp4';
setTimeout(() => {
  process.stderr.write(`udp-echo ${mode}: gave up after 120 s\n`);
  process.exit(1);
}, 120_000).unref();

if (mode === 'server') {
  const s = createSocket(type);
  s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
  s.bind(port, host, () => process.stdout.write('READY\n'));
  // Until killed: the test ends it.
} else if (mode === 'client') {
  const count = Number(countText);
  const size = Number(sizeText);
  const s = createSocket(type);
  let i = 0;
  let resent = 0;
  let corrupt = 0;
  let timer: NodeJS.Timeout | undefined;
  const payload = (n: number): Buffer => {
    const b = Buffer.alloc(size);
    b.writeUInt32BE(n, 0);
    for (let k = 4; k < size; k++) b[k] = (n + k) & 0xff;
    return b;
  };
  const send = (): void => {
    s.send(payload(i), port, host);
    timer = setTimeout(() => {
      resent++;
      send();
    }, 200);
  };
  s.on('message', (msg) => {
    if (msg.length !== size || msg.readUInt32BE(0) !== i) {
      if (!payload(msg.length >= 4 ? msg.readUInt32BE(0) : 0).equals(msg)) corrupt++;
      return; // a late echo of an earlier datagram
    }
    if (!msg.equals(payload(i))) {
      corrupt++;
      return;
    }
    clearTimeout(timer);
    if (++i === count) {
      process.stdout.write(`${JSON.stringify({ done: i, resent, corrupt })}\n`);
      s.close();
      return;
    }
    send();
  });
  s.bind(0, () => send());
} else {
  process.stderr.write('usage: udp-echo-child.js server HOST PORT | client HOST PORT COUNT SIZE\n');
  process.exit(2);
}
