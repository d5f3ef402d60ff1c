/**
 * The send side of a socket's shared memory: a ring of send descriptors
 * and a byte ring for payloads (src/native/core/dring.h). JS pushes
 * (copying the payload into the byte ring and writing one descriptor);
 * native takes descriptors on flush and reports a completion frontier (in
 * the ready entries, or asked for when the ring is full) plus a result per
 * descriptor. Memory is bounded: when either ring is full, push fails and
 * the socket emits 'drain' once space returns.
 *
 * The queue trusts its own counters: a frontier past what JS pushed (the
 * send tail in shared memory was tampered with) is refused, and at close
 * every callback not yet called is called once (failRest).
 */
import { C_STAIL, C_SWANT, M_ADDR, M_FAMILY, M_FLAGS, M_LEN, M_OFF, M_PORT, M_SCOPE, M_WORDS } from './layout.js';

export type SendCallback = (error: Error | null, bytes: number) => void;

/**
 * A window of the ring lent to native code (SendQueue.window()):
 * descriptors from sequence `seq`, at most `slots`, payloads packed from
 * absolute offset `at`, at most `bytes`.
 */
export interface SendWindow {
  seq: number;
  slots: number;
  at: number;
  bytes: number;
}

/** What the queue reports when descriptors complete. */
export interface SendSink {
  /** A send finished; err is -errno or 0. cb is the caller's callback. */
  sent(result: number, cb: SendCallback | undefined): void;
}

/** Linux errno values end at 4095. */
const MAX_ERRNO = 4095;
const EPROTO = -71;

/**
 * A result word native wrote in shared memory: bytes (never more than the
 * payload) or -errno. A value no native code writes was overwritten:
 * EPROTO, a coded error, instead.
 */
function checkResult(result: number, len: number): number {
  return result <= len && result >= -MAX_ERRNO ? result : EPROTO;
}

export class SendQueue {
  private desc: Int32Array;
  private ctrl: Int32Array;
  private readonly mask: number;
  private readonly slots: number;
  private readonly dataStart: number;
  private readonly dataLen: number;
  /** Relative end of each descriptor's payload, to free it in order. */
  private readonly slotEnd: Int32Array;
  /** Length of each descriptor's payload: a result word is never more. */
  private readonly slotLen: Int32Array;
  private readonly cbs: (SendCallback | undefined)[];
  private tail = 0; // descriptors pushed (wrapping u32 counter)
  private done = 0; // descriptors whose completion JS has processed
  private head = 0; // first payload byte still in use
  private dtail = 0; // next free payload byte
  private waitingCbs = 0;
  /** Set when a push failed: emit 'drain' once space returns. */
  wantDrain = false;

  private readonly sink: SendSink;
  /** Native's frontier now (a native call), for a full ring between drains. */
  private readonly frontierNow: () => number;
  /** Set when native reported a frontier JS cannot believe. */
  corrupt = false;

  constructor(
    sink: SendSink,
    desc: Int32Array,
    ctrl: Int32Array,
    slots: number,
    dataStart: number,
    dataLen: number,
    frontierNow: () => number,
  ) {
    this.sink = sink;
    this.frontierNow = frontierNow;
    this.desc = desc;
    this.ctrl = ctrl;
    this.slots = slots;
    this.mask = slots - 1;
    this.dataStart = dataStart;
    this.dataLen = dataLen;
    this.slotEnd = new Int32Array(slots);
    this.slotLen = new Int32Array(slots);
    this.cbs = new Array<SendCallback | undefined>(slots).fill(undefined);
  }

