/**
 * One UDP receive batch: every datagram a socket got in one drain (the
 * common part, lifetime rules included, is core/batch.ts). Adds the
 * sender of each datagram, readable without allocation.
 */
import { formatAddress } from '../core/address.js';
import { Batch } from '../core/batch.js';
import { M_ADDR, M_FAMILY, M_FLAGS, M_LEN, M_OFF, M_PORT, M_WORDS, MF_TRUNC } from '../core/layout.js';
import type { Endpoint } from './endpoint.js';

const SHAPE = { words: M_WORDS, off: M_OFF, len: M_LEN, flags: M_FLAGS, truncBit: MF_TRUNC };

export class RecvBatch extends Batch {
  /** @internal */
  constructor(bytes: Uint8Array, meta: Int32Array) {
    super(bytes, meta, SHAPE);
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
    const start = this.meta.byteOffset + (base + M_ADDR) * 4;
    return formatAddress(this.meta[base + M_FAMILY] ?? 0, new Uint8Array(this.meta.buffer, start, 16));
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
}
