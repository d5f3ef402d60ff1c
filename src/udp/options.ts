/**
 * Options of the batch UDP socket: validation and defaults in one place.
 */
import type { RecvBatch } from './batch.js';
import { badPort, badSocketType, invalidArgType, invalidArgValue, outOfRange } from '../core/errors.js';

export type SocketType = 'udp4' | 'udp6';
export type ReceiveMode = 'auto' | 'multishot' | 'single';

export interface UdpSocketOptions {
  /** 'udp4' or 'udp6' (required). */
  type: SocketType;
  /** Local address to bind: an IP literal. Default '0.0.0.0' or '::'. */
  address?: string;
  /** Local port; 0 (default) picks an ephemeral port. */
  port?: number;
  /** udp6 only: refuse IPv4 (IPV6_V6ONLY). Default false (dual-stack). */
  ipv6Only?: boolean;
  reuseAddr?: boolean;
  reusePort?: boolean;
  /** SO_RCVBUF / SO_SNDBUF in bytes. */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /**
   * Largest datagram payload received whole (default 2048). Longer ones are
   * cut to this size and flagged: batch.truncated(i), stats().truncated.
   */
  maxMessageSize?: number;
  /** Receive buffers in the pool (power of two; default 256, single: 32). */
  recvBuffers?: number;
  /** Sends queued or in flight at most (power of two; default 1024). */
  sendQueueSize?: number;
  /** Bytes of send payload space (default 1 MiB). */
  sendBufferBytes?: number;
  /**
   * 'auto' (default): multishot recvmsg with a provided buffer ring when the
   * kernel has it, else single-shot. 'single' forces single-shot recvmsg.
   */
  receiveMode?: ReceiveMode;
  /**
   * 'auto' (default): io_uring if usable, else recvmmsg/sendmmsg ('mmsg').
   * Forcing one that cannot work throws ERR_IOURING_NET_BACKEND_UNAVAILABLE.
   * The IOURING_NET_BACKEND environment variable sets the default.
   */
  backend?: 'auto' | 'io_uring' | 'mmsg' | 'dgram';
  /**
   * UDP GSO (io_uring and mmsg backends; default true): consecutive sends of one turn
   * to the same destination and of the same size (the last may be shorter)
   * go to the kernel as one sendmsg with UDP_SEGMENT, up to 64 datagrams or
   * 64 KiB. Receivers see ordinary datagrams. If the route refuses it
   * (EIO, EMSGSIZE, EINVAL) those datagrams are sent one by one and the
   * socket adapts: nothing is lost. false sends every datagram alone.
   */
  gso?: boolean;
  /**
   * UDP GRO (io_uring and mmsg backends; default false): the kernel may hand over up
   * to 64 datagrams of one sender in one receive; they are still delivered
   * as separate entries of the batch. Costs a 64 KiB buffer per
   * recvBuffers entry, so use it with fewer buffers (e.g. 64).
   */
  gro?: boolean;
  /** Do not emit the one-time IOURING_NET_FALLBACK warning. */
  quiet?: boolean;
  /** Handler for receive batches; receiving starts when one is set. */
  onBatch?: (batch: RecvBatch) => void;
  /**
   * Use this existing UDP socket (a file descriptor of the socket's family)
   * instead of creating and binding one; `address`, `port`, `reuseAddr`,
   * `reusePort` and `ipv6Only` then do not apply. The socket owns the fd
   * and closes it, unless `dupFd` is true: then it adopts a duplicate and
   * the caller keeps `fd` (io_uring and mmsg backends only).
   */
  fd?: number;
  dupFd?: boolean;
  /**
   * @internal How the node:dgram layer (src/dgram) binds on the dgram
   * backend, where node:dgram itself does it: 'implicit' leaves the socket
   * unbound until node:dgram's own implicit bind (addMembership); the other
   * backends then bind as libuv would (any address, port 0, SO_REUSEADDR).
   */
  dgramBind?: 'implicit';
  /**
   * @internal dgram backend only: adopt this node UDP handle (from a
   * cluster primary or dgram._createSocketHandle), which node:dgram's
   * bind(handle) takes over; the other backends adopt `fd` with `dupFd`.
   */
  dgramHandle?: object;
}

