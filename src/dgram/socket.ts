/**
 * A node:dgram-compatible socket on top of the batch socket (src/udp/socket.ts):
 * existing UDP code switches by changing its import from 'node:dgram' to
 * 'iouring-net/dgram' (or `createSocket` from 'iouring-net').
 *
 * Same methods, events, argument handling, error codes and messages as
 * node:dgram (checked side by side by test/dgram-parity.test.ts). Underneath,
 * one UdpSocket is created when the socket binds (explicitly, implicitly by
 * the first send()/connect()/addMembership(), by adopting an fd or handle,
 * or through a cluster primary, as node:dgram does: see bind.ts) and held
 * until it closes (underneath.ts):
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
import * as nodeDgram from 'node:dgram';
import dc from 'node:diagnostics_channel';
import dns from 'node:dns';
import { errorMonitor } from 'node:events';
import { isIP } from 'node:net';
import type { RecvBatch } from '../udp/batch.js';
import type { UdpSocket } from '../udp/socket.js';
import { Binder, BOUND, UNBOUND } from './bind.js';
import {
  errBadType,
  errClosedHandle,
  errInvalidArgType,
  errIsConnected,
  errNotConnected,
  errNotRunning,
  errnoError,
  hostPortError,
} from './errors.js';
import { installNodeInternals, nodeState, type UdpHandle } from './handles.js';
import { Receiver, type RemoteInfo } from './receive.js';
import { Sender, type SendCallback } from './send.js';
import type { AddressInfo, BindOptions, LookupFunction, SocketOptions, SocketType } from './types.js';
import { kBufferSize, kClosed, kImplicitBind, kInner, OptionMethods } from './sockopts.js';
import { Underneath } from './underneath.js';
import { errnoOf, parseSend, validateNumber, validatePort, validateString, validateUint32 } from './validate.js';

export type { AddressInfo, BindOptions, IouringDgramOptions, LookupFunction, SocketOptions, SocketType } from './types.js';
export type { SendCallback } from './send.js';
export type { RemoteInfo } from './receive.js';

type MessageListener = (msg: Buffer, rinfo: RemoteInfo) => void;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own listener type
type Listener = (...args: any[]) => void;
type Payload = string | NodeJS.ArrayBufferView | readonly (string | NodeJS.ArrayBufferView)[];

const DISCONNECTED = 0;
const CONNECTING = 1;
const CONNECTED = 2;

const EBADF = -9;
const EINVAL = -22;

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

/** The node:dgram Socket, over io_uring. Create with createSocket(). */
export class Socket extends OptionMethods {
  readonly type: SocketType;
  readonly #family: 4 | 6;
  readonly #anyAddress: string;
  readonly #defaultPeer: string;
  readonly #lookup: LookupFunction | undefined;
  readonly #reuseAddr: boolean;
  readonly #ipv6Only: boolean;
  readonly #recvBufferSize: number | undefined;
  readonly #sendBufferSize: number | undefined;
  /** The async resource of this socket (node: its UDPWRAP handle). */
  readonly #resource: AsyncResource;
  readonly #under: Underneath;
  readonly #binder: Binder;
  /** close() was called (node:dgram: the handle is gone). */
  #closed = false;
  #connectState = DISCONNECTED;
  /** Work waiting for 'listening' (sends/connect/close during an implicit bind). */
  #queue: (() => void)[] | undefined;
  readonly #sender = new Sender({
    inner: () => this.#under.inner,
    closed: () => this.#closed,
    asyncId: () => this.#resource.asyncId(),
  });
  #refd = true;
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
    this.#ipv6Only = Boolean(options?.ipv6Only);
    this.#recvBufferSize = recvBufferSize;
    this.#sendBufferSize = sendBufferSize;
    this.#under = new Underneath({
      type: kind,
      extra: options?.iouring ?? {},
      ipv6Only: this.#ipv6Only,
      reuseAddr: this.#reuseAddr,
      reusePort: Boolean(options?.reusePort),
      refd: () => this.#refd,
      onBatch: this.#onBatch,
      onError: this.#onInnerError,
      onDrain: this.#sender.onDrain,
    });
    this.#binder = new Binder(
      {
        socket: this,
        type: kind,
        family: this.#family,
        anyAddress: this.#anyAddress,
        reuseAddr: this.#reuseAddr,
        ipv6Only: this.#ipv6Only,
        closed: () => this.#closed,
        resolve: (address, cb) => this.#resolve(address, cb),
        bound: () => this.#setBufferSizes(),
      },
      this.#under,
    );
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
    return this.#under.inner;
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
    this.#healthCheck();
    this.#binder.bind(args);
    return this;
  }

  /** The buffer sizes asked for at creation, set once bound (before 'listening'). */
  #setBufferSizes(): void {
    if (this.#recvBufferSize) this[kBufferSize](this.#recvBufferSize, true);
    if (this.#sendBufferSize) this[kBufferSize](this.#sendBufferSize, false);
  }

  /** addMembership & co. on an unbound socket: bound now, not receiving (libuv's implicit bind). */
  protected override [kImplicitBind](family: 4 | 6, syscall: string): UdpSocket {
    return this.#binder.implicitBind(family, syscall);
  }

  /** Receive errors go to 'error'; failed sends without a callback are dropped, as in node:dgram. */
  readonly #onInnerError = (err: Error): void => {
    const e = err as Error & { syscall?: string };
    // A bind error of an asynchronous bind comes through `ready` instead.
    if (e.syscall === 'send' || this.#closed || this.#binder.innerBinding) return;
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
    if (this.#binder.state === UNBOUND) this.bind({ port: 0, exclusive: true }, null as never);
    if (list !== undefined && list.length === 0) list.push(Buffer.alloc(0));
    if (this.#binder.state !== BOUND) {
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
    if (this.#binder.state === UNBOUND) this.bind({ port: 0, exclusive: true }, null as never);
    const cb = callback as (() => void) | undefined;
    const addr = address;
    if (this.#binder.state !== BOUND) {
      this.#enqueue(() => this.#connect(portNum, addr, cb));
      return;
    }
    this.#connect(portNum, addr, cb);
  }

  #connect(port: number, address: string, callback: ((err?: Error) => void) | undefined): void {
    if (this.#closed) throw errClosedHandle('lookup');
    if (callback) this.once('connect', callback);
    this.#resolve(address, (err, ip) => {
      const inner = this.#under.inner;
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
    const inner = this.#under.inner;
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
    this.#under.receiving = false;
    this.#sender.clear();
    this.#under.closeHandles();
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
    this.#under.close(this.#connectState === CONNECTED, emitClose);
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    await new Promise<void>((resolve) => this.close(resolve));
  }

  // ---- addresses ----------------------------------------------------------

  address(): AddressInfo {
    this.#healthCheck();
    const inner = this.#under.inner;
    if (inner === undefined) {
      if (this.#binder.failed) return { address: this.#anyAddress, family: this.#family === 4 ? 'IPv4' : 'IPv6', port: 0 };
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
    const inner = this.#under.inner;
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
      this.#under.inner?.ref();
    }
    return this;
  }

  unref(): this {
    if (!this.#closed) {
      this.#refd = false;
      this.#under.inner?.unref();
    }
    return this;
  }

  // ---- node:dgram's internals where Node's own modules use them ----------

  /**
   * What child_process sends for `child.send(msg, socket)`: node:dgram's
   * state with a UDP handle (see Underneath#sendHandle); on the dgram
   * backend, the node:dgram socket's own state.
   */
  #nodeState(): NodeState | undefined {
    const inner = this.#under.inner;
    if (this.#closed) return this.#stateWith(undefined);
    if (inner?.backend === 'dgram') return nodeState(inner.nodeSocket) as NodeState | undefined;
    const handle = this.#under.sendHandle();
    return handle === null ? undefined : this.#stateWith(handle);
  }

  /** node:dgram's state fields (a snapshot), with `handle`. */
  #stateWith(handle: UdpHandle | undefined): NodeState {
    return {
      handle,
      receiving: this.#under.receiving,
      bindState: this.#binder.state,
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
      receiving: (s) => s.#under.receiving,
      bindState: (s) => s.#binder.state,
      queue: (s) => s.#queue,
      reuseAddr: (s) => s.#reuseAddr,
      healthCheck: (s) => s.#healthCheck(),
      stopReceiving: (s) => {
        // Datagrams are still read, and dropped (node's recvStop leaves them queued).
        const under = s.#under;
        if (under.receiving && under.inner) under.inner.onBatch = undefined;
        under.receiving = false;
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
