/**
 * The receiving half of the node:dgram layer's Socket: one batch of the
 * socket underneath becomes one 'message' per datagram, each with its own
 * Buffer (the listener may keep it) and a fresh rinfo, as node:dgram's.
 */
import type { EventEmitter } from 'node:events';
import { withZone } from '../core/address.js';
import { M_ADDR, M_FAMILY, M_LEN, M_OFF, M_PORT, M_SCOPE, M_WORDS } from '../core/layout.js';
import type { RecvBatch } from '../udp/batch.js';

/** Sender of a datagram, as node:dgram reports it. */
export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}

function rethrow(err: unknown): never {
  throw err;
}

export class Receiver {
  // Last sender, to reuse its address string (no formatting per message).
  #family = -1;
  #a0 = 0;
  #a1 = 0;
  #a2 = 0;
  #a3 = 0;
  #scope = 0;
  #address = '';

  /**
   * Emit the batch's datagrams on `socket` until `closed()`. A throwing
   * listener is reported like node:dgram's (uncaught, on a tick), and the
   * rest of the batch is still delivered.
   */
  deliver(batch: RecvBatch, socket: EventEmitter, closed: () => boolean): void {
    const n = batch.length;
    const meta = batch.meta;
    const bytes = batch.bytes;
    let i = 0;
    while (i < n && !closed()) {
      try {
        for (; i < n && !closed(); i++) {
          const b = i * M_WORDS;
          const off = meta[b + M_OFF] ?? 0;
          const len = meta[b + M_LEN] ?? 0;
          const msg = Buffer.allocUnsafe(len);
          msg.set(bytes.subarray(off, off + len));
          const family = meta[b + M_FAMILY] ?? 0;
          this.#sender(batch, i, b, family);
          const rinfo: RemoteInfo = {
            address: this.#address,
            family: family === 4 ? 'IPv4' : 'IPv6',
            port: meta[b + M_PORT] ?? 0,
            size: len,
          };
          socket.emit('message', msg, rinfo);
        }
      } catch (err) {
        i++;
        process.nextTick(rethrow, err);
      }
    }
  }

  /** The sender's address text; formatted only when the sender changes. */
  #sender(batch: RecvBatch, i: number, b: number, family: number): void {
    const meta = batch.meta;
    const a0 = meta[b + M_ADDR] ?? 0;
    const a1 = meta[b + M_ADDR + 1] ?? 0;
    const a2 = meta[b + M_ADDR + 2] ?? 0;
    const a3 = meta[b + M_ADDR + 3] ?? 0;
    const scope = meta[b + M_SCOPE] ?? 0;
    if (family === this.#family && a0 === this.#a0 && a1 === this.#a1 && a2 === this.#a2 && a3 === this.#a3 && scope === this.#scope) {
      return;
    }
    // Link-local senders keep their %zone, as in node:dgram.
    this.#address = withZone(batch.address(i), family, scope);
    this.#family = family;
    this.#a0 = a0;
    this.#a1 = a1;
    this.#a2 = a2;
    this.#a3 = a3;
    this.#scope = scope;
  }
}
