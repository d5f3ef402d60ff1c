/**
 * A node:dgram-compatible socket on top of the batch socket (src/udp/socket.ts):
 * existing UDP code switches by changing its import from 'node:dgram' to
 * 'iouring-net/dgram' (or `createSocket` from 'iouring-net').
 *
 * Same methods, events, argument handling, error codes and messages as
 * node:dgram (checked side by side by test/dgram-parity.test.ts). Underneath,
 * one UdpSocket is created when the socket binds (explicitly, or implicitly by
 * the first send()/connect(), as node:dgram does):
 *
 * - receive: one handler call per drain of the ring; this layer turns it into
 *   one 'message' per datagram with a Buffer the listener may keep and a
 *   fresh rinfo object, as node:dgram does;
 * - send: payloads are copied into the batch socket's send ring, and every
 *   send of one JS turn reaches the kernel in one io_uring_enter. When the
 *   ring is full the datagram waits in a JS queue (unbounded, like libuv's)
 *   and goes out on the next 'drain': no accepted send is lost.
 */
import { lookup as dnsLookup } from 'node:dns';
import { EventEmitter, errorMonitor } from 'node:events';
import { isIP } from 'node:net';
import type { RecvBatch } from '../udp/batch.js';
import {
  errAlreadyBound,
  errBadBufferSize,
  errBadPort,
  errBadType,
  errBufferSize,
  errClosedHandle,
  errInvalidArgType,
  errIsConnected,
  errMissingArgs,
  errNotConnected,
  errNotRunning,
  errNotSupported,
  errnoError,
  errOutOfBounds,
  errOutOfRange,
  hostPortError,
} from './errors.js';
import { openUdp } from '../udp/open.js';
import { M_ADDR, M_FAMILY, M_LEN, M_OFF, M_PORT, M_WORDS } from '../core/layout.js';
import type { UdpSocketOptions } from '../udp/options.js';
import type { UdpSocket } from '../udp/socket.js';

export type SocketType = 'udp4' | 'udp6';

/** Sender of a datagram, as node:dgram reports it. */
export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}

export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

export interface BindOptions {
  port?: number | undefined;
  address?: string | undefined;
  /** Accepted and ignored: every socket binds exclusively (see README). */
  exclusive?: boolean | undefined;
  /** Not supported: binding an existing file descriptor. */
  fd?: number | undefined;
}

export type LookupFunction = (
  hostname: string,
  family: number,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
) => void;

/** Tuning of the batch socket underneath (not in node:dgram). */
export type IouringDgramOptions = Omit<
  UdpSocketOptions,
  'type' | 'address' | 'port' | 'onBatch' | 'ipv6Only' | 'reuseAddr' | 'reusePort' | 'recvBufferSize' | 'sendBufferSize'
>;

export interface SocketOptions {
  type: SocketType;
  reuseAddr?: boolean | undefined;
  /** SO_REUSEPORT (node:dgram has it from Node 22.12; accepted here on every version). */
  reusePort?: boolean | undefined;
  ipv6Only?: boolean | undefined;
  recvBufferSize?: number | undefined;
  sendBufferSize?: number | undefined;
  lookup?: LookupFunction | undefined;
  signal?: AbortSignal | undefined;
  /** Options of the io_uring socket underneath; see README. */
  iouring?: IouringDgramOptions | undefined;
}

/**
 * node:dgram's send callback. `error` is a system error (code, errno,
 * syscall; for a host name that does not resolve, dns.lookup's error), so
 * `err.code` needs no cast.
 */
export type SendCallback = (error: NodeJS.ErrnoException | null, bytes?: number) => void;
type MessageListener = (msg: Buffer, rinfo: RemoteInfo) => void;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own listener type
type Listener = (...args: any[]) => void;
type Payload = string | NodeJS.ArrayBufferView | readonly (string | NodeJS.ArrayBufferView)[];

const UNBOUND = 0;
const BINDING = 1;
const BOUND = 2;
const DISCONNECTED = 0;
const CONNECTING = 1;
const CONNECTED = 2;

const EBADF = -9;
const EINVAL = -22;
const EDESTADDRREQ = -89;

const BUFFER_TYPES = 'of type string or an instance of Buffer, TypedArray, or DataView';

/**
 * Receive side of the socket underneath. A slot holds the largest datagram
 * (65,535 bytes, like libuv's 64 KiB read buffer, so nothing is ever cut).
 * 64 slots are 4 MiB of address space, but the kernel writes only as many
 * bytes as each datagram has, so small datagrams touch one page per slot:
 * resident memory stays about 256 KiB until big datagrams arrive.
 */
const MAX_MESSAGE = 65535;
const RECV_BUFFERS = 64;
/** Send ring payload space: four of the largest datagrams, ~180 of 1,400 bytes. */
const SEND_BUFFER_BYTES = 256 * 1024;

/** How long a rebind waits at most for a closing socket of the same port. */
const CLOSE_WAIT_MS = 1000;
/** Ports of sockets of this layer whose close is still finishing: a rebind waits for them. */
const closingPorts = new Map<number, Promise<void>[]>();

