/**
 * A node:dgram-compatible socket on top of the batch socket (src/udp/socket.ts):
 * existing UDP code switches by changing its import from 'node:dgram' to
 * 'iouring-net/dgram' (or `createSocket` from 'iouring-net').
 *
 * Same methods, events, argument handling, error codes and messages as
 * node:dgram (checked side by side by test/dgram-parity.test.ts). Underneath,
 * one UdpSocket is created when the socket binds (explicitly, implicitly by
 * the first send()/connect()/addMembership(), by adopting an fd or handle,
 * or through a cluster primary, as node:dgram does):
 *
 * - receive: one handler call per drain of the ring; this layer turns it into
 *   one 'message' per datagram with a Buffer the listener may keep and a
 *   fresh rinfo object, as node:dgram does;
 * - send: payloads are copied into the batch socket's send ring, and every
 *   send of one JS turn reaches the kernel in one io_uring_enter. When the
 *   ring is full the datagram waits in a JS queue (unbounded, like libuv's)
 *   and goes out on the next 'drain': no accepted send is lost.
 *
 * Async context: like node's UDPWRAP, each socket is an async resource
 * ('UDPWRAP', made with the socket), and 'message' and receive errors run in
 * it, once per batch; 'listening' and 'connect' run in the context of the
 * bind()/connect() that caused them, 'close' in that of close(), and a send
 * callback in a 'UDPSENDWRAP' resource made in the context of its send().
 */
import { AsyncResource } from 'node:async_hooks';
import { closeSync } from 'node:fs';
import * as nodeDgram from 'node:dgram';
import dc from 'node:diagnostics_channel';
import dns from 'node:dns';
import { errorMonitor } from 'node:events';
import { isIP } from 'node:net';
import { selectBackend } from '../udp/backend.js';
import type { RecvBatch } from '../udp/batch.js';
import { dupFd, fdKind } from '../udp/fd.js';
import { openUdp } from '../udp/open.js';
import type { UdpSocketOptions } from '../udp/options.js';
import type { UdpSocket } from '../udp/socket.js';
import { isWorker, queryPrimary, UV_UDP_IPV6ONLY, UV_UDP_REUSEADDR, type ServerQuery } from './cluster.js';
import {
  errAlreadyBound,
  errBadType,
  errClosedHandle,
  errInvalidArgType,
  errInvalidFdType,
  errIsConnected,
  errNotConnected,
  errNotRunning,
  errnoError,
  hostPortError,
} from './errors.js';
import { handleOnFd, installNodeInternals, nodeState, ownerKnown, setOwner, unboundHandle, type UdpHandle } from './handles.js';
import { Receiver, type RemoteInfo } from './receive.js';
import { Sender, type SendCallback } from './send.js';
import type { AddressInfo, BindOptions, IouringDgramOptions, LookupFunction, SocketOptions, SocketType } from './types.js';
import { kBufferSize, kClosed, kImplicitBind, kInner, OptionMethods } from './sockopts.js';
import { errnoOf, parseSend, validateNumber, validatePort, validateString, validateUint32 } from './validate.js';

export type { AddressInfo, BindOptions, IouringDgramOptions, LookupFunction, SocketOptions, SocketType } from './types.js';
export type { SendCallback } from './send.js';
export type { RemoteInfo } from './receive.js';

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
const EBUSY = -16;
const EEXIST = -17;
const EINVAL = -22;

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
/** File descriptors of this layer's open sockets: bind({ fd }) of one is EEXIST, as in libuv. */
const liveFds = new Set<number>();

/** node 20 publishes every new socket here (lib/dgram.js). */
const udpSocketChannel = dc.channel('udp.socket');
/** dns.lookup as loaded: while it is still in place, IP literals skip it. */
const originalLookup = dns.lookup;

/** node:dgram's internal state (lib/dgram.js), as Node's own modules read it. */
interface NodeState {
  handle: UdpHandle | undefined;
  receiving: boolean;
  bindState: number;
  connectState: number;
  queue: (() => void)[] | undefined;
  reuseAddr: boolean;
  ipv6Only: boolean;
  recvBufferSize: number | undefined;
  sendBufferSize: number | undefined;
}

/**
 * The family of an adopted socket is its own, as in libuv (a udp4 Socket
 * may hold an IPv6 socket; sends then fail as the kernel says).
 */
