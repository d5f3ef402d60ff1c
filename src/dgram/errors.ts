/**
 * Errors of the node:dgram-compatible layer, shaped exactly like the ones
 * node:dgram throws or emits, so that code testing `err.code`, `err.name`,
 * `err.message`, `err.errno`, `err.syscall`, `err.address` or `err.port`
 * sees no difference:
 *
 * - misuse: `name` is the plain class name ('TypeError'), the stack's first
 *   line and `toString()` show the code (`TypeError [ERR_SOCKET_BAD_PORT]: ...`),
 *   `code` is the only enumerable property;
 * - kernel errors: `errno` (negative), `code`, `syscall`, and `address` /
 *   `port` for the calls that name a peer, with Node's message formats;
 * - ERR_SOCKET_BUFFER_SIZE is a SystemError with `info`, like Node's.
 */
import { inspect, getSystemErrorMap, getSystemErrorName, type InspectOptionsStylized } from 'node:util';

type ErrorBase = typeof Error | typeof TypeError | typeof RangeError;

function codeOf(err: Error): string {
  return (err as Error & { code: string }).code;
}

/**
 * Node's NodeError shape: own properties in Node's order ('stack', then
 * 'message' and 'code', or 'code' then 'message' for the codes whose
 * message Node builds with a function: it calls super() without one), the
 * code in the stack's first line and toString(), `name` the plain class
 * name, `constructor` the base class.
 */
function withCode<T extends Error>(err: T, code: string, message: string, codeFirst: boolean): T & { code: string } {
  const e = err as T & { code: string };
  if (codeFirst) {
    e.code = code;
    Object.defineProperty(e, 'message', { value: message, configurable: true, writable: true, enumerable: false });
  }
  // The stack's header is formatted on first access: show the code there,
  // then drop the own `name` so err.name stays the plain class name.
  Object.defineProperty(e, 'name', { value: `${e.name} [${code}]`, configurable: true, writable: true, enumerable: false });
  void e.stack;
  delete (e as { name?: string }).name;
  if (!codeFirst) e.code = code;
  return e;
}

/** Error with one of Node's ERR_* codes. */
export class DgramError extends Error {
  declare readonly code: string;
  override toString(): string {
    return `${this.name} [${codeOf(this)}]: ${this.message}`;
  }
}
export class DgramTypeError extends TypeError {
  declare readonly code: string;
  override toString(): string {
    return `${this.name} [${codeOf(this)}]: ${this.message}`;
  }
}
export class DgramRangeError extends RangeError {
  declare readonly code: string;
  override toString(): string {
    return `${this.name} [${codeOf(this)}]: ${this.message}`;
  }
}
// Node's names and constructors: the classes' own would show as 'DgramError'.
for (const [cls, Base] of [
  [DgramError, Error],
  [DgramTypeError, TypeError],
  [DgramRangeError, RangeError],
] as const) {
  Object.defineProperty(cls.prototype, 'name', { value: Base.name, configurable: true, writable: true, enumerable: false });
  Object.defineProperty(cls.prototype, 'constructor', { get: () => Base, configurable: true, enumerable: false });
}

/** A coded error; `codeFirst` for codes whose Node message is a function. */
function coded(Base: ErrorBase, code: string, message: string, codeFirst = false): Error & { code: string } {
  const Cls = Base === TypeError ? DgramTypeError : Base === RangeError ? DgramRangeError : DgramError;
  return withCode(codeFirst ? new Cls() : new Cls(message), code, message, codeFirst);
}

/** How Node describes a wrong value at the end of a message ("Received ..."). */
export function received(value: unknown): string {
  if (value === null || value === undefined) return `Received ${String(value)}`;
  if (typeof value === 'function' && value.name) return `Received function ${value.name}`;
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: { name?: string } }).constructor;
    if (ctor?.name) return `Received an instance of ${ctor.name}`;
    return `Received ${inspect(value, { depth: -1 })}`;
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `Received type ${typeof value} (${shown})`;
}

/** `expected` is the text after "must be", e.g. 'of type string'. */
export function errInvalidArgType(name: string, expected: string, value: unknown): Error {
  const what = name.includes('.') ? 'property' : 'argument';
  return coded(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" ${what} must be ${expected}. ${received(value)}`, true);
}

function showNumber(value: unknown): string {
  if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) > 2 ** 32) {
    // Node groups the digits of big integers: 10_000_000_000.
    const s = String(Math.abs(value));
    let out = '';
    for (let i = s.length; i > 0; i -= 3) out = `_${s.slice(Math.max(0, i - 3), i)}${out}`;
    return `${value < 0 ? '-' : ''}${out.slice(1)}`;
  }
  return typeof value === 'number' ? String(value) : inspect(value);
}