interface Pending {
  data: Uint8Array;
  port: number | undefined;
  ip: string | undefined;
  cb: ((err: Error | null, bytes: number) => void) | undefined;
}

function rethrow(err: unknown): never {
  throw err;
}

/** node:dgram's port check: returns the port as an integer. */
function validatePort(port: unknown, name: string, allowZero: boolean): number {
  if (
    (typeof port !== 'number' && typeof port !== 'string') ||
    (typeof port === 'string' && port.trim().length === 0) ||
    +port !== +port >>> 0 ||
    +port > 0xffff ||
    (port === 0 && !allowZero)
  ) {
    throw errBadPort(name, port, allowZero);
  }
  return +port | 0;
}

function validateString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw errInvalidArgType(name, 'of type string', value);
}

function validateNumber(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number') throw errInvalidArgType(name, 'of type number', value);
}

function validateUint32(value: unknown, name: string): void {
  if (typeof value !== 'number') throw errInvalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw errOutOfRange(name, 'an integer', value);
  if (value < 0 || value > 0xffffffff) throw errOutOfRange(name, '>= 0 && <= 4294967295', value);
}

function asBytes(v: ArrayBufferView): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** send()'s offset/length form: a view of the given range. */
function sliceBuffer(buffer: unknown, offset: unknown, length: unknown): Uint8Array {
  let buf: ArrayBufferView;
  if (typeof buffer === 'string') buf = Buffer.from(buffer);
  else if (!ArrayBuffer.isView(buffer)) throw errInvalidArgType('buffer', BUFFER_TYPES, buffer);
  else buf = buffer;
  const off = Number(offset) >>> 0;
  const len = Number(length) >>> 0;
  if (off > buf.byteLength) throw errOutOfBounds('offset');
  if (off + len > buf.byteLength) throw errOutOfBounds('length');
  return new Uint8Array(buf.buffer, buf.byteOffset + off, len);
}

/** An array of chunks sent as one datagram; null if one is not sendable. */
function fixBufferList(list: readonly unknown[]): Uint8Array[] | null {
  const out = new Array<Uint8Array>(list.length);
  for (let i = 0; i < list.length; i++) {
    const b = list[i];
    if (typeof b === 'string') out[i] = Buffer.from(b);
    else if (!ArrayBuffer.isView(b)) return null;
    else out[i] = asBytes(b);
  }
  return out;
}

function errnoOf(err: unknown): number | undefined {
  const n = (err as { errno?: unknown } | null)?.errno;
  return typeof n === 'number' ? n : undefined;
}

/** Operations the batch socket may grow (native multicast membership). */
interface MulticastOps {
  addMembership?(group: string, iface?: string): void;
  dropMembership?(group: string, iface?: string): void;
  addSourceSpecificMembership?(source: string, group: string, iface?: string): void;
  dropSourceSpecificMembership?(source: string, group: string, iface?: string): void;
  setMulticastInterface?(iface: string): void;
}

/** The node:dgram Socket, over io_uring. Create with createSocket(). */
export class Socket extends EventEmitter {
  readonly type: SocketType;
  readonly #family: 4 | 6;
  readonly #anyAddress: string;
  readonly #defaultPeer: string;
  readonly #lookup: LookupFunction | undefined;
  readonly #reuseAddr: boolean;
  readonly #reusePort: boolean;
  readonly #ipv6Only: boolean;
  readonly #recvBufferSize: number | undefined;
  readonly #sendBufferSize: number | undefined;
  readonly #extra: IouringDgramOptions;
  #inner: UdpSocket | undefined;
  /** close() was called (node:dgram: the handle is gone). */
  #closed = false;
  #bindState = UNBOUND;
  /**
   * A bind failed in the kernel. libuv keeps the socket it made for it, so
   * node:dgram's address() then reports the unbound socket (any address,
   * port 0) rather than EBADF; this layer answers the same.
   */
  #bindFailed = false;
  /** The socket underneath is still binding (asynchronous backends only). */
  #innerBinding = false;
  #connectState = DISCONNECTED;
  /** Work waiting for 'listening' (sends/connect/close during an implicit bind). */
  #queue: (() => void)[] | undefined;
  /** Sends the send ring could not take yet, oldest first. */
  #backlog: (Pending | undefined)[] = [];
  #backlogHead = 0;
  #backlogBytes = 0;
  #refd = true;
  /** Last destination seen to be an IP literal of our family. */
  #lastLiteral = '';
  // Last sender, to reuse its address string (no formatting per message).
  #rxFamily = -1;
  #rxA0 = 0;
  #rxA1 = 0;
  #rxA2 = 0;
  #rxA3 = 0;
  #rxAddress = '';

