/**
 * Upstream wireguard-go as the tunnel benchmark's anchor: the binary from
 * the shared anchors folder (../shared/anchors/wireguard-go-0.0.20250522,
 * see its README; the version with TUN offloads and UDP GSO/GRO), else
 * Debian's `wireguard-go` (older, much slower), else none. Each namespace
 * runs one in the foreground and is configured through its UAPI socket
 * (wireguard.com/xplatform: set=1 with hex keys), so no wireguard-tools are
 * needed. Keys are X25519 pairs from node:crypto, made per run.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';

export interface WgGo {
  path: string;
  /** What to print: which binary this is. */
  label: string;
}

const ANCHOR = 'wireguard-go-0.0.20250522';

/** The binary to compare with, or why there is none. */
export function findWireguardGo(root: string): WgGo | string {
  const dirs = [process.env.BENCH_ANCHORS_DIR ?? ''];
  // ../shared/anchors next to the checkout (or next to its parent, for a
  // worktree one level further down).
  for (let d = resolve(root), k = 0; k < 3; k++, d = dirname(d)) dirs.push(join(d, '..', 'shared', 'anchors'));
  for (const d of dirs) {
    const p = d && join(d, ANCHOR);
    if (p && existsSync(p)) return { path: p, label: `upstream ${ANCHOR} (anchors)` };
  }
  try {
    const p = execFileSync('sh', ['-c', 'command -v wireguard-go'], { encoding: 'utf8' }).trim();
    if (p) return { path: p, label: `Debian's wireguard-go (${p}; the anchors binary was not found)` };
  } catch {
    // not installed
  }
  return 'no wireguard-go: neither ../shared/anchors/ nor a `wireguard-go` on PATH';
}

export interface WgKeys {
  privateHex: string;
  publicHex: string;
}

/** A fresh X25519 key pair as the UAPI's hex strings. */
export function wgKeys(): WgKeys {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  // The raw keys are the last 32 bytes of the PKCS#8 / SPKI encodings.
  const priv = privateKey.export({ format: 'der', type: 'pkcs8' });
  const pub = publicKey.export({ format: 'der', type: 'spki' });
  return { privateHex: priv.subarray(priv.length - 32).toString('hex'), publicHex: pub.subarray(pub.length - 32).toString('hex') };
}

/** Send one UAPI request to /var/run/wireguard/NAME.sock; resolves with errno=0 or rejects. */
export function uapiSet(name: string, body: string, ms = 5000): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const sock = connect(`/var/run/wireguard/${name}.sock`);
    let reply = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`UAPI ${name}: no answer within ${ms} ms`));
    }, ms);
    sock.on('connect', () => sock.write(`set=1\n${body}\n`));
    sock.on('data', (d) => {
      reply += d.toString();
      if (!reply.includes('\n\n')) return;
      clearTimeout(timer);
      sock.end();
      if (/errno=0\n/.test(reply)) resolvePromise();
      else reject(new Error(`UAPI ${name}: ${reply.trim()}`));
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The UAPI body for one end: our key and port, the peer's key, endpoint and inner network. */
export function wgConfig(self: WgKeys, peer: WgKeys, port: number, endpoint: string, allowed: string): string {
  return [
    `private_key=${self.privateHex}`,
    `listen_port=${port}`,
    `public_key=${peer.publicHex}`,
    `endpoint=${endpoint}`,
    `allowed_ip=${allowed}`,
    '',
  ].join('\n');
}
