/**
 * Serves the UAPI (uapi.ts) on a unix socket, where `wg` looks for a
 * userspace interface: /var/run/wireguard/NAME.sock.
 *
 * - The socket is private to its owner (mode 0600): it is bound inside a
 *   fresh 0700 directory, chmod'ed, then renamed into place, so it is never
 *   reachable with wider permissions (wireguard-go sets umask 077 around
 *   bind; a process-wide umask is not ours to change).
 * - A stale socket left by a dead process is removed (connect() refused);
 *   a live one (another daemon serves it) fails with EADDRINUSE; a file
 *   that is not a socket is never removed (EEXIST).
 * - Each connection may carry many requests in sequence, as wireguard-go
 *   allows; clients come and go (wg connects once per command, and `wg
 *   show` also connects and closes at once to probe). Requests are handled
 *   one at a time per connection, synchronously, so they never interleave.
 * - Lines are bounded (maxLineLength) and so is a set request
 *   (maxRequestBytes): beyond, the client gets errno=-5 and is cut off.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rename, rm, chmod, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';

import { CodedError, errnoException } from '../core/errors.js';
import { formatGetResponse, handleSet, UAPI_ERRNO, type UapiDevice, type UapiError } from './uapi.js';

/** Where wg(8) looks for userspace interfaces. */
export const UAPI_SOCKET_DIR = '/var/run/wireguard';

/** Longest interface name (IFNAMSIZ - 1). */
const MAX_IFNAME = 15;
/** sun_path holds 108 bytes including the NUL. */
const MAX_SUN_PATH = 107;

/** The socket path for interface `name`: DIR/NAME.sock. Throws ERR_INVALID_ARG_VALUE for a bad name. */
export function uapiSocketPath(name: string, dir = UAPI_SOCKET_DIR): string {
  if (typeof name !== 'string' || !name || name.length > MAX_IFNAME || name.includes('/') || name === '.' || name === '..') {
    throw new CodedError('ERR_INVALID_ARG_VALUE', `invalid interface name ${JSON.stringify(name)} (1-15 characters, no '/')`);
  }
  return join(dir, `${name}.sock`);
}

/** Options of serveUapi(). */
export interface UapiServerOptions {
  /** The socket's path (default: uapiSocketPath(interfaceName)). */
  path?: string;
  /** The interface name, for the default path. */
  interfaceName?: string;
  /** Longest accepted line in bytes, newline excluded (default 4096). */
  maxLineLength?: number;
  /** Largest set request in bytes (default 16 MiB). */
  maxRequestBytes?: number;
  /** Most simultaneous clients (default 64); more are refused by the server. */
  maxConnections?: number;
  /** Told about every failed request (for logs). */
  onError?: (err: UapiError) => void;
}

/** A listening UAPI server. */
export interface UapiServer {
  /** The socket's path. */
  readonly path: string;
  /** Stop accepting, close every client, remove the socket file (if still ours). */
  close(): Promise<void>;
}

const NL = 0x0a;

