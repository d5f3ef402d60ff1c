/**
 * The JS half of the per-thread reactor (src/native/reactor.c): one native
 * call into JS per drain, which walks the ready list and lets each object
 * handle its events. Also batches sends made outside a drain: every socket
 * that queued sends during a JS turn is flushed once, in a microtask, so all
 * of them reach the kernel in one io_uring_enter per socket flush.
 */
import type { NativeBinding } from './binding.js';
import { E_EVENTS, E_ID, E_RCOUNT, E_RERR, E_SDONE, E_WORDS } from './layout.js';

/** What a native object (socket, device) does with its events. */
export interface ReactorClient {
  /**
   * Handle events of one drain (layout.ts EV_*): rcount packets in the
   * receive batch, the send frontier sdone, and with EV_ERROR the error
   * rerr (-errno). All native's own values (reactor.h ready entries).
   */
  onEvents(events: number, rcount: number, sdone: number, rerr: number): void;
  /** Queue SQEs for what the client pushed (sends, writes). */
  flushNative(): void;
}

export class Reactor {
  readonly binding: NativeBinding;
  private readonly clients: (ReactorClient | undefined)[] = [];
  private readonly dirty: ReactorClient[] = [];
  private flushQueued = false;
  /** The client whose events are being handled right now. */
  current: ReactorClient | undefined;

  /** Why this thread has no ring (-errno of io_uring_setup), or 0. */
  readonly ringError: number;

  constructor(binding: NativeBinding) {
    this.binding = binding;
    const rc = binding.init((ready, count) => this.dispatch(ready, count));
    // A refused ring still leaves a reactor for the poll backend.
    this.ringError = rc < 0 ? rc : 0;
  }

  register(id: number, client: ReactorClient): void {
    this.clients[id] = client;
  }

  unregister(id: number): void {
    this.clients[id] = undefined;
  }

  /** Ask for a flush of this client at the end of the current JS turn. */
  scheduleFlush(client: ReactorClient): void {
    // A loop sending many packets on one object asks once, not per packet
    // (each flush is a native call). Others may still repeat; that is safe.
    const dirty = this.dirty;
    if (dirty[dirty.length - 1] !== client) dirty.push(client);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(this.flushDirty);
  }

  private readonly flushDirty = (): void => {
    this.flushQueued = false;
    const list = this.dirty;
    // A client may appear more than once; its flush is idempotent.
    for (let i = 0; i < list.length; i++) list[i]?.flushNative();
    list.length = 0;
    this.binding.submit(); // one io_uring_enter for every socket of the turn
  };

  private dispatch(entries: Int32Array, count: number): void {
    let firstError: unknown;
    let failed = false;
    // count comes from native; still never read past the list.
    const n = Math.min(count, Math.floor(entries.length / E_WORDS));
    for (let i = 0; i < n; i++) {
      const e = i * E_WORDS;
      const client = this.clients[entries[e + E_ID] ?? 0];
      if (client === undefined) continue;
      this.current = client;
      try {
        client.onEvents(entries[e + E_EVENTS]!, entries[e + E_RCOUNT]!, entries[e + E_SDONE]!, entries[e + E_RERR]!);
      } catch (err) {
        // Finish the drain first so native state stays consistent, then
        // report the user's error the way Node reports a throwing callback.
        if (!failed) firstError = err;
        failed = true;
      }
    }
    this.current = undefined;
    if (failed) {
      process.nextTick(() => {
        throw firstError;
      });
    }
  }
}

const reactors = new WeakMap<NativeBinding, Reactor>();

/** This thread's reactor (each worker thread gets its own ring). */
export function reactorFor(binding: NativeBinding): Reactor {
  let r = reactors.get(binding);
  if (!r) {
    r = new Reactor(binding);
    reactors.set(binding, r);
  }
  return r;
}
