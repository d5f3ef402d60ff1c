/**
 * Errors in Node's own shapes, so code written for node:dgram can test
 * `err.code` the same way.
 *
 * - Kernel errors: `code` (e.g. 'EADDRINUSE'), negative `errno`, `syscall`,
 *   and `address`/`port` when known, as Node's errnoException makes them.
 * - Misuse: Node's ERR_* codes (ERR_SOCKET_BAD_PORT, ERR_INVALID_ARG_TYPE...).
 */
import { getSystemErrorName } from 'node:util';

/**
 * A kernel error in Node's shape (what Node's errnoException makes): a
 * NodeJS.ErrnoException whose code, errno and syscall are always set.
 */
export interface SystemError extends Error {
  /** The errno name, e.g. 'EADDRINUSE'. */
  code: string;
  /** The negative errno, e.g. -98. */
  errno: number;
  /** What failed: 'bind', 'send', 'recvmsg', 'read', 'write', ... */
  syscall: string;
  address?: string;
  port?: number;
}

/** Turn a -errno from the addon into a Node-style system error. */
export function errnoException(
  negErrno: number,
  syscall: string,
  address?: string,
  port?: number,
): SystemError {
  let code: string;
  try {
    code = getSystemErrorName(negErrno);
  } catch {
    code = `Unknown system error ${negErrno}`;
  }
  let details = '';
  if (address !== undefined) details = port ? ` ${address}:${port}` : ` ${address}`;
  const err = new Error(`${syscall} ${code}${details}`) as SystemError;
  err.errno = negErrno;
  err.code = code;
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined && port !== 0) err.port = port;
  return err;
}

/**
 * What an object's 'error' event carries: a kernel error (SystemError), or
 * one of this library's coded failures (CodedError: ERR_IOURING_NET_PROTOCOL
 * when its shared memory was overwritten, ERR_IOURING_NET_MEMORY_DETACHED).
 * `code` is a string either way.
 */
export type ObjectError = SystemError | CodedError;

/** An error with one of Node's ERR_* codes; the name shows the code. */
export class CodedError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = `Error [${code}]`;
  }
}

export class CodedTypeError extends TypeError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = `TypeError [${code}]`;
  }
}

export class CodedRangeError extends RangeError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = `RangeError [${code}]`;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: { name?: string } }).constructor;
    return ctor?.name ? `an instance of ${ctor.name}` : 'an object';
  }
  let shown = String(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  if (typeof value === 'string') shown = `'${shown}'`;
  return `type ${typeof value} (${shown})`;
}

export function invalidArgType(name: string, expected: string, actual: unknown): CodedTypeError {
  return new CodedTypeError(
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}. Received ${describe(actual)}`,
  );
}

export function invalidArgValue(name: string, value: unknown, reason = 'is invalid'): CodedTypeError {
  return new CodedTypeError(
    'ERR_INVALID_ARG_VALUE',
    `The argument '${name}' ${reason}. Received ${describe(value)}`,
  );
}

export function outOfRange(name: string, range: string, value: unknown): CodedRangeError {
  return new CodedRangeError(
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${Object.is(value, -0) ? '-0' : String(value)}`,
  );
}

export function badPort(name: string, port: unknown, allowZero = true): CodedRangeError {
  const op = allowZero ? '>=' : '>';
  return new CodedRangeError(
    'ERR_SOCKET_BAD_PORT',
    `${name} should be ${op} 0 and < 65536. Received ${describe(port)}.`,
  );
}

export function notRunning(): CodedError {
  return new CodedError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
}

export function badSocketType(): CodedTypeError {
  return new CodedTypeError(
    'ERR_SOCKET_BAD_TYPE',
    'Bad socket type specified. Valid types are: udp4, udp6',
  );
}

/**
 * Words only this library writes in an object's shared memory were changed
 * by code holding a view of it (native refused to act on them): the object
 * reports this and closes.
 */
export function protocolError(what: string): CodedError {
  return new CodedError('ERR_IOURING_NET_PROTOCOL', `shared memory of this ${what} was overwritten; closing it`);
}