function typeOfFd(kind: { family: number } | null, fallback: SocketType): SocketType {
  if (kind?.family === 4) return 'udp4';
  return kind?.family === 6 ? 'udp6' : fallback;
}

function isInt32(v: unknown): v is number {
  return typeof v === 'number' && (v | 0) === v;
}

/** The node:dgram Socket, over io_uring. Create with createSocket(). */
export class Socket extends OptionMethods {
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
  /** The async resource of this socket (node: its UDPWRAP handle). */
  readonly #resource: AsyncResource;
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
  readonly #sender = new Sender({
    inner: () => this.#inner,
    closed: () => this.#closed,
    asyncId: () => this.#resource.asyncId(),
  });
  #refd = true;
  #receiving = false;
  /** The fd of the socket underneath (-1: none, or the dgram backend's). */
  #fd = -1;
  /** A UDP handle this socket owns: from a cluster primary or bind(handle); closed with it. */
  #handle: UdpHandle | undefined;
  /** A UDP handle on a duplicate of our fd, for child_process to send (made on demand). */
  #sendHandle: UdpHandle | undefined;
  /** Last destination seen to be an IP literal of our family. */
  #lastLiteral = '';

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
    this.#resource = new AsyncResource('UDPWRAP');
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
    if (udpSocketChannel.hasSubscribers) udpSocketChannel.publish({ socket: this });
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

  protected override [kClosed](): boolean {
    return this.#closed;
  }

  protected override [kInner](): UdpSocket | undefined {
    return this.#inner;
  }

  /**
   * lookup4/lookup6 of node:dgram: empty means the loopback address. The
   * `lookup` option, else dns.lookup as it is now (programs replace it).
   */
  #resolve(address: unknown, cb: (err: NodeJS.ErrnoException | null, ip: string) => void): void {
    const host = (address as string) || this.#defaultPeer;
    if (this.#lookup !== undefined) this.#lookup(host, this.#family, cb);
    else dns.lookup(host, this.#family, cb);
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
    this.#bindState = BINDING;
    const cb = args.length > 0 ? args[args.length - 1] : undefined;
    if (typeof cb === 'function') this.#onceBound(cb as () => void);
    if (port !== null && typeof port === 'object') {
      const o = port as { fd?: unknown; recvStart?: unknown; exclusive?: unknown };
      if (typeof o.recvStart === 'function') {
        this.#bindHandle(port as UdpHandle);
        return this;
      }
      if (isInt32(o.fd) && o.fd > 0) {
        this.#bindFd(o.fd, Boolean(o.exclusive));
        return this;
      }
    }
    let address: unknown;
    let exclusive = false;
    if (port !== null && typeof port === 'object') {
      const o = port as BindOptions;
      address = o.address || '';
      exclusive = Boolean(o.exclusive);
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
      if (!exclusive && isWorker()) {
        const flags = (this.#reuseAddr ? UV_UDP_REUSEADDR : 0) | (this.#ipv6Only ? UV_UDP_IPV6ONLY : 0);
        const query = { address: ip, port: port as number, addressType: this.type, fd: -1, flags };
        this.#bindShared(query, (errno) => hostPortError(errno, 'bind', ip, port));
        return;
      }
      this.#bindAddress(ip, port);
    });
    return this;
  }

  /** bind()'s callback: once on 'listening', dropped on 'error' (node:dgram's removeListeners). */
  #onceBound(cb: () => void): void {
    const removeListeners = (): void => {
      this.removeListener('error', removeListeners);
      this.removeListener('listening', onListening);
    };
    const onListening = (): void => {
      removeListeners();
      cb.call(this);
    };
    this.on('error', removeListeners);
    this.on('listening', onListening);
  }

  #bindAddress(ip: string, port: unknown): void {
    // node:dgram converts like its C++ binding: to uint32, then 16 bits.
    const portNum = (Number(port || 0) >>> 0) & 0xffff;
    const waits = portNum === 0 ? undefined : closingPorts.get(portNum);
    if (waits === undefined) {
      this.#open(ip, portNum, port);
      return;
    }
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

  /**
   * Options of the batch socket underneath, with the layer's defaults. A
   * socket `shared` with other processes (a cluster primary's) reads one
   * datagram ahead at most: what a ring has taken from the shared queue is
   * lost to the other workers if this one closes before delivering it
   * (libuv reads only what it delivers). The iouring option overrides it.
   */
  #innerOptions(extra: Partial<UdpSocketOptions>, shared = false): UdpSocketOptions {
    return {
      maxMessageSize: MAX_MESSAGE,
      recvBuffers: shared ? 1 : RECV_BUFFERS,
      ...(shared ? { receiveMode: 'single' as const } : {}),
      sendBufferBytes: SEND_BUFFER_BYTES,
      ...this.#extra,
      type: this.type,
      ipv6Only: this.#ipv6Only,
      reuseAddr: this.#reuseAddr,
      reusePort: this.#reusePort,
      ...extra,
    };
  }

  /** Will the socket underneath be node:dgram's (the dgram backend)? */
  #onDgramBackend(): boolean {
    try {
      return selectBackend({ backend: this.#extra.backend, quiet: true }, 'UDP').backend === 'dgram';
    } catch {
      return false; // openUdp reports it
    }
  }

  /**
   * Take a new batch socket: events, receiving (unless only implicitly
   * bound), ref state. If it cannot start receiving it is closed and the
   * error thrown, and the socket keeps what it had.
   */
  #attach(inner: UdpSocket, receive: boolean): void {
    try {
      if (receive) inner.onBatch = this.#onBatch;
    } catch (e) {
      inner.close();
      throw e;
    }
    this.#inner = inner;
    this.#receiving = receive;
    inner.on('error', this.#onInnerError);
    inner.on('drain', this.#sender.onDrain);
    this.#fd = inner.backend === 'dgram' ? -1 : inner.fd;
    if (this.#fd >= 0) liveFds.add(this.#fd);
    if (!this.#refd) inner.unref();
  }

  #open(ip: string, port: number, rawPort: unknown): void {
    if (this.#inner !== undefined || isIP(ip) !== this.#family) {
      // Already bound by a membership call (libuv then refuses the bind), or
      // libuv cannot make an address of this family from it (no socket made).
      this.#bindState = UNBOUND;
      this.emit('error', hostPortError(EINVAL, 'bind', ip, rawPort));
      return;
    }
    this.#openAndListen(this.#innerOptions({ address: ip, port }), (e) => {
      // node:dgram reports socket creation and bind failures alike, as
      // 'bind' errors (libuv makes the socket inside uv_udp_bind).
      const errno = errnoOf(e);
      if (errno !== undefined) this.#bindFailed = (e as { syscall?: unknown }).syscall === 'bind';
      return errno === undefined ? (e as Error) : hostPortError(errno, 'bind', ip, rawPort);
    });
  }

  /**
   * Open the socket underneath and emit 'listening' (or 'error', made by
   * `fail`) once it is bound: at once on the native backends, after
   * node:dgram's asynchronous bind on the dgram backend.
   */
  #openAndListen(opts: UdpSocketOptions, fail: (e: unknown) => Error): void {
    let inner: UdpSocket;
    try {
      inner = openUdp(opts);
      this.#attach(inner, true);
    } catch (e) {
      this.#bindState = UNBOUND;
      this.emit('error', fail(e));
      return;
    }
    if (inner.backend !== 'dgram') {
      this.#listening();
      return;
    }
    this.#innerBinding = true;
    inner.ready.then(
      () =>
        process.nextTick(() => {
          this.#innerBinding = false;
          if (!this.#closed) this.#listening();
        }),
      (e: unknown) =>
        process.nextTick(() => {
          this.#innerBinding = false;
          if (this.#closed) return;
          this.#dropInner();
          this.#bindState = UNBOUND;
          this.emit('error', fail(e));
        }),
    );
  }

  /** Close and forget the socket underneath after a failed bind. */
  #dropInner(): void {
    const inner = this.#inner;
    this.#inner = undefined;
    this.#receiving = false;
    if (inner === undefined) return;
    liveFds.delete(this.#fd);
    inner.close();
  }

  #listening(): void {
    this.#bindState = BOUND;
    if (this.#recvBufferSize) this[kBufferSize](this.#recvBufferSize, true);
    if (this.#sendBufferSize) this[kBufferSize](this.#sendBufferSize, false);
    this.emit('listening');
  }

  /**
   * bind({ fd }): use an existing UDP socket; 'listening' before bind()
   * returns, as node:dgram does. In a cluster worker (not exclusive) the
   * primary opens the fd (its own) and shares it.
   */
  #bindFd(fd: number, exclusive: boolean): void {
    if (!exclusive && isWorker()) {
      const query = { address: null, port: null, addressType: this.type, fd, flags: null };
      this.#bindShared(query, (errno) => errnoError(errno, 'open'));
      return;
    }
    const kind = fdKind(fd);
    if (kind !== null && kind.kind !== 'UDP') throw errInvalidFdType(kind.kind);
    if (liveFds.has(fd)) throw errnoError(EEXIST, 'open');
    // Bound by a membership call already: libuv will not open another fd.
    if (this.#inner !== undefined) throw errnoError(EBUSY, 'open');
    try {
      this.#attach(openUdp(this.#innerOptions({ fd, type: typeOfFd(kind, this.type) })), true);
    } catch (e) {
      const errno = errnoOf(e);
      // The dgram backend: node:dgram's own error, as node:dgram throws it.
      if (errno === undefined || (e as { syscall?: unknown }).syscall !== 'open') throw e;
      throw errnoError(errno, 'open');
    }
    this.#listening();
  }

  /** bind(handle): a node UDP handle (a cluster primary's, _createSocketHandle's). */
  #bindHandle(handle: UdpHandle): void {
    const inner = this.#adoptHandle(handle, false);
    if (inner instanceof Error) throw inner;
    this.#listening();
  }

  /**
   * Use a node UDP handle's socket: a duplicate of its fd underneath, the
   * handle kept (and closed with this socket), so that its owner (a cluster
   * primary) learns when we close. On the dgram backend node:dgram's
   * socket underneath takes the handle itself.
   */
  #adoptHandle(handle: UdpHandle, shared: boolean): UdpSocket | Error {
    const dgram = this.#onDgramBackend();
    const type = typeOfFd(dgram ? null : fdKind(handle.fd), this.type);
    // The handle replaces what a membership call bound, as in node:dgram.
    this.#dropInner();
    try {
      const opts = dgram ? { dgramHandle: handle } : { fd: handle.fd, dupFd: true, type };
      const inner = openUdp(this.#innerOptions(opts, shared));
      this.#attach(inner, true);
      if (!dgram) this.#handle = handle;
      this.#ownHandle(handle);
      return inner;
    } catch (e) {
      return errnoError(errnoOf(e) ?? EBADF, 'open');
    }
  }

  /**
   * cluster's disconnect closes a worker's shared sockets through their
   * handles' owner. Where Node hides owner_symbol, closing the handle
   * closes this socket instead.
   */
  #ownHandle(handle: UdpHandle): void {
    if (ownerKnown) {
      setOwner(handle, this);
      return;
    }
    const close = handle.close;
    let closed = false;
    handle.close = (cb?: () => void): void => {
      if (closed) return;
      closed = true;
      if (!this.#closed) {
        this.#handle = undefined; // closed here, not by close()
        this.close();
      }
      close.call(handle, cb);
    };
  }

  /** A cluster worker's non-exclusive bind: the primary's socket. */
  #bindShared(query: ServerQuery, fail: (errno: number) => Error): void {
    queryPrimary(this, query, (err, handle) => {
      if (err) {
        // Do not report to a socket closed meanwhile.
        if (this.#closed) return;
        this.#bindState = UNBOUND;
        this.emit('error', fail(err));
        return;
      }
      if (this.#closed) {
        handle.close(); // closed before the primary replied: tell it
        return;
      }
      const inner = this.#adoptHandle(handle, true);
      if (inner instanceof Error) {
        handle.close();
        this.#bindState = UNBOUND;
        this.emit('error', inner);
        return;
      }
      this.#listening();
    });
  }

  /** addMembership & co. on an unbound socket: bound now, not receiving (libuv's implicit bind). */
  protected override [kImplicitBind](family: 4 | 6, syscall: string): UdpSocket {
    const type = family === 4 ? 'udp4' : 'udp6';
    const address = family === 4 ? '0.0.0.0' : '::';
    try {
      const inner = openUdp(this.#innerOptions({ type, address, port: 0, dgramBind: 'implicit' }));
      this.#attach(inner, false);
      return inner;
    } catch (e) {
      throw errnoError(errnoOf(e) ?? EINVAL, syscall);
    }
  }

  /** Receive errors go to 'error'; failed sends without a callback are dropped, as in node:dgram. */
  readonly #onInnerError = (err: Error): void => {
    const e = err as Error & { syscall?: string };
    // A bind error of an asynchronous bind comes through `ready` instead.
    if (e.syscall === 'send' || this.#closed || this.#innerBinding) return;
    const errno = errnoOf(e);
    const ex = errno === undefined ? err : errnoError(errno, e.syscall ?? 'recvmsg');
    this.#resource.runInAsyncScope(this.emit, this, 'error', ex);
  };

  // ---- receive ------------------------------------------------------------

  /** One batch: its 'message' events run in the socket's async context. */
  readonly #onBatch = (batch: RecvBatch): void => {
    if (this.listenerCount('message') === 0) return;
    this.#resource.runInAsyncScope(this.#deliver, this, batch);
  };

  readonly #receiver = new Receiver();
  readonly #isClosed = (): boolean => this.#closed;
  #deliver(batch: RecvBatch): void {
    this.#sender.beginBatch();
    try {
      this.#receiver.deliver(batch, this, this.#isClosed);
    } finally {
      this.#sender.endBatch();
    }
  }

  // ---- send ---------------------------------------------------------------

  send(msg: Payload, port?: number | string, address?: string, callback?: SendCallback): void;
  send(msg: Payload, port?: number | string, callback?: SendCallback): void;
  send(msg: Payload, callback?: SendCallback): void;
  send(msg: string | NodeJS.ArrayBufferView, offset: number, length: number, port?: number | string, address?: string, callback?: SendCallback): void;
  send(msg: string | NodeJS.ArrayBufferView, offset: number, length: number, port?: number | string, callback?: SendCallback): void;
  send(msg: string | NodeJS.ArrayBufferView, offset: number, length: number, callback?: SendCallback): void;
  send(buffer: unknown, offset?: unknown, length?: unknown, port0?: unknown, address0?: unknown, callback?: unknown): void {
    const connected = this.#connectState === CONNECTED;
    const { data, list, port, portNum, address, callback: userCb } = parseSend(connected, buffer, offset, length, port0, address0, callback);
    this.#healthCheck();
    if (this.#bindState === UNBOUND) this.bind({ port: 0, exclusive: true }, null as never);
    if (list !== undefined && list.length === 0) list.push(Buffer.alloc(0));
    if (this.#bindState !== BOUND) {
      // As node:dgram: run the whole send again once bound.
      const again = list ?? [data as Uint8Array];
      const p = connected ? port : portNum;
      const a = address;
      this.#enqueue(() => (this.send as (...a: unknown[]) => void)(again, p, a, userCb));
      return;
    }
    const errAddress = address;
    const sender = this.#sender;
    if (connected) {
      // node:dgram makes the SendWrap right away here: no lookup.
      sender.send(data, list, undefined, undefined, errAddress, port, userCb && sender.req(false), userCb);
      return;
    }
    // Fast path: an IP literal of our family needs no lookup (node:dgram
    // asks dns.lookup, which hands literals back unchanged on a tick).
    const host = errAddress || this.#defaultPeer;
    if (this.#lookup === undefined && dns.lookup === originalLookup && (host === this.#lastLiteral || isIP(host) === this.#family)) {
      this.#lastLiteral = host;
      sender.send(data, list, host, portNum, errAddress, portNum, userCb && sender.req(true), userCb);
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
        if (userCb && !this.#closed) process.nextTick(userCb, hostPortError(EINVAL, 'send', errAddress, portNum));
        return;
      }
      sender.send(data, list, ip, portNum, errAddress, portNum, userCb && sender.req(false), userCb);
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
    this.#receiving = false;
    this.#sender.clear();
    // A primary's handle: closing it tells the primary (node:dgram's close).
    this.#handle?.close();
    this.#handle = undefined;
    if (this.#sendHandle !== undefined) {
      liveFds.delete(this.#sendHandle.fd);
      this.#sendHandle.close();
      this.#sendHandle = undefined;
    }
    // 'close' runs in close()'s context, like node:dgram's nextTick (a
    // TickObject resource whose trigger is the socket).
    const tick = new AsyncResource('TickObject', { triggerAsyncId: this.#resource.asyncId() });
    const emitClose = (): void => {
      try {
        tick.runInAsyncScope(this.emit, this, 'close');
      } finally {
        tick.emitDestroy();
        this.#resource.emitDestroy();
      }
    };
    const inner = this.#inner;
    if (inner === undefined) {
      process.nextTick(emitClose);
      return this;
    }
    liveFds.delete(this.#fd);
    // node:dgram sends a connected socket's datagrams at once: close()
    // drops none of them (unconnected ones of this tick it drops).
    if (this.#connectState === CONNECTED) inner.flushNative();
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
        emitClose();
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

  /** Bytes of datagrams waiting for room in the send ring. */
  getSendQueueSize(): number {
    if (this.#closed) throw errClosedHandle('getSendQueueSize');
    return this.#sender.queueSize;
  }

  /** Datagrams waiting for room in the send ring. */
  getSendQueueCount(): number {
    if (this.#closed) throw errClosedHandle('getSendQueueCount');
    return this.#sender.queueCount;
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

  // ---- node:dgram's internals where Node's own modules use them ----------

  /**
   * What child_process sends for `child.send(msg, socket)`: node:dgram's
   * state with a UDP handle. Ours is a handle on a duplicate of our fd, not
   * receiving (so it takes no datagram from us), kept until we close; on
   * the dgram backend, the node:dgram socket's own state.
   */
  #nodeState(): NodeState | undefined {
    const inner = this.#inner;
    if (this.#closed) return this.#stateWith(undefined);
    if (inner === undefined) return this.#stateWith((this.#sendHandle ??= unboundHandle()));
    if (inner.backend === 'dgram') return nodeState(inner.nodeSocket) as NodeState | undefined;
    if (this.#sendHandle === undefined || this.#sendHandle.fd < 0) {
      this.#sendHandle?.close(); // an unbound one, from before the bind
      this.#sendHandle = undefined;
      const fd = dupFd(this.#fd);
      if (fd === null || fd < 0) return undefined;
      const { handle } = handleOnFd(fd);
      if (handle === undefined) closeSync(fd);
      else liveFds.add(fd); // the same socket: bind({ fd }) of it is EEXIST too
      this.#sendHandle = handle;
    }
    return this.#stateWith(this.#sendHandle);
  }

  /** node:dgram's state fields (a snapshot), with `handle`. */
  #stateWith(handle: UdpHandle | undefined): NodeState {
    return {
      handle,
      receiving: this.#receiving,
      bindState: this.#bindState,
      connectState: this.#connectState,
      queue: this.#queue,
      reuseAddr: this.#reuseAddr,
      ipv6Only: this.#ipv6Only,
      recvBufferSize: this.#recvBufferSize,
      sendBufferSize: this.#sendBufferSize,
    };
  }

  static {
    installNodeInternals(Socket.prototype, {
      state: (s) => s.#nodeState(),
      handle: (s) => (s.#closed ? null : s.#nodeState()?.handle),
      receiving: (s) => s.#receiving,
      bindState: (s) => s.#bindState,
      queue: (s) => s.#queue,
      reuseAddr: (s) => s.#reuseAddr,
      healthCheck: (s) => s.#healthCheck(),
      stopReceiving: (s) => {
        // Datagrams are still read, and dropped (node's recvStop leaves them queued).
        if (s.#receiving && s.#inner) s.#inner.onBatch = undefined;
        s.#receiving = false;
      },
    });
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

// A node:dgram Socket to Node's own modules: child_process passes only
// `instanceof dgram.Socket` sockets to children. Every method of node's
// prototype is overridden by this class (or by OptionMethods).
Object.setPrototypeOf(OptionMethods.prototype, nodeDgram.Socket.prototype);

/**
 * node:dgram's createSocket: `createSocket('udp4')`, `createSocket(options)`,
 * with an optional 'message' listener.
 */
export function createSocket(type: SocketType | SocketOptions, listener?: MessageListener): Socket {
  return new Socket(type, listener);
}

/**
 * node:dgram's deprecated `_createSocketHandle` (DEP0112): Node's own, since
 * the handle it makes is Node's native UDP handle (bind(handle) adopts one).
 */
export const _createSocketHandle = (nodeDgram as unknown as { _createSocketHandle: unknown })._createSocketHandle;