/** One client's request parser: wireguard-go's IpcHandle loop as a byte-driven state machine. */
class Connection {
  private pending: Buffer = Buffer.alloc(0);
  private state: 'op' | 'get' | 'set' = 'op';
  private setLines: string[] = [];
  private setBytes = 0;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly device: UapiDevice,
    private readonly opts: Required<Pick<UapiServerOptions, 'maxLineLength' | 'maxRequestBytes'>> & UapiServerOptions,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', () => socket.destroy());
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    // Each round consumes at least one byte or returns: bounded by the data.
    while (!this.closed && this.pending.length) {
      if (this.state === 'get') {
        this.finishGet(this.pending[0] === NL);
        this.pending = this.pending.subarray(1);
        continue;
      }
      const nl = this.pending.indexOf(NL);
      if (nl < 0) {
        if (this.pending.length > this.opts.maxLineLength) this.tooLong();
        return;
      }
      if (nl > this.opts.maxLineLength) return this.tooLong();
      const line = this.pending.toString('utf8', 0, nl);
      this.pending = this.pending.subarray(nl + 1);
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    if (this.state === 'op') {
      if (line === 'get=1') this.state = 'get';
      else if (line === 'set=1') this.state = 'set';
      else this.close(); // wireguard-go: "invalid UAPI operation", connection dropped
      return;
    }
    // bufio.Scanner's ScanLines drops one '\r' before the newline.
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text === '') return this.finishSet();
    this.setBytes += line.length + 1;
    if (this.setBytes > this.opts.maxRequestBytes) {
      this.reply(UAPI_ERRNO.io, 'set request too large');
      return this.close();
    }
    this.setLines.push(text);
  }

  private finishGet(ok: boolean): void {
    this.state = 'op';
    if (!ok) return this.reply(UAPI_ERRNO.invalid, 'trailing character in UAPI get');
    let body: string;
    try {
      body = formatGetResponse(this.device.getState());
    } catch (err) {
      return this.reply(UAPI_ERRNO.unknown, `get failed: ${(err as Error).message}`);
    }
    this.socket.write(`${body}errno=0\n\n`);
  }

  private finishSet(): void {
    const lines = this.setLines;
    this.setLines = [];
    this.setBytes = 0;
    this.state = 'op';
    const errno = handleSet(this.device, lines, this.opts.onError);
    this.socket.write(`errno=${errno}\n\n`);
  }

  /** wireguard-go applies what a set read before EOF; so do we, then close. */
  private onEnd(): void {
    if (!this.closed && this.state === 'set') {
      const rest = this.pending.toString('utf8');
      if (rest && rest.length <= this.opts.maxLineLength) this.setLines.push(rest.endsWith('\r') ? rest.slice(0, -1) : rest);
      this.finishSet();
    }
    this.close();
  }

  private tooLong(): void {
    this.reply(UAPI_ERRNO.io, 'line too long');
    this.close();
  }

  private reply(errno: number, message: string): void {
    this.opts.onError?.(Object.assign(new CodedError('ERR_WIREGUARD_UAPI', message), { errno }) as UapiError);
    this.socket.write(`errno=${errno}\n\n`);
  }

  private close(): void {
    this.closed = true;
    this.pending = Buffer.alloc(0);
    this.setLines = [];
    this.socket.end();
  }
}

/** Whether something accepts connections on `path` (false: refused or absent). */
function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Remove a stale socket at `path`; throw if it is live or not a socket. */
async function clearStale(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw errnoException(-17, 'uapi listen (not a socket)', path);
  if (await socketAlive(path)) throw errnoException(-98, 'uapi listen (socket in use)', path);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Serve the UAPI for `device` on a unix socket (see the module comment).
 * Resolves once the socket is in place.
 */
export async function serveUapi(device: UapiDevice, options: UapiServerOptions = {}): Promise<UapiServer> {
  const path = options.path ?? uapiSocketPath(options.interfaceName ?? '');
  const opts = { maxLineLength: 4096, maxRequestBytes: 16 << 20, ...options };
  const dir = dirname(path);
  const staging = join(dir, `.${basename(path)}.${randomBytes(4).toString('hex')}`);
  if (Buffer.byteLength(join(staging, 's')) > MAX_SUN_PATH) {
    throw new CodedError('ERR_INVALID_ARG_VALUE', `socket path too long for a unix socket: ${path}`);
  }
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await clearStale(path);
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    new Connection(socket, device, opts);
  });
  server.maxConnections = options.maxConnections ?? 64;
  await mkdir(staging, { mode: 0o700 });
  let ino: number;
  try {
    await listen(server, join(staging, 's'));
    await chmod(join(staging, 's'), 0o600);
    await rename(join(staging, 's'), path);
    ino = (await lstat(path)).ino;
  } catch (err) {
    server.close();
    throw err;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  let closing: Promise<void> | undefined;
  return {
    path,
    close() {
      closing ??= (async () => {
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await done;
        // Only our own socket: another daemon may have taken the name since.
        const st = await lstat(path).catch(() => null);
        if (st?.isSocket() && st.ino === ino) await unlink(path).catch(() => undefined);
      })();
      return closing;
    },
  };
}

/**
 * Send one raw request (e.g. "get=1\n\n") to a UAPI socket and resolve with
 * the answer up to and including its blank line. For tests and tools.
 */
export function uapiRequest(path: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let answer = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(request));
    s.on('data', (d: string) => {
      answer += d;
      const m = /(^|\n)errno=-?[0-9]+\n\n/.exec(answer);
      if (m) {
        s.destroy();
        resolve(answer.slice(0, m.index + m[0].length));
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new CodedError('ERR_WIREGUARD_UAPI', `connection closed before a complete answer: ${JSON.stringify(answer)}`)));
  });
}
