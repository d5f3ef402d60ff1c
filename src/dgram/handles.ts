/**
 * Where Node's own modules reach into a node:dgram socket, the layer must
 * look like one:
 *
 * - child_process passes a socket to a child (`child.send(msg, socket)`)
 *   only if it is `instanceof dgram.Socket`, and sends
 *   `socket[kStateSymbol].handle`, a native UDP handle;
 * - cluster's disconnect closes a worker's shared sockets through
 *   `handle[owner_symbol]`;
 * - UDP handles (from a cluster primary, `dgram._createSocketHandle`, or
 *   `bind(handle)`) are Node's native UDP handle objects with an `fd`.
 *
 * The two symbols are Node's internal ones, read once from a probe
 * node:dgram socket (never bound nor closed: it opens no file descriptor).
 * If a Node version hides them, the features that need them are missing
 * (child.send then throws Node's ERR_INVALID_HANDLE_TYPE) and nothing else.
 */
import * as nodeDgram from 'node:dgram';
import { deprecate } from 'node:util';

/** A native UDP handle of Node (udp_wrap's UDP), the parts the layer uses. */
export interface UdpHandle {
  readonly fd: number;
  open(fd: number): number;
  close(callback?: () => void): void;
  hasRef?(): boolean;
  [key: symbol]: unknown;
}

interface Internals {
  kStateSymbol: symbol | undefined;
  ownerSymbol: symbol | undefined;
  UDP: (new () => UdpHandle) | undefined;
}

const probes: unknown[] = [];

function probeInternals(): Internals {
  const probe = new (nodeDgram.Socket as unknown as new (type: string) => Record<symbol, unknown>)('udp4');
  const kStateSymbol = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'state symbol');
  const state = kStateSymbol === undefined ? undefined : (probe[kStateSymbol] as { handle?: UdpHandle } | undefined);
  const handle = state?.handle;
  const ownerSymbol = handle && Object.getOwnPropertySymbols(handle).find((s) => s.description === 'owner_symbol');
  const UDP = handle ? (Object.getPrototypeOf(handle).constructor as new () => UdpHandle) : undefined;
  // Never closed: closing queues work (a tick, a destroy hook) that
  // async_hooks enabled later would see without its init. It holds no fd
  // and, never bound, does not keep the event loop alive.
  probes.push(probe);
  return { kStateSymbol, ownerSymbol, UDP };
}

const internals = probeInternals();

/** node:dgram's state symbol (lib/internal/dgram.js), if this Node has one. */
export const kStateSymbol = internals.kStateSymbol;

/** Mark a UDP handle as belonging to socket (cluster closes it through its owner). */
export function setOwner(handle: UdpHandle, socket: object): void {
  if (internals.ownerSymbol !== undefined) handle[internals.ownerSymbol] = socket;
}

/** True if Node's cluster finds this handle's owner itself (owner_symbol is known). */
export const ownerKnown = internals.ownerSymbol !== undefined;

/** A UDP handle that is not bound (fd -1): what node sends for an unbound socket. */
export function unboundHandle(): UdpHandle | undefined {
  return internals.UDP ? new internals.UDP() : undefined;
}

/**
 * A native UDP handle on fd, which it then owns: not receiving (nothing
 * reads from it here), so it neither takes datagrams from the socket that
 * shares the fd nor keeps the event loop alive. Undefined if fd cannot be
 * opened (Node's error number in `err`).
 */
export function handleOnFd(fd: number): { handle?: UdpHandle; err: number } {
  if (!internals.UDP) return { err: -38 }; // ENOSYS
  const handle = new internals.UDP();
  const err = handle.open(fd);
  if (err) {
    handle.close();
    return { err };
  }
  return { handle, err: 0 };
}

/** The node:dgram state of a node:dgram socket (dgram backend), as child_process reads it. */
export function nodeState(sock: object | undefined): unknown {
  if (sock === undefined || kStateSymbol === undefined) return undefined;
  return (sock as Record<symbol, unknown>)[kStateSymbol];
}

/** How installNodeInternals reads a socket's private state. */
export interface InternalsAccess<S> {
  state(s: S): unknown;
  handle(s: S): unknown;
  receiving(s: S): boolean;
  bindState(s: S): number;
  queue(s: S): unknown;
  reuseAddr(s: S): boolean;
  healthCheck(s: S): void;
  stopReceiving(s: S): void;
}

/**
 * Put on the layer's Socket.prototype what Node's modules and old programs
 * read of node:dgram's: `socket[kStateSymbol]` (child_process), and the
 * deprecated `_handle`, `_receiving`, `_bindState`, `_queue`, `_reuseAddr`,
 * `_healthCheck()`, `_stopReceiving()` with node's DEP0112 warnings (their
 * setters warn and change nothing).
 */
export function installNodeInternals<S extends object>(proto: S, get: InternalsAccess<S>): void {
  if (kStateSymbol !== undefined) {
    Object.defineProperty(proto, kStateSymbol, {
      get(this: S) {
        return get.state(this);
      },
      configurable: true,
    });
  }
  const prop = (name: string, read: (s: S) => unknown): void => {
    const msg = `Socket.prototype.${name} is deprecated`;
    Object.defineProperty(proto, name, {
      get: deprecate(function (this: S) {
        return read(this);
      }, msg, 'DEP0112'),
      set: deprecate(function () {}, msg, 'DEP0112'),
      configurable: true,
    });
  };
  prop('_handle', get.handle);
  prop('_receiving', get.receiving);
  prop('_bindState', get.bindState);
  prop('_queue', get.queue);
  prop('_reuseAddr', get.reuseAddr);
  const method = (name: string, fn: (s: S) => void): void => {
    Object.defineProperty(proto, name, {
      value: deprecate(function (this: S) {
        fn(this);
      }, `Socket.prototype.${name}() is deprecated`, 'DEP0112'),
      writable: true,
      configurable: true,
    });
  };
  method('_healthCheck', get.healthCheck);
  method('_stopReceiving', get.stopReceiving);
}
