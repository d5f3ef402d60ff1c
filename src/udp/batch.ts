/**
 * One receive batch: every datagram a socket got in one drain. The object
 * is reused for every batch of its socket, and packet data lives in the
 * socket's shared pool, so reading a batch allocates nothing.
 *
 * Lifetime: the views (`data(i)`, `bytes` at `offset(i)`) are valid only
 * until the batch handler returns; the buffers then go back to the kernel.
 * Use `copy(i)` to keep a packet.
 */
import { formatAddress } from '../core/address.js';
import type { Endpoint } from './endpoint.js';
import { CodedRangeError } from '../core/errors.js';
import { M_ADDR, M_FAMILY, M_FLAGS, M_LEN, M_OFF, M_PORT, M_WORDS, MF_TRUNC } from '../core/layout.js';

export class RecvBatch {
  /** Number of datagrams in this batch. */
  length = 0;
  /** The socket's whole shared memory; packet i is at offset(i), size(i). */
  readonly bytes: Uint8Array;
  /** @internal per-packet entries (udp.h ION_M_*). */
  readonly meta: Int32Array;
  private readonly metaBytes: Uint8Array;

  /** @internal */
  constructor(bytes: Uint8Array, meta: Int32Array) {
    this.bytes = bytes;
    this.meta = meta;
    this.metaBytes = new Uint8Array(meta.buffer, meta.byteOffset, meta.byteLength);
  }

  private at(i: number): number {
    if (!(i >= 0 && i < this.length)) {
      throw new CodedRangeError('ERR_OUT_OF_RANGE', `packet index ${i} is not in [0, ${this.length})`);
    }
    return i * M_WORDS;
  }

  /** Offset of packet i's payload in `bytes`. */
  offset(i: number): number {
    return this.meta[this.at(i) + M_OFF] ?? 0;
  }

  /** Payload length of packet i (after truncation, see truncated()). */
  size(i: number): number {
    return this.meta[this.at(i) + M_LEN] ?? 0;
  }

  /** True if packet i was larger than maxMessageSize and was cut. */
  truncated(i: number): boolean {
    return ((this.meta[this.at(i) + M_FLAGS] ?? 0) & MF_TRUNC) !== 0;
  }

  /** Sender's port. */
  port(i: number): number {
    return this.meta[this.at(i) + M_PORT] ?? 0;
  }

  /** Sender's address family: 4 or 6 (v4-mapped senders of a udp6 socket are 6). */
  family(i: number): 4 | 6 {
    return this.meta[this.at(i) + M_FAMILY] === 4 ? 4 : 6;
  }

  /** Sender's address as text (allocates a string). */
  address(i: number): string {
    const base = this.at(i);
    const start = (base + M_ADDR) * 4;
    return formatAddress(this.meta[base + M_FAMILY] ?? 0, this.metaBytes.subarray(start, start + 16));
  }

  /** True if packet i came from this endpoint (no allocation). */
  isFrom(i: number, ep: Endpoint): boolean {
    const base = this.at(i);
    const m = this.meta;
    const w = ep.words;
    return (
      m[base + M_PORT] === ep.port &&
      m[base + M_FAMILY] === ep.family &&
      m[base + M_ADDR] === w[0] &&
      m[base + M_ADDR + 1] === w[1] &&
      m[base + M_ADDR + 2] === w[2] &&
      m[base + M_ADDR + 3] === w[3]
    );
  }

  /** A view of packet i's payload, valid until the handler returns. */
  data(i: number): Uint8Array {
    const off = this.offset(i);
    return this.bytes.subarray(off, off + this.size(i));
  }

  /** A copy of packet i's payload that the caller may keep. */
  copy(i: number): Buffer {
    return Buffer.from(this.data(i));
  }
}
