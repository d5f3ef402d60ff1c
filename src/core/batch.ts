/**
 * What every receive batch has (UDP datagrams: udp/batch.ts RecvBatch; TUN
 * packets: tun/device.ts PacketBatch): a count, the object's whole shared
 * memory, and one fixed-size entry per packet saying where it is. The
 * object is reused for every batch of its owner, and packet data lives in
 * the owner's shared pool, so reading a batch allocates nothing.
 *
 * Lifetime: the views (`data(i)`, `bytes` at `offset(i)`) are valid only
 * until the batch handler returns; the buffers then go back to the kernel.
 * Use `copy(i)` to keep a packet.
 */
import { CodedRangeError } from './errors.js';

/** Where an entry kind keeps offset, length and flags (word indices). */
export interface EntryShape {
  words: number;
  off: number;
  len: number;
  flags: number;
  truncBit: number;
}

export abstract class Batch {
  /** Number of packets in this batch. */
  length = 0;
  /** The owner's whole shared memory; packet i is at offset(i), size(i). */
  bytes: Uint8Array;
  /** @internal per-packet entries, written by native. */
  meta: Int32Array;
  private readonly shape: EntryShape;

  /** @internal */
  constructor(bytes: Uint8Array, meta: Int32Array, shape: EntryShape) {
    this.bytes = bytes;
    this.meta = meta;
    this.shape = shape;
  }

  /** @internal The first word of packet i's entry; checks i. */
  at(i: number): number {
    if (!(i >= 0 && i < this.length)) {
      throw new CodedRangeError('ERR_OUT_OF_RANGE', `packet index ${i} is not in [0, ${this.length})`);
    }
    return i * this.shape.words;
  }

  /** Offset of packet i in `bytes`. */
  offset(i: number): number {
    return this.meta[this.at(i) + this.shape.off] ?? 0;
  }

  /** Length of packet i (after truncation, see truncated()). */
  size(i: number): number {
    return this.meta[this.at(i) + this.shape.len] ?? 0;
  }

  /** True if packet i was longer than the owner's limit and was cut. */
  truncated(i: number): boolean {
    return ((this.meta[this.at(i) + this.shape.flags] ?? 0) & this.shape.truncBit) !== 0;
  }

  /** A view of packet i, valid until the handler returns. */
  data(i: number): Uint8Array {
    const off = this.offset(i);
    return this.bytes.subarray(off, off + this.size(i));
  }

  /** A copy of packet i that the caller may keep. */
  copy(i: number): Buffer {
    return Buffer.from(this.data(i));
  }
}
