/**
 * Argument checks and conversions of the node:dgram layer, with
 * node:dgram's rules and errors (lib/dgram.js, internal/validators).
 */
import { errBadPort, errInvalidArgType, errIsConnected, errOutOfBounds, errOutOfRange } from './errors.js';

export const BUFFER_TYPES = 'of type string or an instance of Buffer, TypedArray, or DataView';

/** node:dgram's port check: returns the port as an integer. */
export function validatePort(port: unknown, name: string, allowZero: boolean): number {
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

export function validateString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw errInvalidArgType(name, 'of type string', value);
}

export function validateNumber(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number') throw errInvalidArgType(name, 'of type number', value);
}

export function validateUint32(value: unknown, name: string): void {
  if (typeof value !== 'number') throw errInvalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw errOutOfRange(name, 'an integer', value);
  if (value < 0 || value > 0xffffffff) throw errOutOfRange(name, '>= 0 && <= 4294967295', value);
}

export function asBytes(v: ArrayBufferView): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** send()'s offset/length form: a view of the given range. */
export function sliceBuffer(buffer: unknown, offset: unknown, length: unknown): Uint8Array {
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
export function fixBufferList(list: readonly unknown[]): Uint8Array[] | null {
  const out = new Array<Uint8Array>(list.length);
  for (let i = 0; i < list.length; i++) {
    const b = list[i];
    if (typeof b === 'string') out[i] = Buffer.from(b);
    else if (!ArrayBuffer.isView(b)) return null;
    else out[i] = asBytes(b);
  }
  return out;
}

export function errnoOf(err: unknown): number | undefined {
  const n = (err as { errno?: unknown } | null)?.errno;
  return typeof n === 'number' ? n : undefined;
}


/** send()'s arguments, sorted out as node:dgram does for its many forms. */
export interface SendArgs {
  data: Uint8Array | undefined;
  list: Uint8Array[] | undefined;
  /** The port as given (connected: what errors would name), and validated. */
  port: unknown;
  portNum: number;
  address: string | undefined;
  callback: ((error: Error | null, bytes?: number) => void) | undefined;
}

/**
 * parseSend's answer. One object, reused: send() copies it out before
 * calling anything (a send is per datagram: no allocation for its arguments).
 */
const parsed: SendArgs = { data: undefined, list: undefined, port: undefined, portNum: 0, address: undefined, callback: undefined };

/**
 * node:dgram's send() argument handling: (msg, [offset, length,] port,
 * [address,] [callback]) unconnected, (msg, [offset, length,] [callback])
 * connected; throws node:dgram's errors. The result is valid until the
 * next call (every field is written at the end, after any user code a
 * conversion may run).
 */
export function parseSend(
  connected: boolean,
  buffer: unknown,
  offset: unknown,
  length: unknown,
  port: unknown,
  address: unknown,
  callback: unknown,
): Readonly<SendArgs> {
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
  const portNum = connected ? 0 : validatePort(port, 'Port', false);
  let cb = typeof callback === 'function' ? (callback as SendArgs['callback']) : undefined;
  if (typeof address === 'function') {
    cb = address as SendArgs['callback'];
    address = undefined;
  } else if (address !== null && address !== undefined) {
    validateString(address, 'address');
  }
  parsed.data = data;
  parsed.list = list;
  parsed.port = port;
  parsed.portNum = portNum;
  parsed.address = (address ?? undefined) as string | undefined;
  parsed.callback = cb;
  return parsed;
}
