/**
 * The batch socket underneath the node:dgram layer's Socket, held from the
 * moment it is opened until the Socket closes: its options (the layer's
 * defaults), hooking it to the Socket (receive, errors, drain, ref state),
 * the UDP handles that go with it, and its release at close.
 *
 * Apart from bind.ts, which decides when and from what a socket is opened,
 * because sockets of every origin (an address, an fd, a handle, a cluster
 * primary, an implicit bind) are held and released alike; and because it
 * keeps the process-wide records through which one socket's close reaches
 * another's bind (fds in use, ports whose close is still finishing).
 */
import { closeSync } from 'node:fs';
import { selectBackend } from '../udp/backend.js';
import type { RecvBatch } from '../udp/batch.js';
import { dupFd } from '../udp/fd.js';
import type { UdpSocketOptions } from '../udp/options.js';
import type { UdpSocket } from '../udp/socket.js';
import { handleOnFd, unboundHandle, type UdpHandle } from './handles.js';
import type { IouringDgramOptions, SocketType } from './types.js';

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

/** Ports of sockets of this layer whose close is still finishing: a rebind waits for them. */
const closingPorts = new Map<number, Promise<void>[]>();
/** File descriptors of this layer's open sockets: bind({ fd }) of one is EEXIST, as in libuv. */
const liveFds = new Set<number>();

/** True if fd is that of an open socket of this layer (or of a handle made on one). */
export function fdInUse(fd: number): boolean {
  return liveFds.has(fd);
}

/** The closes of this layer's sockets on port that are still finishing, if any. */
export function closingOn(port: number): Promise<void>[] | undefined {
  return closingPorts.get(port);
}

/** What the socket underneath is made with and hooked to (from the Socket). */
export interface UnderneathOwner {
  readonly type: SocketType;
  readonly extra: IouringDgramOptions;
  readonly ipv6Only: boolean;
  readonly reuseAddr: boolean;
  readonly reusePort: boolean;
  refd(): boolean;
  readonly onBatch: (batch: RecvBatch) => void;
  readonly onError: (err: Error) => void;
  readonly onDrain: () => void;
}

export class Underneath {
  readonly #owner: UnderneathOwner;
  #inner: UdpSocket | undefined;
  /** node:dgram's `receiving`: 'message' events are delivered. */
  receiving = false;
  /** The fd of the socket underneath (-1: none, or the dgram backend's). */
  #fd = -1;
  /** A UDP handle this socket owns: from a cluster primary or bind(handle); closed with it. */
  handle: UdpHandle | undefined;
  /** A UDP handle on a duplicate of our fd, for child_process to send (made on demand). */
  #sendHandle: UdpHandle | undefined;

  constructor(owner: UnderneathOwner) {
    this.#owner = owner;
  }

  get inner(): UdpSocket | undefined {
    return this.#inner;
  }

  /**
   * Options of the batch socket underneath, with the layer's defaults. A
   * socket `shared` with other processes (a cluster primary's) reads one
   * datagram ahead at most: what a ring has taken from the shared queue is
   * lost to the other workers if this one closes before delivering it
   * (libuv reads only what it delivers). The iouring option overrides it.
   */
  options(extra: Partial<UdpSocketOptions>, shared = false): UdpSocketOptions {
    const o = this.#owner;
    return {
      maxMessageSize: MAX_MESSAGE,
      recvBuffers: shared ? 1 : RECV_BUFFERS,
      ...(shared ? { receiveMode: 'single' as const } : {}),
      sendBufferBytes: SEND_BUFFER_BYTES,
      ...o.extra,
      type: o.type,
      ipv6Only: o.ipv6Only,
      reuseAddr: o.reuseAddr,
      reusePort: o.reusePort,
      ...extra,
    };
  }

  /** Will the socket underneath be node:dgram's (the dgram backend)? */
  onDgramBackend(): boolean {
    try {
      return selectBackend({ backend: this.#owner.extra.backend, quiet: true }, 'UDP').backend === 'dgram';
    } catch {
      return false; // openUdp reports it
    }
  }

  /**
   * Take a new batch socket: events, receiving (unless only implicitly
   * bound), ref state. If it cannot start receiving it is closed and the
   * error thrown, and the socket keeps what it had.
   */
  attach(inner: UdpSocket, receive: boolean): void {
    const o = this.#owner;
    try {
      if (receive) inner.onBatch = o.onBatch;
    } catch (e) {
      inner.close();
      throw e;
    }
    this.#inner = inner;
    this.receiving = receive;
    inner.on('error', o.onError);
    inner.on('drain', o.onDrain);
    this.#fd = inner.backend === 'dgram' ? -1 : inner.fd;
    if (this.#fd >= 0) liveFds.add(this.#fd);
    if (!o.refd()) inner.unref();
  }

  /** Close and forget the socket underneath after a failed bind. */
  drop(): void {
    const inner = this.#inner;
    this.#inner = undefined;
    this.receiving = false;
    if (inner === undefined) return;
    liveFds.delete(this.#fd);
    inner.close();
  }

  /**
   * The UDP handle child_process sends for this socket: before the bind an
   * unbound one; after it a handle on a duplicate of our fd, not receiving
   * (so it takes no datagram from us), kept until we close. null when our
   * fd cannot be duplicated: the Socket then shows child_process no state
   * at all. Not for the dgram backend (node:dgram's socket has its own).
   */
  sendHandle(): UdpHandle | undefined | null {
    if (this.#inner === undefined) return (this.#sendHandle ??= unboundHandle());
    if (this.#sendHandle === undefined || this.#sendHandle.fd < 0) {
      this.#sendHandle?.close(); // an unbound one, from before the bind
      this.#sendHandle = undefined;
      const fd = dupFd(this.#fd);
      if (fd === null || fd < 0) return null;
      const { handle } = handleOnFd(fd);
      if (handle === undefined) closeSync(fd);
      else liveFds.add(fd); // the same socket: bind({ fd }) of it is EEXIST too
      this.#sendHandle = handle;
    }
    return this.#sendHandle;
  }

  /** close(), first: the handles go (closing a primary's tells the primary, as node:dgram's close). */
  closeHandles(): void {
    this.handle?.close();
    this.handle = undefined;
    if (this.#sendHandle !== undefined) {
      liveFds.delete(this.#sendHandle.fd);
      this.#sendHandle.close();
      this.#sendHandle = undefined;
    }
  }

  /**
   * close(): release the socket underneath; `done` once the ring has
   * returned everything (the port is free again and no send callback can
   * follow), or from a tick if there is none. `flush`: a connected
   * socket's, whose sends node:dgram makes at once, so close() drops none
   * of them (unconnected ones of this tick it drops).
   */
  close(flush: boolean, done: () => void): void {
    const inner = this.#inner;
    if (inner === undefined) {
      process.nextTick(done);
      return;
    }
    liveFds.delete(this.#fd);
    if (flush) inner.flushNative();
    let port = 0;
    try {
      port = inner.address().port;
    } catch {
      // not bound at the kernel level
    }
    const closed = new Promise<void>((resolve) => {
      inner.once('close', () => {
        if (port !== 0) {
          const list = closingPorts.get(port);
          const rest = list?.filter((p) => p !== closed) ?? [];
          if (rest.length === 0) closingPorts.delete(port);
          else closingPorts.set(port, rest);
        }
        resolve();
        done();
      });
    });
    if (port !== 0) closingPorts.set(port, [...(closingPorts.get(port) ?? []), closed]);
    inner.close();
  }
}