export interface ResolvedOptions {
  type: SocketType;
  family: 4 | 6;
  address: string;
  port: number;
  ipv6Only: boolean;
  reuseAddr: boolean;
  reusePort: boolean;
  recvBufferSize: number | undefined;
  sendBufferSize: number | undefined;
  maxMessageSize: number;
  recvBuffers: number;
  sendQueueSize: number;
  sendBufferBytes: number;
  receiveMode: ReceiveMode;
  gso: boolean;
  gro: boolean;
  /** -1: create a socket. */
  fd: number;
  dupFd: boolean;
  dgramBind: 'implicit' | undefined;
  dgramHandle: object | undefined;
}

export function isPow2(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function intOpt(o: Record<string, unknown>, name: string, min: number, max: number, def: number): number {
  const v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'number') throw invalidArgType(`options.${name}`, 'of type number', v);
  if (!Number.isInteger(v) || v < min || v > max) throw outOfRange(`options.${name}`, `an integer >= ${min} and <= ${max}`, v);
  return v;
}

function pow2Opt(o: Record<string, unknown>, name: string, max: number, def: number): number {
  const v = intOpt(o, name, 1, max, def);
  if (!isPow2(v)) throw invalidArgValue(`options.${name}`, v, 'must be a power of two');
  return v;
}

function boolOpt(o: Record<string, unknown>, name: string, def = false): boolean {
  const v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw invalidArgType(`options.${name}`, 'of type boolean', v);
  return v;
}

function dgramBindOpt(v: unknown): 'implicit' | undefined {
  if (v === undefined || v === 'implicit') return v;
  throw invalidArgValue('options.dgramBind', v, "must be 'implicit'");
}

export function resolveOptions(opts: UdpSocketOptions): ResolvedOptions {
  if (opts === null || typeof opts !== 'object') throw invalidArgType('options', 'of type object', opts);
  const o = opts as unknown as Record<string, unknown>;
  if (o.type !== 'udp4' && o.type !== 'udp6') throw badSocketType();
  const family = o.type === 'udp4' ? 4 : 6;
  const address = o.address === undefined ? (family === 4 ? '0.0.0.0' : '::') : o.address;
  if (typeof address !== 'string') throw invalidArgType('options.address', 'of type string', address);
  const port = o.port === undefined ? 0 : o.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw badPort('Port', port);
  const mode = o.receiveMode === undefined ? 'auto' : o.receiveMode;
  if (mode !== 'auto' && mode !== 'multishot' && mode !== 'single') {
    throw invalidArgValue('options.receiveMode', mode, "must be 'auto', 'multishot' or 'single'");
  }
  const optionalInt = (name: string): number | undefined =>
    o[name] === undefined ? undefined : intOpt(o, name, 1, 0x7fffffff, 0);
  return {
    type: o.type,
    family,
    address,
    port,
    ipv6Only: boolOpt(o, 'ipv6Only'),
    reuseAddr: boolOpt(o, 'reuseAddr'),
    reusePort: boolOpt(o, 'reusePort'),
    recvBufferSize: optionalInt('recvBufferSize'),
    sendBufferSize: optionalInt('sendBufferSize'),
    maxMessageSize: intOpt(o, 'maxMessageSize', 1, 65536, 2048),
    recvBuffers: pow2Opt(o, 'recvBuffers', 32768, mode === 'single' ? 32 : 256),
    sendQueueSize: pow2Opt(o, 'sendQueueSize', 65536, 1024),
    sendBufferBytes: intOpt(o, 'sendBufferBytes', 1024, 256 * 1024 * 1024, 1024 * 1024),
    receiveMode: mode,
    gso: boolOpt(o, 'gso', true),
    gro: boolOpt(o, 'gro'),
    fd: o.fd === undefined ? -1 : intOpt(o, 'fd', 0, 0x7fffffff, -1),
    dupFd: boolOpt(o, 'dupFd'),
    dgramBind: dgramBindOpt(o.dgramBind),
    dgramHandle: typeof o.dgramHandle === 'object' && o.dgramHandle !== null ? o.dgramHandle : undefined,
  };
}
