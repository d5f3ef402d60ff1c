/**
 * The send side of a socket's shared memory: a ring of send descriptors
 * and a byte ring for payloads. JS pushes (copying the payload into the
 * byte ring and writing one descriptor); native takes descriptors on flush
 * and reports a completion frontier (ctrl[C_SDONE]) plus a result per
 * descriptor. Memory is bounded: when either ring is full, push fails and
 * the socket emits 'drain' once space returns.
 */
import type { SystemError } from './errors.js';
import { C_SDONE, C_STAIL, C_SWANT, M_ADDR, M_FAMILY, M_FLAGS, M_LEN, M_OFF, M_PORT, M_SCOPE, M_WORDS } from './layout.js';

/**
 * A send's (or write's) completion: `error` is null, or a Node-style system
 * error (`code` such as 'ECANCELED', negative `errno`, `syscall`), so
 * `err.code` needs no cast; `bytes` is what the kernel took (0 on error).
 */
export type SendCallback = (error: SystemError | null, bytes: number) => void;

/** What the queue reports when descriptors complete. */
export interface SendSink {
  /** A send finished; err is -errno or 0. cb is the caller's callback. */
  sent(result: number, cb: SendCallback | undefined): void;
}

export class SendQueue {
  private readonly desc: Int32Array;
  private readonly ctrl: Int32Array;
  private readonly mask: number;
  private readonly slots: number;
  private readonly dataStart: number;
  private readonly dataLen: number;
  /** Relative end of each descriptor's payload, to free it in order. */
  private readonly slotEnd: Int32Array;
  private readonly cbs: (SendCallback | undefined)[];
  private tail = 0; // descriptors pushed (wrapping u32 counter)
  private done = 0; // descriptors whose completion JS has processed
  private head = 0; // first payload byte still in use
  private dtail = 0; // next free payload byte
  private waitingCbs = 0;
  /** Set when a push failed: emit 'drain' once space returns. */
  wantDrain = false;

  private readonly sink: SendSink;

  constructor(
    sink: SendSink,
    desc: Int32Array,
    ctrl: Int32Array,
    slots: number,
    dataStart: number,
    dataLen: number,
  ) {
    this.sink = sink;
    this.desc = desc;
    this.ctrl = ctrl;
    this.slots = slots;
    this.mask = slots - 1;
    this.dataStart = dataStart;
    this.dataLen = dataLen;
    this.slotEnd = new Int32Array(slots);
    this.cbs = new Array<SendCallback | undefined>(slots).fill(undefined);
  }

  /** Descriptors pushed but not yet completed and processed. */
  get pending(): number {
    return (this.tail - this.done) >>> 0;
  }

  /** Largest payload that can ever fit. */
  get capacityBytes(): number {
    return this.dataLen - 1;
  }

  /**
   * Reserve room for a payload of len bytes and a descriptor. Returns the
   * absolute offset in `bytes` to write the payload at, or -1 when full.
   */
  reserve(len: number): number {
    if (this.pending >= this.slots) this.reap(false);
    if (this.pending >= this.slots) return this.full();
    let pos = this.fit(len);
    if (pos < 0 && this.reap(false)) pos = this.fit(len);
    return pos < 0 ? this.full() : this.dataStart + pos;
  }

  private fit(len: number): number {
    if (this.pending === 0) this.head = this.dtail = 0; // empty: start over
    const { head, dtail } = this;
    // Keep one byte unused so that head === dtail always means empty.
    if (dtail >= head) {
      if (this.dataLen - dtail >= len) return dtail;
      if (head > len) return 0; // wrap; the tail gap is skipped
      return -1;
    }
    return head - dtail > len ? dtail : -1;
  }

  private full(): number {
    this.wantDrain = true;
    this.ctrl[C_SWANT] = 1;
    return -1;
  }

  /** Commit a payload written at `at` (from reserve) with its destination. */
  push(at: number, len: number, family: number, port: number, scope: number, addr: Int32Array | null, addrIndex: number, cb: SendCallback | undefined): void {
    const slot = this.tail & this.mask;
    const d = slot * M_WORDS;
    const desc = this.desc;
    desc[d + M_OFF] = at;
    desc[d + M_LEN] = len;
    desc[d + M_FLAGS] = 0;
    desc[d + M_PORT] = port;
    desc[d + M_FAMILY] = family;
    desc[d + M_SCOPE] = scope;
    if (addr !== null) {
      desc[d + M_ADDR] = addr[addrIndex] ?? 0;
      desc[d + M_ADDR + 1] = addr[addrIndex + 1] ?? 0;
      desc[d + M_ADDR + 2] = addr[addrIndex + 2] ?? 0;
      desc[d + M_ADDR + 3] = addr[addrIndex + 3] ?? 0;
    }
    const rel = at - this.dataStart;
    this.dtail = rel + len;
    this.slotEnd[slot] = this.dtail;
    if (cb !== undefined) {
      this.cbs[slot] = cb;
      this.waitingCbs++;
      this.ctrl[C_SWANT] = 1;
    }
    this.tail = (this.tail + 1) >>> 0;
    this.ctrl[C_STAIL] = this.tail | 0;
  }

  /**
   * Process completions up to native's frontier: free payload space and
   * hand results to the sink. With deliver false (inside a user's send
   * call) it stops at the first completion that needs the user's code (a
   * callback or an error), so no user code ever runs inside send(); native
   * reports those with an event and they are delivered from there.
   * Returns true if anything was processed.
   */
  reap(deliver = true): boolean {
    const frontier = (this.ctrl[C_SDONE] ?? 0) >>> 0;
    const start = this.done;
    const desc = this.desc;
    while (this.done !== frontier) {
      const slot = this.done & this.mask;
      const result = desc[slot * M_WORDS + M_FLAGS] ?? 0;
      const cb = this.cbs[slot];
      if (!deliver && (cb !== undefined || result < 0)) break;
      if (cb !== undefined) {
        this.cbs[slot] = undefined;
        this.waitingCbs--;
      }
      this.head = this.slotEnd[slot] ?? 0;
      this.done = (this.done + 1) >>> 0;
      if (cb !== undefined || result < 0) this.sink.sent(result, cb);
    }
    if (this.waitingCbs === 0 && !this.wantDrain) this.ctrl[C_SWANT] = 0;
    return this.done !== start;
  }

  /** Called after reap: true once if a blocked sender may try again. */
  takeDrain(): boolean {
    if (!this.wantDrain || this.pending >= this.slots) return false;
    this.wantDrain = false;
    if (this.waitingCbs === 0) this.ctrl[C_SWANT] = 0;
    return true;
  }
}