export function errOutOfRange(name: string, range: string, value: unknown): Error {
  return coded(
    RangeError,
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${showNumber(value)}`,
    true,
  );
}

export function errBadPort(name: string, port: unknown, allowZero: boolean): Error {
  return coded(
    RangeError,
    'ERR_SOCKET_BAD_PORT',
    `${name} should be ${allowZero ? '>=' : '>'} 0 and < 65536. ${received(port)}.`,
    true,
  );
}

export const errBadType = (): Error =>
  coded(TypeError, 'ERR_SOCKET_BAD_TYPE', 'Bad socket type specified. Valid types are: udp4, udp6');
export const errNotRunning = (): Error => coded(Error, 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
export const errAlreadyBound = (): Error => coded(Error, 'ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
export const errIsConnected = (): Error => coded(Error, 'ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
export const errNotConnected = (): Error => coded(Error, 'ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
export const errBadBufferSize = (): Error =>
  coded(TypeError, 'ERR_SOCKET_BAD_BUFFER_SIZE', 'Buffer size must be a positive integer');
export const errOutOfBounds = (name: string): Error =>
  coded(RangeError, 'ERR_BUFFER_OUT_OF_BOUNDS', `"${name}" is outside of buffer bounds`, true);
export const errMissingArgs = (name: string): Error =>
  coded(TypeError, 'ERR_MISSING_ARGS', `The "${name}" argument must be specified`, true);
/** bind({ fd }) with an fd that is not a UDP socket (`type` as guessHandleType names it). */
export const errInvalidFdType = (type: string): Error => coded(TypeError, 'ERR_INVALID_FD_TYPE', `Unsupported fd type: ${type}`);

/** Something node:dgram can do that this layer cannot (yet). */
export function errNotSupported(what: string, why: string): Error {
  return coded(Error, 'ERR_IOURING_NOT_SUPPORTED', `${what} is not supported by iouring-net's node:dgram layer: ${why}`);
}

/**
 * What node:dgram throws when a method runs after close() on a socket whose
 * handle is gone (Node dereferences the null handle). Reproduced so that
 * code written against node:dgram sees the same error.
 */
export function errClosedHandle(property: string): TypeError {
  return new TypeError(`Cannot read properties of null (reading '${property}')`);
}

function errName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return `Unknown system error ${errno}`;
  }
}

export interface DgramSystemError extends Error {
  errno: number;
  code: string;
  syscall: string;
  address?: string | undefined;
  port?: number;
}

/** Node's ErrnoException: `${syscall} ${code}`. */
export function errnoError(errno: number, syscall: string): DgramSystemError {
  const code = errName(errno);
  const err = new Error(`${syscall} ${code}`) as DgramSystemError;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  return err;
}

/** Node's ExceptionWithHostPort: `${syscall} ${code} ${address}:${port}`. */
export function hostPortError(errno: number, syscall: string, address: string | undefined, port: unknown): DgramSystemError {
  const code = errName(errno);
  let details = '';
  // Node's test, with JS comparison semantics (a port may be a string).
  if (port && (port as number) > 0) details = ` ${String(address)}:${String(port)}`;
  else if (address) details = ` ${address}`;
  const err = new Error(`${syscall} ${code}${details}`) as DgramSystemError;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  err.address = address;
  if (port) err.port = port as number;
  return err;
}

interface SystemErrorInfo {
  errno: number;
  code: string;
  message: string;
  syscall: string;
}

/**
 * Node's SystemError: `info` and `errno`/`syscall` accessors over it, shown
 * with their values by util.inspect (Node's class inspects itself with
 * `getters: true`), toString() and the stack header with the code.
 */
class SystemError extends Error {
  declare code: string;
  override toString(): string {
    return `${this.name} [${this.code}]: ${this.message}`;
  }

  [inspect.custom](_depth: number, options: InspectOptionsStylized): string {
    return inspect(this, { ...options, getters: true, customInspect: false });
  }
}

/** The class Node makes per SystemError code (its constructor's name). */
class NodeError extends SystemError {}

const kIsNodeError = Symbol('kIsNodeError');

function systemError(key: string, prefix: string, info: SystemErrorInfo): SystemError {
  const err = new NodeError();
  err.code = key;
  const own = (value: unknown, writable = true): PropertyDescriptor => ({ value, enumerable: false, writable, configurable: true });
  const accessor = (k: 'errno' | 'syscall'): PropertyDescriptor => ({
    get: () => info[k],
    set: (v: never) => {
      info[k] = v;
    },
    enumerable: true,
    configurable: true,
  });
  Object.defineProperties(err, {
    [kIsNodeError]: own(true, false),
    name: own(`SystemError [${key}]`),
    message: own(`${prefix}: ${info.syscall} returned ${info.code} (${info.message})`),
    info: { value: info, enumerable: true, writable: false, configurable: true },
    errno: accessor('errno'),
    syscall: accessor('syscall'),
  });
  void err.stack; // formatted now, with the code in its header
  err.name = 'SystemError';
  return err;
}

/** Node's ERR_SOCKET_BUFFER_SIZE: a SystemError naming uv_{recv,send}_buffer_size. */
export function errBufferSize(errno: number, syscall: string): Error {
  const [code, text] = getSystemErrorMap().get(errno) ?? [errName(errno), 'unknown error'];
  return systemError('ERR_SOCKET_BUFFER_SIZE', 'Could not get or set buffer size', { errno, code, message: text, syscall });
}
