/**
 * Time for the WireGuard state machines: a monotonic clock and one-shot
 * timers behind one small interface, so tests drive them by hand
 * (ManualClock) instead of waiting.
 */

/** Opaque handle of a scheduled callback. */
export type TimerHandle = unknown;

/** A monotonic clock in milliseconds with one-shot timers. */
export interface TimerClock {
  /** Monotonic milliseconds (any origin). */
  now(): number;
  /** Call `fn` once, `ms` milliseconds from now. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancel a callback that has not run yet (no effect otherwise). */
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The process's clock: performance.now() and unref'd node timers (a
 * WireGuard peer's timers alone do not keep the process alive; its sockets
 * do).
 */
export const systemClock: TimerClock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

interface Scheduled {
  due: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to. advance() runs every callback that
 * falls due on the way, in order of due time (then of scheduling), with
 * now() reading each one's due time while it runs, so callbacks that
 * reschedule themselves behave as with real time.
 */
export class ManualClock implements TimerClock {
  private time: number;
  private seq = 0;
  private readonly scheduled = new Map<number, Scheduled>();

  /** Bound on callbacks run by one advance(): a callback rescheduling at 0 ms would loop forever. */
  static readonly MAX_CALLBACKS_PER_ADVANCE = 1_000_000;

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.scheduled.set(id, { due: this.time + Math.max(0, ms), seq: id, fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.scheduled.delete(handle as number);
  }

  /** How many callbacks are scheduled. */
  get pending(): number {
    return this.scheduled.size;
  }

  /** Due times of the scheduled callbacks, soonest first. */
  dueTimes(): number[] {
    return [...this.scheduled.values()].map((s) => s.due).sort((a, b) => a - b);
  }

  /** Move time forward by `ms`, running what falls due. */
  advance(ms: number): void {
    this.advanceTo(this.time + ms);
  }

  /** Move time forward to `target`, running what falls due (never backwards). */
  advanceTo(target: number): void {
    for (let n = 0; ; n++) {
      if (n >= ManualClock.MAX_CALLBACKS_PER_ADVANCE) throw new Error('ManualClock: too many callbacks in one advance');
      let next: [number, Scheduled] | undefined;
      for (const entry of this.scheduled) {
        const s = entry[1];
        if (s.due <= target && (!next || s.due < next[1].due || (s.due === next[1].due && s.seq < next[1].seq))) next = entry;
      }
      if (!next) break;
      this.scheduled.delete(next[0]);
      this.time = Math.max(this.time, next[1].due);
      next[1].fn();
    }
    this.time = Math.max(this.time, target);
  }
}