  constructor(type: SocketType | SocketOptions, listener?: MessageListener) {
    super();
    let kind: unknown = type;
    let lookup: unknown;
    let recvBufferSize: number | undefined;
    let sendBufferSize: number | undefined;
    let options: SocketOptions | undefined;
    if (type !== null && typeof type === 'object') {
      options = type;
      kind = options.type;
      lookup = options.lookup;
      if (options.recvBufferSize) {
        validateUint32(options.recvBufferSize, 'options.recvBufferSize');
        recvBufferSize = options.recvBufferSize;
      }
      if (options.sendBufferSize) {
        validateUint32(options.sendBufferSize, 'options.sendBufferSize');
        sendBufferSize = options.sendBufferSize;
      }
    }
    if (lookup !== undefined && typeof lookup !== 'function') throw errInvalidArgType('lookup', 'of type function', lookup);
    if (kind !== 'udp4' && kind !== 'udp6') throw errBadType();
    this.type = kind;
    this.#family = kind === 'udp4' ? 4 : 6;
    this.#anyAddress = kind === 'udp4' ? '0.0.0.0' : '::';
    this.#defaultPeer = kind === 'udp4' ? '127.0.0.1' : '::1';
    this.#lookup = lookup as LookupFunction | undefined;
    this.#reuseAddr = Boolean(options?.reuseAddr);
    this.#reusePort = Boolean(options?.reusePort);
    this.#ipv6Only = Boolean(options?.ipv6Only);
    this.#recvBufferSize = recvBufferSize;
    this.#sendBufferSize = sendBufferSize;
    this.#extra = options?.iouring ?? {};
    if (typeof listener === 'function') this.on('message', listener);
    if (options?.signal !== undefined) this.#watchSignal(options.signal);
  }

  #watchSignal(signal: unknown): void {
    if (signal === null || typeof signal !== 'object' || !('aborted' in signal)) {
      throw errInvalidArgType('options.signal', 'an instance of AbortSignal', signal);
    }
    const sig = signal as AbortSignal;
    const onAborted = (): void => {
      if (!this.#closed) this.close();
    };
    if (sig.aborted) {
      onAborted();
    } else {
      sig.addEventListener('abort', onAborted, { once: true });
      this.once('close', () => sig.removeEventListener('abort', onAborted));
    }
  }

  #healthCheck(): void {
    if (this.#closed) throw errNotRunning();
  }

