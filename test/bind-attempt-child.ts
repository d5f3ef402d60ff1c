/**
 * Try to bind a UDP port that a tunnel holds, the way another local user
 * would (test/tunnel-port-owner.test.ts runs this as `nobody`):
 *
 *   node bind-attempt-child.js ADDRESS PORT reuseaddr|reuseport|both
 *
 * reuseaddr: node:dgram with SO_REUSEADDR; reuseport: this library's socket
 * with SO_REUSEPORT (mmsg backend); both: SO_REUSEADDR and SO_REUSEPORT.
 * Prints one JSON line: { bound: true, uid } or { bound: false, code, uid }.
 */
import { createSocket } from 'node:dgram';
import { openUdp } from '../src/index.js';

const [address = '127.0.0.1', portText = '0', mode = 'reuseaddr'] = process.argv.slice(2);
const port = Number(portText);
const uid = process.getuid?.() ?? -1;

function report(bound: boolean, code?: string): void {
  process.stdout.write(`${JSON.stringify({ bound, uid, ...(code !== undefined ? { code } : {}) })}\n`);
  process.exit(0);
}

if (mode === 'reuseaddr') {
  const s = createSocket({ type: 'udp4', reuseAddr: true });
  s.once('error', (err: NodeJS.ErrnoException) => report(false, err.code));
  s.bind({ address, port }, () => report(true));
} else {
  try {
    const s = openUdp({ type: 'udp4', address, port, reusePort: true, reuseAddr: mode === 'both', backend: 'mmsg', quiet: true });
    s.close();
    report(true);
  } catch (err) {
    report(false, (err as NodeJS.ErrnoException).code);
  }
}