  /** New views after the memory was remapped (shared-memory.ts). */
  remap(desc: Int32Array, ctrl: Int32Array): void {
    this.desc = desc;
    this.ctrl = ctrl;
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
    if (this.pending >= this.slots) this.reap(false, this.frontierNow());
    if (this.pending >= this.slots) return this.full();
    let pos = this.fit(len);
    if (pos < 0 && this.reap(false, this.frontierNow())) pos = this.fit(len);
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

  /**
   * A window for native code to fill (WireGuard's encryption and
   * decryption, forwarders between objects): descriptors from sequence
   * `seq` (the next JS would push), at most `slots` of them, and payload
   * bytes packed from absolute offset `at`, at most `bytes`. The largest
   * contiguous room up to the asked sizes; null when there is none (then
   * 'drain' follows, as for reserve()). Native checks the window against
   * its own counters before writing; commitWindow() accounts what it used.
   */
  window(slots: number, bytes: number): SendWindow | null {
    // Less room than asked: take the completions native has (a producer
    // that only ever fills windows would otherwise never free any).
    if (this.slots - this.pending < slots) this.reap(false, this.frontierNow());
    let room = this.room(bytes);
    if (room.len < bytes && this.reap(false, this.frontierNow())) room = this.room(bytes);
    const n = Math.min(slots, this.slots - this.pending);
    if (n <= 0 || room.len === 0) {
      this.full();
      return null;
    }
    return { seq: this.tail, slots: n, at: this.dataStart + room.pos, bytes: room.len };
  }

  /** The largest contiguous free payload room, up to max bytes (one byte stays unused). */
  private room(max: number): { pos: number; len: number } {
    if (this.pending === 0) this.head = this.dtail = 0;
    const { head, dtail } = this;
    if (dtail >= head) {
      const end = this.dataLen - dtail;
      const front = head - 1; // wrapping to 0 skips the tail gap
      if (end >= front || end >= max) return { pos: dtail, len: Math.max(0, Math.min(end, max)) };
      return { pos: 0, len: Math.max(0, Math.min(front, max)) };
    }
    return { pos: dtail, len: Math.max(0, Math.min(head - dtail - 1, max)) };
  }

  /**
   * Native filled n descriptors of the window w (payloads within it, in
   * order): account them as pushed. Returns false, accounting nothing
   * past the first, if a descriptor lies outside the window (the shared
   * memory was overwritten).
   */
  commitWindow(w: SendWindow, n: number): boolean {
    if (!(n >= 0 && n <= w.slots) || w.seq !== this.tail) return false;
    let last = w.at;
    for (let k = 0; k < n; k++) {
      const slot = this.tail & this.mask;
      const d = slot * M_WORDS;
      const off = this.desc[d + M_OFF] ?? -1;
      const len = this.desc[d + M_LEN] ?? -1;
      if (!(off >= last && len >= 0 && off + len <= w.at + w.bytes)) return false;
      last = off + len;
      this.dtail = off - this.dataStart + len;
      this.slotEnd[slot] = this.dtail;
      this.slotLen[slot] = len;
      this.tail = (this.tail + 1) >>> 0;
      this.ctrl[C_STAIL] = this.tail | 0;
    }
    return true;
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
    this.slotLen[slot] = len;
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
   * Returns true if anything was processed. A frontier beyond what JS
   * pushed sets `corrupt` and is not followed.
   */
  reap(deliver: boolean, frontier: number): boolean {
    const ahead = (frontier - this.done) >>> 0;
    if (ahead > this.pending) {
      this.corrupt = true;
      return false;
    }
    const start = this.done;
    const desc = this.desc;
    // Bounded by `ahead` <= pending <= slots: never by a word JS can write.
    for (let k = 0; k < ahead; k++) {
      const slot = this.done & this.mask;
      const result = checkResult(desc[slot * M_WORDS + M_FLAGS] ?? 0, this.slotLen[slot] ?? 0);
      const cb = this.cbs[slot];
      if (!deliver && (cb !== undefined || result < 0)) break;
      this.retire(slot);
      if (cb !== undefined || result < 0) this.sink.sent(result, cb);
    }
    if (this.waitingCbs === 0 && !this.wantDrain) this.ctrl[C_SWANT] = 0;
    return this.done !== start;
  }

  /** Free descriptor slot (the oldest) and its payload space. */
  private retire(slot: number): void {
    if (this.cbs[slot] !== undefined) {
      this.cbs[slot] = undefined;
      this.waitingCbs--;
    }
    this.head = this.slotEnd[slot] ?? 0;
    this.done = (this.done + 1) >>> 0;
  }

  /**
   * After close: every descriptor native never finished (it refused the
   * tail, or was told nothing) gets `result` (-errno) once, so that every
   * accepted send's callback is called exactly once.
   */
  failRest(result: number): void {
    for (let n = this.pending; n > 0; n--) {
      const slot = this.done & this.mask;
      const cb = this.cbs[slot];
      this.retire(slot);
      if (cb !== undefined) this.sink.sent(result, cb);
    }
  }

  /** Called after reap: true once if a blocked sender may try again. */
  takeDrain(): boolean {
    if (!this.wantDrain || this.pending >= this.slots) return false;
    this.wantDrain = false;
    if (this.waitingCbs === 0) this.ctrl[C_SWANT] = 0;
    return true;
  }
}