  /** lookup4/lookup6 of node:dgram: empty means the loopback address. */
  #resolve(address: unknown, cb: (err: NodeJS.ErrnoException | null, ip: string) => void): void {
    const host = (address as string) || this.#defaultPeer;
    if (this.#lookup !== undefined) this.#lookup(host, this.#family, cb);
    else dnsLookup(host, this.#family, cb);
  }

  // ---- bind ---------------------------------------------------------------

  bind(port?: number, address?: string, callback?: () => void): this;
  bind(port: number, callback?: () => void): this;
  bind(callback?: () => void): this;
  bind(options: BindOptions, callback?: () => void): this;
  bind(...args: unknown[]): this {
    let port = args[0];
    const address0 = args[1];
    this.#healthCheck();
    if (this.#bindState !== UNBOUND) throw errAlreadyBound();
    if (port !== null && typeof port === 'object') {
      const o = port as { fd?: unknown; recvStart?: unknown };
      if (typeof o.recvStart === 'function') {
        throw errNotSupported('bind() with a handle', 'the socket underneath is always created by this library');
      }
      if (typeof o.fd === 'number' && (o.fd | 0) === o.fd && o.fd > 0) {
        throw errNotSupported('bind({ fd })', 'the io_uring socket cannot adopt an existing file descriptor');
      }
    }
    this.#bindState = BINDING;
    const cb = args.length > 0 ? args[args.length - 1] : undefined;
    if (typeof cb === 'function') {
      const removeListeners = (): void => {
        this.removeListener('error', removeListeners);
        this.removeListener('listening', onListening);
      };
      const onListening = (): void => {
        removeListeners();
        (cb as () => void).call(this);
      };
      this.on('error', removeListeners);
      this.on('listening', onListening);
    }
    let address: unknown;
    if (port !== null && typeof port === 'object') {
      const o = port as BindOptions;
      address = o.address || '';
      port = o.port;
    } else {
      address = typeof address0 === 'function' ? '' : address0;
    }
    if (!address) address = this.#anyAddress;
    this.#resolve(address, (err, ip) => {
      if (this.#closed) return; // closed meanwhile
      if (err) {
        this.#bindState = UNBOUND;
        this.emit('error', err);
        return;
      }
      // node:dgram converts like its C++ binding: to uint32, then 16 bits.
      const portNum = (Number(port || 0) >>> 0) & 0xffff;
      const waits = portNum === 0 ? undefined : closingPorts.get(portNum);
      if (waits === undefined) this.#open(ip, portNum, port);
      else {
        // Node closes the fd inside close(); ours is released when the ring
        // has returned the socket's requests. Rebinding that port waits for
        // that (bounded), then binds from a tick as usual, so a throwing
        // 'listening' listener is an uncaught exception, not a rejection.
        let timer: NodeJS.Timeout | undefined;
        const bound = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_WAIT_MS);
          timer.unref();
        });
        void Promise.race([Promise.all(waits), bound]).then(() => {
          clearTimeout(timer);
          process.nextTick(() => {
            if (!this.#closed) this.#open(ip, portNum, port);
          });
        });
      }
    });
    return this;
  }

  #open(ip: string, port: number, rawPort: unknown): void {
    let inner: UdpSocket;
    if (isIP(ip) !== this.#family) {
      // libuv cannot make an address of this family from it (no socket made).
      this.#bindState = UNBOUND;
      this.emit('error', hostPortError(EINVAL, 'bind', ip, rawPort));
      return;
    }
    try {
      inner = openUdp({
        maxMessageSize: MAX_MESSAGE,
        recvBuffers: RECV_BUFFERS,
        sendBufferBytes: SEND_BUFFER_BYTES,
        ...this.#extra,
        type: this.type,
        address: ip,
        port,
        ipv6Only: this.#ipv6Only,
        reuseAddr: this.#reuseAddr,
        reusePort: this.#reusePort,
      });
    } catch (e) {
      // node:dgram reports socket creation and bind failures alike, as
      // 'bind' errors (libuv makes the socket inside uv_udp_bind).
      const errno = errnoOf(e);
      if (errno !== undefined) this.#bindFailed = (e as { syscall?: unknown }).syscall === 'bind';
      this.#bindState = UNBOUND;
      this.emit('error', errno === undefined ? e : hostPortError(errno, 'bind', ip, rawPort));
      return;
    }
    this.#inner = inner;
    inner.on('error', this.#onInnerError);
    inner.on('drain', this.#onDrain);
    try {
      inner.onBatch = this.#onBatch;
    } catch (e) {
      inner.close();
      this.#inner = undefined;
      this.#bindState = UNBOUND;
      this.emit('error', errnoError(errnoOf(e) ?? EINVAL, 'recvmsg'));
      return;
    }
    if (!this.#refd) inner.unref();
    const ready = (inner as { ready?: unknown }).ready;
    if ((inner as { backend: string }).backend === 'dgram' && ready instanceof Promise) {
      // The fallback backend over node:dgram binds asynchronously.
      this.#innerBinding = true;
      ready.then(
        () =>
          process.nextTick(() => {
            this.#innerBinding = false;
            if (!this.#closed) this.#listening();
          }),
        (e: unknown) =>
          process.nextTick(() => {
            this.#innerBinding = false;
            if (this.#closed) return;
            inner.close();
            this.#inner = undefined;
            this.#bindState = UNBOUND;
            const errno = errnoOf(e);
            if (errno !== undefined) this.#bindFailed = (e as { syscall?: unknown }).syscall === 'bind';
            this.emit('error', errno === undefined ? e : hostPortError(errno, 'bind', ip, rawPort));
          }),
      );
      return;
    }
    this.#listening();
  }

  #listening(): void {
    this.#bindState = BOUND;
    if (this.#recvBufferSize) this.#bufferSize(this.#recvBufferSize, true);
    if (this.#sendBufferSize) this.#bufferSize(this.#sendBufferSize, false);
    this.emit('listening');
  }

  /** Receive errors go to 'error'; failed sends without a callback are dropped, as in node:dgram. */
  readonly #onInnerError = (err: Error): void => {
    const e = err as Error & { syscall?: string };
    // A bind error of an asynchronous bind comes through `ready` instead.
    if (e.syscall === 'send' || this.#closed || this.#innerBinding) return;
    const errno = errnoOf(e);
    this.emit('error', errno === undefined ? err : errnoError(errno, e.syscall ?? 'recvmsg'));
  };

  // ---- receive ------------------------------------------------------------

  readonly #onBatch = (batch: RecvBatch): void => {
    const n = batch.length;
    if (this.listenerCount('message') === 0) return;
    const meta = batch.meta;
    const bytes = batch.bytes;
    let i = 0;
    while (i < n && !this.#closed) {
      try {
        for (; i < n && !this.#closed; i++) {
          const b = i * M_WORDS;
          const off = meta[b + M_OFF] ?? 0;
          const len = meta[b + M_LEN] ?? 0;
          const msg = Buffer.allocUnsafe(len);
          msg.set(bytes.subarray(off, off + len));
          const family = meta[b + M_FAMILY] ?? 0;
          const a0 = meta[b + M_ADDR] ?? 0;
          const a1 = meta[b + M_ADDR + 1] ?? 0;
          const a2 = meta[b + M_ADDR + 2] ?? 0;
          const a3 = meta[b + M_ADDR + 3] ?? 0;
          if (family !== this.#rxFamily || a0 !== this.#rxA0 || a1 !== this.#rxA1 || a2 !== this.#rxA2 || a3 !== this.#rxA3) {
            this.#rxAddress = batch.address(i);
            this.#rxFamily = family;
            this.#rxA0 = a0;
            this.#rxA1 = a1;
            this.#rxA2 = a2;
            this.#rxA3 = a3;
          }
          const rinfo: RemoteInfo = {
            address: this.#rxAddress,
            family: family === 4 ? 'IPv4' : 'IPv6',
            port: meta[b + M_PORT] ?? 0,
            size: len,
          };
          this.emit('message', msg, rinfo);
        }
      } catch (err) {
        // A throwing listener is reported like node:dgram's (uncaught), and
        // the rest of the batch is still delivered.
        i++;
        process.nextTick(rethrow, err);
      }
    }
  };

  // ---- send ---------------------------------------------------------------

  send(msg: Payload, port?: number | string, address?: string, callback?: SendCallback): void;
  send(msg: Payload, port?: number | string, callback?: SendCallback): void;
  send(msg: Payload, callback?: SendCallback): void;
  send(msg: string | NodeJS.ArrayBufferView, offset: number, length: number, port?: number | string, address?: string, callback?: SendCallback): void;
  send(msg: string | NodeJS.ArrayBufferView, offset: number, length: number, port?: number | string, callback?: SendCallback): void;
  send(msg: string | NodeJS.ArrayBufferView, offset: number, length: number, callback?: SendCallback): void;
  send(buffer: unknown, offset?: unknown, length?: unknown, port?: unknown, address?: unknown, callback?: unknown): void {
    const connected = this.#connectState === CONNECTED;
    if (!connected) {
      if (address || (port && typeof port !== 'function')) {
        buffer = sliceBuffer(buffer, offset, length);
      } else {
        callback = port;
        port = offset;
        address = length;
      }
    } else {
      if (typeof length === 'number') {
        buffer = sliceBuffer(buffer, offset, length);
        if (typeof port === 'function') {
          callback = port;
          port = null;
        } else {
          callback = address;
        }
      } else {
        callback = offset;
      }
      if (port || address) throw errIsConnected();
    }
    let data: Uint8Array | undefined;
    let list: Uint8Array[] | undefined;
    if (!Array.isArray(buffer)) {
      if (buffer instanceof Uint8Array) data = buffer;
      else if (typeof buffer === 'string') data = Buffer.from(buffer);
      else if (!ArrayBuffer.isView(buffer)) throw errInvalidArgType('buffer', BUFFER_TYPES, buffer);
      else data = asBytes(buffer);
    } else {
      const fixed = fixBufferList(buffer);
      if (fixed === null) throw errInvalidArgType('buffer list arguments', BUFFER_TYPES, buffer);
      list = fixed;
    }
    let portNum = 0;
    if (!connected) portNum = validatePort(port, 'Port', false);
    let userCb = typeof callback === 'function' ? (callback as SendCallback) : undefined;
    if (typeof address === 'function') {
      userCb = address as SendCallback;
      address = undefined;
    } else if (address !== null && address !== undefined) {
      validateString(address, 'address');
    }
    this.#healthCheck();
    if (this.#bindState === UNBOUND) this.bind({ port: 0, exclusive: true }, null as never);
    if (list !== undefined && list.length === 0) list.push(Buffer.alloc(0));
    if (this.#bindState !== BOUND) {
      // As node:dgram: run the whole send again once bound.
      const again = list ?? [data as Uint8Array];
      const p = connected ? port : portNum;
      const a = address;
      this.#enqueue(() => this.send(again, p as number, a as string, userCb));
      return;
    }
    if (connected) {
      this.#doSend(data, list, undefined, undefined, port, address as string | undefined, userCb);
      return;
    }
    // Fast path: an IP literal of our family needs no lookup (node:dgram
    // asks dns.lookup, which hands literals back unchanged).
    const host = (address as string | undefined) || this.#defaultPeer;
    if (this.#lookup === undefined && (host === this.#lastLiteral || isIP(host) === this.#family)) {
      this.#lastLiteral = host;
      this.#doSend(data, list, host, portNum, portNum, address as string | undefined, userCb);
      return;
    }
    this.#resolve(host, (err, ip) => {
      if (err) {
        if (userCb) process.nextTick(userCb, err);
        else process.nextTick(() => this.emit('error', err));
        return;
      }
      if (isIP(ip) !== this.#family) {
        // libuv cannot make an address of this family from it: EINVAL, and
        // like every failed send without a callback, nothing is emitted.
        if (userCb && !this.#closed) process.nextTick(userCb, hostPortError(EINVAL, 'send', address as string | undefined, portNum));
        return;
      }
      this.#doSend(data, list, ip, portNum, portNum, address as string | undefined, userCb);
    });
  }

  /** The legacy send signature (deprecated in node:dgram). */
  sendto(buffer: string | NodeJS.ArrayBufferView, offset: number, length: number, port: number, address: string, callback?: SendCallback): void {
    validateNumber(offset, 'offset');
    validateNumber(length, 'length');
    validateNumber(port, 'port');
    validateString(address, 'address');
    this.send(buffer, offset, length, port, address, callback);
  }

  #doSend(
    data: Uint8Array | undefined,
    list: Uint8Array[] | undefined,
    ip: string | undefined,
    port: number | undefined,
    errPort: unknown,
    errAddress: string | undefined,
    cb: SendCallback | undefined,
  ): void {
    const inner = this.#inner;
    if (this.#closed || inner === undefined) return; // node:dgram drops it silently too
    let payload: Uint8Array;
    if (data !== undefined) payload = data;
    else if (list !== undefined && list.length === 1) payload = list[0] as Uint8Array;
    else payload = Buffer.concat(list ?? []);
    if (ip !== undefined && port === 0) {
      // A port of '0' passes node:dgram's check; libuv then refuses the send.
      if (cb) process.nextTick(cb, hostPortError(EDESTADDRREQ, 'send', errAddress, errPort));
      return;
    }
    const done =
      cb === undefined
        ? undefined
        : (err: Error | null, bytes: number): void => {
            if (err === null) cb(null, bytes);
            else if (!(this.#closed && (err as Error & { code?: string }).code === 'ECANCELED')) {
              cb(hostPortError(errnoOf(err) ?? EINVAL, 'send', errAddress, errPort));
            }
          };
    if (this.#backlogHead < this.#backlog.length || !inner.send(payload, port, ip, done)) {
      // The send ring is full: keep a copy until 'drain' (the caller may reuse its buffer).
      const fresh = data === undefined && list !== undefined && list.length !== 1; // a concat of ours
      const copy = fresh ? payload : new Uint8Array(payload); // (Buffer#slice would not copy)
      this.#backlog.push({ data: copy, port, ip, cb: done });
      this.#backlogBytes += copy.byteLength;
    }
  }

  readonly #onDrain = (): void => {
    const inner = this.#inner;
    if (inner === undefined || this.#closed) return;
    const q = this.#backlog;
    while (this.#backlogHead < q.length) {
      const p = q[this.#backlogHead] as Pending;
      let accepted: boolean;
      try {
        accepted = inner.send(p.data, p.port, p.ip, p.cb);
      } catch (e) {
        // E.g. queued for a connected peer and disconnected since.
        accepted = true;
        if (p.cb) process.nextTick(p.cb, e as Error, 0);
      }
      if (!accepted) return; // the next 'drain' goes on
      q[this.#backlogHead++] = undefined;
      this.#backlogBytes -= p.data.byteLength;
    }
    this.#backlog = [];
    this.#backlogHead = 0;
    this.#backlogBytes = 0;
  };

  #enqueue(fn: () => void): void {
    if (this.#queue === undefined) {
      this.#queue = [];
      this.once(errorMonitor, this.#onListenError);
      this.once('listening', this.#onListenSuccess);
    }
    this.#queue.push(fn);
  }

  readonly #onListenSuccess = (): void => {
    this.removeListener(errorMonitor, this.#onListenError);
    const q = this.#queue ?? [];
    this.#queue = undefined;
    for (const fn of q) fn();
  };

  readonly #onListenError = (): void => {
    this.removeListener('listening', this.#onListenSuccess);
    this.#queue = undefined;
  };

  // ---- connect ------------------------------------------------------------

  connect(port: number, address?: string, callback?: () => void): void;
  connect(port: number, callback: () => void): void;
  connect(port: unknown, address?: unknown, callback?: unknown): void {
    const portNum = validatePort(port, 'Port', false);
    if (typeof address === 'function') {
      callback = address;
      address = '';
    } else if (address === undefined) {
      address = '';
    }
    validateString(address, 'address');
    if (this.#connectState !== DISCONNECTED) throw errIsConnected();
    this.#connectState = CONNECTING;
    if (this.#bindState === UNBOUND) this.bind({ port: 0, exclusive: true }, null as never);
    const cb = callback as (() => void) | undefined;
    const addr = address;
    if (this.#bindState !== BOUND) {
      this.#enqueue(() => this.#connect(portNum, addr, cb));
      return;
    }
    this.#connect(portNum, addr, cb);
  }

  #connect(port: number, address: string, callback: ((err?: Error) => void) | undefined): void {
    if (this.#closed) throw errClosedHandle('lookup');
    if (callback) this.once('connect', callback);
    this.#resolve(address, (err, ip) => {
      const inner = this.#inner;
      if (this.#closed || inner === undefined) return;
      let ex: Error | null = err;
      if (!ex) {
        if (isIP(ip) !== this.#family) ex = hostPortError(EINVAL, 'connect', address, port);
        else {
          try {
            inner.connect(port, ip);
          } catch (e) {
            ex = hostPortError(errnoOf(e) ?? EINVAL, 'connect', address, port);
          }
        }
      }
      if (ex) {
        const failure = ex;
        this.#connectState = DISCONNECTED;
        process.nextTick(() => {
          if (callback) {
            this.removeListener('connect', callback);
            callback(failure);
          } else {
            this.emit('error', failure);
          }
        });
        return;
      }
      this.#connectState = CONNECTED;
      process.nextTick(() => this.emit('connect'));
    });
  }

  disconnect(): void {
    if (this.#connectState !== CONNECTED) throw errNotConnected();
    const inner = this.#inner;
    if (this.#closed || inner === undefined) throw errClosedHandle('disconnect');
    try {
      inner.disconnect();
    } catch (e) {
      throw errnoError(errnoOf(e) ?? EINVAL, 'connect');
    }
    this.#connectState = DISCONNECTED;
  }

  // ---- close --------------------------------------------------------------

  close(callback?: () => void): this {
    if (typeof callback === 'function') this.on('close', callback);
    if (this.#queue !== undefined) {
      this.#queue.push(() => this.close());
      return this;
    }
    this.#healthCheck();
    this.#closed = true;
    this.#backlog = [];
    this.#backlogHead = 0;
    this.#backlogBytes = 0;
    const inner = this.#inner;
    if (inner === undefined) {
      process.nextTick(() => this.emit('close'));
      return this;
    }
    // 'close' once the ring has returned everything: the port is free
    // again and no send callback can follow.
    let port = 0;
    try {
      port = inner.address().port;
    } catch {
      // not bound at the kernel level
    }
    const done = new Promise<void>((resolve) => {
      inner.once('close', () => {
        if (port !== 0) {
          const list = closingPorts.get(port);
          const rest = list?.filter((p) => p !== done) ?? [];
          if (rest.length === 0) closingPorts.delete(port);
          else closingPorts.set(port, rest);
        }
        resolve();
        this.emit('close');
      });
    });
    if (port !== 0) closingPorts.set(port, [...(closingPorts.get(port) ?? []), done]);
    inner.close();
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    await new Promise<void>((resolve) => this.close(resolve));
  }

  // ---- addresses ----------------------------------------------------------

  address(): AddressInfo {
    this.#healthCheck();
    const inner = this.#inner;
    if (inner === undefined) {
      if (this.#bindFailed) return { address: this.#anyAddress, family: this.#family === 4 ? 'IPv4' : 'IPv6', port: 0 };
      throw errnoError(EBADF, 'getsockname');
    }
    try {
      return inner.address();
    } catch (e) {
      throw errnoError(errnoOf(e) ?? EBADF, 'getsockname');
    }
  }

  remoteAddress(): AddressInfo {
    this.#healthCheck();
    if (this.#connectState !== CONNECTED) throw errNotConnected();
    const inner = this.#inner;
    if (inner === undefined) throw errnoError(EBADF, 'getpeername');
    try {
      return inner.remoteAddress();
    } catch (e) {
      throw errnoError(errnoOf(e) ?? EBADF, 'getpeername');
    }
  }

  // ---- socket options -----------------------------------------------------

  /** The socket underneath for an option call: node:dgram's errors when there is none. */
  #optTarget(method: string, syscall: string): UdpSocket {
    if (this.#closed) throw errClosedHandle(method);
    if (this.#inner === undefined) throw errnoError(EBADF, syscall);
    return this.#inner;
  }

  #setOpt(syscall: string, fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      throw errnoError(errnoOf(e) ?? EINVAL, syscall);
    }
  }

  setBroadcast(flag: boolean): void {
    const inner = this.#optTarget('setBroadcast', 'setBroadcast');
    this.#setOpt('setBroadcast', () => inner.setBroadcast(Boolean(flag)));
  }

  setTTL(ttl: number): number {
    validateNumber(ttl, 'ttl');
    if (this.#closed) throw errClosedHandle('setTTL');
    const v = ttl | 0;
    if (v < 1 || v > 255) throw errnoError(EINVAL, 'setTTL');
    const inner = this.#optTarget('setTTL', 'setTTL');
    this.#setOpt('setTTL', () => inner.setTTL(v));
    return ttl;
  }

  setMulticastTTL(ttl: number): number {
    validateNumber(ttl, 'ttl');
    if (this.#closed) throw errClosedHandle('setMulticastTTL');
    const v = ttl | 0;
    if (v < 0 || v > 255) throw errnoError(EINVAL, 'setMulticastTTL');
    const inner = this.#optTarget('setMulticastTTL', 'setMulticastTTL');
    this.#setOpt('setMulticastTTL', () => inner.setMulticastTTL(v));
    return ttl;
  }

  setMulticastLoopback<T>(flag: T): T {
    const inner = this.#optTarget('setMulticastLoopback', 'setMulticastLoopback');
    this.#setOpt('setMulticastLoopback', () => inner.setMulticastLoopback(Boolean(flag)));
    return flag;
  }

  #multicast(op: keyof MulticastOps, call: (ops: MulticastOps) => void): void {
    const inner = this.#inner as (UdpSocket & MulticastOps) | undefined;
    if (inner === undefined || typeof inner[op] !== 'function') {
      throw errNotSupported(op, 'multicast group membership and interface selection need native support the addon does not have yet');
    }
    this.#setOpt(op, () => call(inner));
  }

  setMulticastInterface(interfaceAddress: string): void {
    this.#healthCheck();
    validateString(interfaceAddress, 'interfaceAddress');
    if (this.#inner === undefined) throw errnoError(EBADF, 'setMulticastInterface');
    this.#multicast('setMulticastInterface', (o) => o.setMulticastInterface?.(interfaceAddress));
  }

  addMembership(multicastAddress: string, interfaceAddress?: string): void {
    this.#healthCheck();
    if (!multicastAddress) throw errMissingArgs('multicastAddress');
    this.#multicast('addMembership', (o) => o.addMembership?.(multicastAddress, interfaceAddress));
  }

  dropMembership(multicastAddress: string, interfaceAddress?: string): void {
    this.#healthCheck();
    if (!multicastAddress) throw errMissingArgs('multicastAddress');
    this.#multicast('dropMembership', (o) => o.dropMembership?.(multicastAddress, interfaceAddress));
  }

  addSourceSpecificMembership(sourceAddress: string, groupAddress: string, interfaceAddress?: string): void {
    this.#healthCheck();
    validateString(sourceAddress, 'sourceAddress');
    validateString(groupAddress, 'groupAddress');
    this.#multicast('addSourceSpecificMembership', (o) =>
      o.addSourceSpecificMembership?.(sourceAddress, groupAddress, interfaceAddress),
    );
  }

  dropSourceSpecificMembership(sourceAddress: string, groupAddress: string, interfaceAddress?: string): void {
    this.#healthCheck();
    validateString(sourceAddress, 'sourceAddress');
    validateString(groupAddress, 'groupAddress');
    this.#multicast('dropSourceSpecificMembership', (o) =>
      o.dropSourceSpecificMembership?.(sourceAddress, groupAddress, interfaceAddress),
    );
  }

  #bufferSize(size: unknown, recv: boolean): number {
    if (typeof size !== 'number' || size >>> 0 !== size) throw errBadBufferSize();
    if (this.#closed) throw errClosedHandle('bufferSize');
    const syscall = recv ? 'uv_recv_buffer_size' : 'uv_send_buffer_size';
    const inner = this.#inner;
    if (inner === undefined) throw errBufferSize(EBADF, syscall);
    if (size > 0x7fffffff) throw errBufferSize(EINVAL, syscall);
    try {
      // 0 asks for the current size, as in libuv.
      if (size === 0) return recv ? inner.getRecvBufferSize() : inner.getSendBufferSize();
      if (recv) inner.setRecvBufferSize(size);
      else inner.setSendBufferSize(size);
      return size;
    } catch (e) {
      throw errBufferSize(errnoOf(e) ?? EINVAL, syscall);
    }
  }

  setRecvBufferSize(size: number): void {
    this.#bufferSize(size, true);
  }

  setSendBufferSize(size: number): void {
    this.#bufferSize(size, false);
  }

  getRecvBufferSize(): number {
    return this.#bufferSize(0, true);
  }

  getSendBufferSize(): number {
    return this.#bufferSize(0, false);
  }

  /** Bytes of datagrams waiting for room in the send ring. */
  getSendQueueSize(): number {
    if (this.#closed) throw errClosedHandle('getSendQueueSize');
    return this.#backlogBytes;
  }

  /** Datagrams waiting for room in the send ring. */
  getSendQueueCount(): number {
    if (this.#closed) throw errClosedHandle('getSendQueueCount');
    return this.#backlog.length - this.#backlogHead;
  }

  ref(): this {
    if (!this.#closed) {
      this.#refd = true;
      this.#inner?.ref();
    }
    return this;
  }

  unref(): this {
    if (!this.#closed) {
      this.#refd = false;
      this.#inner?.unref();
    }
    return this;
  }

  // ---- typed events -------------------------------------------------------

  override on(event: 'message', listener: MessageListener): this;
  override on(event: 'close' | 'connect' | 'listening', listener: () => void): this;
  override on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): this;
  override on(event: string | symbol, listener: Listener): this;
  override on(event: string | symbol, listener: Listener): this {
    return super.on(event, listener);
  }

  override once(event: 'message', listener: MessageListener): this;
  override once(event: 'close' | 'connect' | 'listening', listener: () => void): this;
  override once(event: 'error', listener: (err: NodeJS.ErrnoException) => void): this;
  override once(event: string | symbol, listener: Listener): this;
  override once(event: string | symbol, listener: Listener): this {
    return super.once(event, listener);
  }

  override addListener(event: 'message', listener: MessageListener): this;
  override addListener(event: 'close' | 'connect' | 'listening', listener: () => void): this;
  override addListener(event: 'error', listener: (err: NodeJS.ErrnoException) => void): this;
  override addListener(event: string | symbol, listener: Listener): this;
  override addListener(event: string | symbol, listener: Listener): this {
    return super.addListener(event, listener);
  }
}

/**
 * node:dgram's createSocket: `createSocket('udp4')`, `createSocket(options)`,
 * with an optional 'message' listener.
 */
export function createSocket(type: SocketType | SocketOptions, listener?: MessageListener): Socket {
  return new Socket(type, listener);
}
