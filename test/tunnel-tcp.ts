/**
 * The two ends of the tunnel tests' TCP transfer, run inside network
 * namespaces (`ip netns exec NS node tunnel-tcp.js ...`):
 *
 *   sink HOST PORT            accept one connection, hash what arrives;
 *                             prints READY once listening, then one JSON line
 *   source HOST PORT BYTES    send BYTES of pseudo-random data (AES-128-CTR
 *                             keystream, so both runs make the same bytes),
 *                             hash what was sent; prints one JSON line
 *
 * The JSON line is { bytes, sha256 }. Each side gives up after 150 s.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { createConnection, createServer, type Socket } from 'node:net';

const CHUNK = 256 * 1024;

function done(bytes: number, sha256: string): void {
  process.stdout.write(`${JSON.stringify({ bytes, sha256 })}\n`);
}

function sink(host: string, port: number): void {
  const server = createServer((sock: Socket) => {
    server.close();
    const hash = createHash('sha256');
    let bytes = 0;
    sock.on('data', (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
    });
    sock.on('end', () => {
      done(bytes, hash.digest('hex'));
      sock.end();
    });
    sock.on('error', (err) => {
      process.stderr.write(`sink: ${err.message}\n`);
      process.exit(1);
    });
  });
  server.listen(port, host, () => process.stdout.write('READY\n'));
}

function source(host: string, port: number, total: number): void {
  const keystream = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(CHUNK);
  const hash = createHash('sha256');
  let sent = 0;
  const sock = createConnection({ host, port });
  const pump = (): void => {
    while (sent < total) {
      const n = Math.min(CHUNK, total - sent);
      const data = keystream.update(n === CHUNK ? zeros : zeros.subarray(0, n));
      hash.update(data);
      sent += n;
      if (!sock.write(data)) {
        sock.once('drain', pump);
        return;
      }
    }
    sock.end();
  };
  sock.on('connect', pump);
  sock.on('close', () => done(sent, hash.digest('hex')));
  sock.on('error', (err) => {
    process.stderr.write(`source: ${err.message}\n`);
    process.exit(1);
  });
}

const [mode, host = '', portText = '0', bytesText = '0'] = process.argv.slice(2);
setTimeout(() => {
  process.stderr.write(`${mode}: gave up after 150 s\n`);
  process.exit(1);
}, 150_000).unref();
if (mode === 'sink') sink(host, Number(portText));
else if (mode === 'source') source(host, Number(portText), Number(bytesText));
else {
  process.stderr.write('usage: tunnel-tcp.js sink HOST PORT | source HOST PORT BYTES\n');
  process.exit(2);
}
