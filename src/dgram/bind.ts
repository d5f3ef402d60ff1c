/**
 * bind() of the node:dgram layer's Socket, and the implicit binds: from
 * which of its argument forms, when (after the lookup, after a closing
 * socket of the same port) and from what (an address, an fd, a node UDP
 * handle, a cluster primary's socket) the socket underneath is opened, and
 * how bind() ends: 'listening' or 'error', with node:dgram's errors and
 * timing on each path.
 *
 * Apart from socket.ts because these paths are many and meet the rest of
 * the Socket at one point: send, connect and close only ask whether it is
 * bound yet (and wait for 'listening' if not). What bind opens is held,
 * and released at close, by underneath.ts.
 */
import type { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { fdKind } from '../udp/fd.js';
import { openUdp } from '../udp/open.js';
import type { UdpSocketOptions } from '../udp/options.js';
import type { UdpSocket } from '../udp/socket.js';
import { isWorker, queryPrimary, UV_UDP_IPV6ONLY, UV_UDP_REUSEADDR, type ServerQuery } from './cluster.js';
import { errAlreadyBound, errInvalidFdType, errnoError, hostPortError } from './errors.js';
import { ownerKnown, setOwner, type UdpHandle } from './handles.js';
import type { BindOptions, SocketType } from './types.js';
import { closingOn, fdInUse, type Underneath } from './underneath.js';
import { errnoOf } from './validate.js';

/** node:dgram's bindState values. */
export const UNBOUND = 0;
const BINDING = 1;
export const BOUND = 2;

const EBADF = -9;
const EBUSY = -16;
const EEXIST = -17;
const EINVAL = -22;

/** How long a rebind waits at most for a closing socket of the same port. */
const CLOSE_WAIT_MS = 1000;

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

/** What binding needs of its Socket. */
export interface BindOwner {
  /**
   * The Socket itself: 'listening' and 'error' are emitted on it, and the
   * cluster and adopted handles know it as their owner.
   */
  readonly socket: EventEmitter & { close(): unknown };
  readonly type: SocketType;
  readonly family: 4 | 6;
  readonly anyAddress: string;
  readonly reuseAddr: boolean;
  readonly ipv6Only: boolean;
  closed(): boolean;
  /** node:dgram's lookup of an address (the Socket's `lookup` option, else dns.lookup). */
  resolve(address: unknown, cb: (err: NodeJS.ErrnoException | null, ip: string) => void): void;
  /** Bound, just before 'listening': the buffer sizes asked for at creation are set. */
  bound(): void;
}

export class Binder {
  readonly #owner: BindOwner;
  readonly #under: Underneath;
  #state = UNBOUND;
  #failed = false;
  #innerBinding = false;

  constructor(owner: BindOwner, under: Underneath) {
    this.#owner = owner;
    this.#under = under;
  }

  /** node:dgram's bindState. */
  get state(): number {
    return this.#state;
  }

  /**
   * A bind failed in the kernel. libuv keeps the socket it made for it, so
   * node:dgram's address() then reports the unbound socket (any address,
   * port 0) rather than EBADF; this layer answers the same.
   */
  get failed(): boolean {
    return this.#failed;
  }

  /** The socket underneath is still binding (asynchronous backends only): its errors come through `ready`. */
  get innerBinding(): boolean {
    return this.#innerBinding;
  }

  /** Socket#bind(...args), after its health check. */
  bind(args: unknown[]): void {
    const owner = this.#owner;
    let port = args[0];
    const address0 = args[1];
    if (this.#state !== UNBOUND) throw errAlreadyBound();
    this.#state = BINDING;
    const cb = args.length > 0 ? args[args.length - 1] : undefined;
    if (typeof cb === 'function') this.#onceBound(cb as () => void);
    if (port !== null && typeof port === 'object') {
      const o = port as { fd?: unknown; recvStart?: unknown; exclusive?: unknown };
      if (typeof o.recvStart === 'function') {
        this.#bindHandle(port as UdpHandle);
        return;
      }
      if (isInt32(o.fd) && o.fd > 0) {
        this.#bindFd(o.fd, Boolean(o.exclusive));
        return;
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
    if (!address) address = owner.anyAddress;
    owner.resolve(address, (err, ip) => {
      if (owner.closed()) return; // closed meanwhile
      if (err) {
        this.#state = UNBOUND;
        owner.socket.emit('error', err);
        return;
      }
      if (!exclusive && isWorker()) {
        const flags = (owner.reuseAddr ? UV_UDP_REUSEADDR : 0) | (owner.ipv6Only ? UV_UDP_IPV6ONLY : 0);
        const query = { address: ip, port: port as number, addressType: owner.type, fd: -1, flags };
        this.#bindShared(query, (errno) => hostPortError(errno, 'bind', ip, port));
        return;
      }
      this.#bindAddress(ip, port);
    });
  }

  /** addMembership & co. on an unbound socket: bound now, not receiving (libuv's implicit bind). */
  implicitBind(family: 4 | 6, syscall: string): UdpSocket {
    const type = family === 4 ? 'udp4' : 'udp6';
    const address = family === 4 ? '0.0.0.0' : '::';
    try {
      const inner = openUdp(this.#under.options({ type, address, port: 0, dgramBind: 'implicit' }));
      this.#under.attach(inner, false);
      return inner;
    } catch (e) {
      throw errnoError(errnoOf(e) ?? EINVAL, syscall);
    }
  }

  /** bind()'s callback: once on 'listening', dropped on 'error' (node:dgram's removeListeners). */
  #onceBound(cb: () => void): void {
    const socket = this.#owner.socket;
    const removeListeners = (): void => {
      socket.removeListener('error', removeListeners);
      socket.removeListener('listening', onListening);
    };
    const onListening = (): void => {
      removeListeners();
      cb.call(socket);
    };
    socket.on('error', removeListeners);
    socket.on('listening', onListening);
  }

  #bindAddress(ip: string, port: unknown): void {
    // node:dgram converts like its C++ binding: to uint32, then 16 bits.
    const portNum = (Number(port || 0) >>> 0) & 0xffff;
    const waits = portNum === 0 ? undefined : closingOn(portNum);
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
        if (!this.#owner.closed()) this.#open(ip, portNum, port);
      });
    });
  }

  #open(ip: string, port: number, rawPort: unknown): void {
    if (this.#under.inner !== undefined || isIP(ip) !== this.#owner.family) {
      // Already bound by a membership call (libuv then refuses the bind), or
      // libuv cannot make an address of this family from it (no socket made).
      this.#state = UNBOUND;
      this.#owner.socket.emit('error', hostPortError(EINVAL, 'bind', ip, rawPort));
      return;
    }
    this.#openAndListen(this.#under.options({ address: ip, port }), (e) => {
      // node:dgram reports socket creation and bind failures alike, as
      // 'bind' errors (libuv makes the socket inside uv_udp_bind).
      const errno = errnoOf(e);
      if (errno !== undefined) this.#failed = (e as { syscall?: unknown }).syscall === 'bind';
      return errno === undefined ? (e as Error) : hostPortError(errno, 'bind', ip, rawPort);
    });
  }

  /**
   * Open the socket underneath and emit 'listening' (or 'error', made by
   * `fail`) once it is bound: at once on the native backends, after
   * node:dgram's asynchronous bind on the dgram backend.
   */
  #openAndListen(opts: UdpSocketOptions, fail: (e: unknown) => Error): void {
    const owner = this.#owner;
    let inner: UdpSocket;
    try {
      inner = openUdp(opts);
      this.#under.attach(inner, true);
    } catch (e) {
      this.#state = UNBOUND;
      owner.socket.emit('error', fail(e));
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
          if (!owner.closed()) this.#listening();
        }),
      (e: unknown) =>
        process.nextTick(() => {
          this.#innerBinding = false;
          if (owner.closed()) return;
          this.#under.drop();
          this.#state = UNBOUND;
          owner.socket.emit('error', fail(e));
        }),
    );
  }

  #listening(): void {
    this.#state = BOUND;
    this.#owner.bound();
    this.#owner.socket.emit('listening');
  }

  /**
   * bind({ fd }): use an existing UDP socket; 'listening' before bind()
   * returns, as node:dgram does. In a cluster worker (not exclusive) the
   * primary opens the fd (its own) and shares it.
   */
  #bindFd(fd: number, exclusive: boolean): void {
    const under = this.#under;
    if (!exclusive && isWorker()) {
      const query = { address: null, port: null, addressType: this.#owner.type, fd, flags: null };
      this.#bindShared(query, (errno) => errnoError(errno, 'open'));
      return;
    }
    const kind = fdKind(fd);
    if (kind !== null && kind.kind !== 'UDP') throw errInvalidFdType(kind.kind);
    if (fdInUse(fd)) throw errnoError(EEXIST, 'open');
    // Bound by a membership call already: libuv will not open another fd.
    if (under.inner !== undefined) throw errnoError(EBUSY, 'open');
    try {
      under.attach(openUdp(under.options({ fd, type: typeOfFd(kind, this.#owner.type) })), true);
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
    const under = this.#under;
    const dgram = under.onDgramBackend();
    const type = typeOfFd(dgram ? null : fdKind(handle.fd), this.#owner.type);
    // The handle replaces what a membership call bound, as in node:dgram.
    under.drop();
    try {
      const opts = dgram ? { dgramHandle: handle } : { fd: handle.fd, dupFd: true, type };
      const inner = openUdp(under.options(opts, shared));
      under.attach(inner, true);
      if (!dgram) under.handle = handle;
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
    const owner = this.#owner;
    if (ownerKnown) {
      setOwner(handle, owner.socket);
      return;
    }
    const close = handle.close;
    let closed = false;
    handle.close = (cb?: () => void): void => {
      if (closed) return;
      closed = true;
      if (!owner.closed()) {
        this.#under.handle = undefined; // closed here, not by close()
        owner.socket.close();
      }
      close.call(handle, cb);
    };
  }

  /** A cluster worker's non-exclusive bind: the primary's socket. */
  #bindShared(query: ServerQuery, fail: (errno: number) => Error): void {
    const owner = this.#owner;
    queryPrimary(owner.socket, query, (err, handle) => {
      if (err) {
        // Do not report to a socket closed meanwhile.
        if (owner.closed()) return;
        this.#state = UNBOUND;
        owner.socket.emit('error', fail(err));
        return;
      }
      if (owner.closed()) {
        handle.close(); // closed before the primary replied: tell it
        return;
      }
      const inner = this.#adoptHandle(handle, true);
      if (inner instanceof Error) {
        handle.close();
        this.#state = UNBOUND;
        owner.socket.emit('error', inner);
        return;
      }
      this.#listening();
    });
  }
}
