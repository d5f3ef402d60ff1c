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
import { inspect, getSystemErrorMap, getSystemErrorName } from 'node:util';

type ErrorBase = typeof Error | typeof TypeError | typeof RangeError;

function codeOf(err: Error): string {
  return (err as Error & { code: string }).code;
}

function withCode<T extends Error>(err: T, code: string): T & { code: string } {
  // The stack's header is formatted on first access: show the code there,
  // then drop the own `name` so err.name stays the plain class name.
  Object.defineProperty(err, 'name', { value: `${err.name} [${code}]`, configurable: true, writable: true, enumerable: false });
  void err.stack;
  delete (err as { name?: string }).name;
  (err as T & { code: string }).code = code;
  return err as T & { code: string };
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
// The classes' own names would show as 'DgramError': keep Node's.
for (const [cls, name] of [
  [DgramError, 'Error'],
  [DgramTypeError, 'TypeError'],
  [DgramRangeError, 'RangeError'],
] as const) {
  Object.defineProperty(cls.prototype, 'name', { value: name, configurable: true, writable: true, enumerable: false });
}

function coded(Base: ErrorBase, code: string, message: string): Error & { code: string } {
  const Cls = Base === TypeError ? DgramTypeError : Base === RangeError ? DgramRangeError : DgramError;
  return withCode(new Cls(message), code);
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
  return coded(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" ${what} must be ${expected}. ${received(value)}`);
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
  return coded(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${range}. Received ${showNumber(value)}`);
}

export function errBadPort(name: string, port: unknown, allowZero: boolean): Error {
  return coded(
    RangeError,
    'ERR_SOCKET_BAD_PORT',
    `${name} should be ${allowZero ? '>=' : '>'} 0 and < 65536. ${received(port)}.`,
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
  coded(RangeError, 'ERR_BUFFER_OUT_OF_BOUNDS', `"${name}" is outside of buffer bounds`);
export const errMissingArgs = (name: string): Error =>
  coded(TypeError, 'ERR_MISSING_ARGS', `The "${name}" argument must be specified`);

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

/** Node's ERR_SOCKET_BUFFER_SIZE: a SystemError naming uv_{recv,send}_buffer_size. */
export function errBufferSize(errno: number, syscall: string): Error {
  const [code, text] = getSystemErrorMap().get(errno) ?? [errName(errno), 'unknown error'];
  const info: SystemErrorInfo = { errno, code, message: text, syscall };
  const err = new Error(`Could not get or set buffer size: ${syscall} returned ${code} (${text})`);
  Object.defineProperty(err, 'name', { value: 'SystemError [ERR_SOCKET_BUFFER_SIZE]', configurable: true, writable: true, enumerable: false });
  void err.stack;
  Object.defineProperty(err, 'name', { value: 'SystemError', configurable: true, writable: true, enumerable: false });
  Object.defineProperty(err, 'code', { value: 'ERR_SOCKET_BUFFER_SIZE', configurable: true, writable: true, enumerable: true });
  Object.defineProperty(err, 'info', { value: info, configurable: true, writable: false, enumerable: true });
  for (const key of ['errno', 'syscall'] as const) {
    Object.defineProperty(err, key, {
      get: () => info[key],
      set: (v: never) => {
        info[key] = v;
      },
      configurable: true,
      enumerable: true,
    });
  }
  Object.defineProperty(err, 'toString', {
    value(this: Error) {
      return `${this.name} [ERR_SOCKET_BUFFER_SIZE]: ${this.message}`;
    },
    configurable: true,
    writable: true,
    enumerable: false,
  });
  return err;
}
