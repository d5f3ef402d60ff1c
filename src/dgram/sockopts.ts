/**
 * The socket option methods of the node:dgram layer's Socket (TTL,
 * broadcast, multicast, buffer sizes), with node:dgram's checks and errors.
 * Socket (socket.ts) extends this class and tells it, through the symbol
 * methods below, whether it is closed and which batch socket is underneath.
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { UdpSocket } from '../udp/socket.js';
import { errBadBufferSize, errBufferSize, errClosedHandle, errMissingArgs, errNotRunning, errnoError } from './errors.js';
import { errnoOf, validateNumber, validateString } from './validate.js';

const EBADF = -9;
const EINVAL = -22;

/** Socket's answers to the option methods (symbols: not part of the API). */
export const kClosed: unique symbol = Symbol('closed');
export const kInner: unique symbol = Symbol('inner');
export const kImplicitBind: unique symbol = Symbol('implicitBind');
export const kBufferSize: unique symbol = Symbol('bufferSize');

/** setsockopt-like work: a kernel error becomes node's ErrnoException(syscall). */
function setOpt(syscall: string, fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    throw errnoError(errnoOf(e) ?? EINVAL, syscall);
  }
}

/**
 * The address family libuv gives a group (then a source) of a membership
 * call, or EINVAL before anything is bound, as libuv checks both first.
 */
function groupFamily(group: string, source: string | undefined, syscall: string): 4 | 6 {
  const fam = isIP(group);
  if (fam === 0 || (source !== undefined && isIP(source) !== fam)) throw errnoError(EINVAL, syscall);
  return fam === 4 ? 4 : 6;
}

export abstract class OptionMethods extends EventEmitter {
  /** True once close() was called. */
  protected abstract [kClosed](): boolean;
  /** The batch socket underneath, if any. */
  protected abstract [kInner](): UdpSocket | undefined;
  /** Bind now as libuv does for a membership on an unbound socket (family: the group's). */
  protected abstract [kImplicitBind](family: 4 | 6, syscall: string): UdpSocket;

  /** The socket underneath for an option call: node:dgram's errors when there is none. */
  #target(method: string, syscall: string): UdpSocket {
    if (this[kClosed]()) throw errClosedHandle(method);
    const inner = this[kInner]();
    if (inner === undefined) throw errnoError(EBADF, syscall);
    return inner;
  }

  #healthCheck(): void {
    if (this[kClosed]()) throw errNotRunning();
  }

  setBroadcast(flag: boolean): void {
    const inner = this.#target('setBroadcast', 'setBroadcast');
    setOpt('setBroadcast', () => inner.setBroadcast(Boolean(flag)));
  }

  setTTL(ttl: number): number {
    validateNumber(ttl, 'ttl');
    if (this[kClosed]()) throw errClosedHandle('setTTL');
    const v = ttl | 0;
    if (v < 1 || v > 255) throw errnoError(EINVAL, 'setTTL');
    const inner = this.#target('setTTL', 'setTTL');
    setOpt('setTTL', () => inner.setTTL(v));
    return ttl;
  }

  setMulticastTTL(ttl: number): number {
    validateNumber(ttl, 'ttl');
    if (this[kClosed]()) throw errClosedHandle('setMulticastTTL');
    const v = ttl | 0;
    if (v < 0 || v > 255) throw errnoError(EINVAL, 'setMulticastTTL');
    const inner = this.#target('setMulticastTTL', 'setMulticastTTL');
    setOpt('setMulticastTTL', () => inner.setMulticastTTL(v));
    return ttl;
  }

  setMulticastLoopback<T>(flag: T): T {
    const inner = this.#target('setMulticastLoopback', 'setMulticastLoopback');
    setOpt('setMulticastLoopback', () => inner.setMulticastLoopback(Boolean(flag)));
    return flag;
  }

  setMulticastInterface(interfaceAddress: string): void {
    this.#healthCheck();
    validateString(interfaceAddress, 'interfaceAddress');
    const inner = this.#target('setMulticastInterface', 'setMulticastInterface');
    setOpt('setMulticastInterface', () => inner.setMulticastInterface(interfaceAddress));
  }

  /**
   * The socket a membership call works on. An unbound socket is bound
   * first, as libuv does (any address, port 0, SO_REUSEADDR) once the
   * addresses parse: node:dgram then reports it in address() but does not
   * receive and a later bind() fails with EINVAL.
   */
  #member(syscall: string, group: string, source?: string): UdpSocket {
    const inner = this[kInner]();
    if (inner !== undefined) return inner;
    return this[kImplicitBind](groupFamily(group, source, syscall), syscall);
  }

  addMembership(multicastAddress: string, interfaceAddress?: string): void {
    this.#healthCheck();
    if (!multicastAddress) throw errMissingArgs('multicastAddress');
    const inner = this.#member('addMembership', multicastAddress);
    setOpt('addMembership', () => inner.addMembership(multicastAddress, interfaceAddress));
  }

  dropMembership(multicastAddress: string, interfaceAddress?: string): void {
    this.#healthCheck();
    if (!multicastAddress) throw errMissingArgs('multicastAddress');
    const inner = this.#member('dropMembership', multicastAddress);
    setOpt('dropMembership', () => inner.dropMembership(multicastAddress, interfaceAddress));
  }

  addSourceSpecificMembership(sourceAddress: string, groupAddress: string, interfaceAddress?: string): void {
    this.#healthCheck();
    validateString(sourceAddress, 'sourceAddress');
    validateString(groupAddress, 'groupAddress');
    const inner = this.#member('addSourceSpecificMembership', groupAddress, sourceAddress);
    setOpt('addSourceSpecificMembership', () => inner.addSourceSpecificMembership(sourceAddress, groupAddress, interfaceAddress));
  }

  dropSourceSpecificMembership(sourceAddress: string, groupAddress: string, interfaceAddress?: string): void {
    this.#healthCheck();
    validateString(sourceAddress, 'sourceAddress');
    validateString(groupAddress, 'groupAddress');
    const inner = this.#member('dropSourceSpecificMembership', groupAddress, sourceAddress);
    setOpt('dropSourceSpecificMembership', () => inner.dropSourceSpecificMembership(sourceAddress, groupAddress, interfaceAddress));
  }

  /** node:dgram's bufferSize(): 0 reads the size, as in libuv. */
  protected [kBufferSize](size: unknown, recv: boolean): number {
    if (typeof size !== 'number' || size >>> 0 !== size) throw errBadBufferSize();
    if (this[kClosed]()) throw errClosedHandle('bufferSize');
    const syscall = recv ? 'uv_recv_buffer_size' : 'uv_send_buffer_size';
    const inner = this[kInner]();
    if (inner === undefined) throw errBufferSize(EBADF, syscall);
    if (size > 0x7fffffff) throw errBufferSize(EINVAL, syscall);
    try {
      if (size === 0) return recv ? inner.getRecvBufferSize() : inner.getSendBufferSize();
      if (recv) inner.setRecvBufferSize(size);
      else inner.setSendBufferSize(size);
      return size;
    } catch (e) {
      throw errBufferSize(errnoOf(e) ?? EINVAL, syscall);
    }
  }

  setRecvBufferSize(size: number): void {
    this[kBufferSize](size, true);
  }

  setSendBufferSize(size: number): void {
    this[kBufferSize](size, false);
  }

  getRecvBufferSize(): number {
    return this[kBufferSize](0, true);
  }

  getSendBufferSize(): number {
    return this[kBufferSize](0, false);
  }
}
