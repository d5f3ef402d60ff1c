/**
 * Random 32-bit session indices (paper section 5.4: "sender" / "receiver"),
 * unique among the live ones. A handshake in progress and every live keypair
 * own one; the receiver index of an incoming message names its owner.
 */
import { randomBytes } from 'node:crypto';

import { CodedError } from '../core/errors.js';

/** Draws before giving up: with 2^32 indices, failing is a broken random source. */
const MAX_DRAWS = 64;

/** A table of live indices and what each names. */
export class IndexTable<V> {
  private readonly entries = new Map<number, V>();
  private readonly random: () => number;

  /**
   * `random`: a source of uniformly random 32-bit unsigned integers
   * (default: 4 bytes of crypto.randomBytes). Tests inject fixed ones.
   */
  constructor(random?: () => number) {
    this.random = random ?? (() => randomBytes(4).readUInt32LE(0));
  }

  /** A fresh index, now naming `value`. */
  allocate(value: V): number {
    for (let i = 0; i < MAX_DRAWS; i++) {
      const index = this.random() >>> 0;
      if (!this.entries.has(index)) {
        this.entries.set(index, value);
        return index;
      }
    }
    throw new CodedError('ERR_WIREGUARD_NO_INDEX', `no free index after ${MAX_DRAWS} random draws`);
  }

  /** What `index` names, if it is live. */
  get(index: number): V | undefined {
    return this.entries.get(index >>> 0);
  }

  /** Point a live index at another value (a handshake's index becoming its keypair's). */
  update(index: number, value: V): void {
    if (!this.entries.has(index >>> 0)) throw new CodedError('ERR_WIREGUARD_NO_INDEX', `index ${index} is not live`);
    this.entries.set(index >>> 0, value);
  }

  /** Free `index` (no effect when it is not live). */
  release(index: number): void {
    this.entries.delete(index >>> 0);
  }

  /** Free every live index whose value matches `pred` (a scan: for rare events). */
  releaseIf(pred: (value: V) => boolean): void {
    for (const [index, value] of this.entries) if (pred(value)) this.entries.delete(index);
  }

  /** How many indices are live. */
  get size(): number {
    return this.entries.size;
  }
}
