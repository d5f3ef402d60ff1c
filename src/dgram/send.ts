/**
 * The sending half of the node:dgram layer's Socket (socket.ts parses the
 * arguments and resolves the address; this hands datagrams to the batch
 * socket underneath). Payloads are copied into its send ring; when the
 * ring is full they wait in a JS queue (unbounded, like libuv's) and go out
 * on the next 'drain', so no accepted send is lost. Send callbacks run in
 * an async resource made in the send's context, as node:dgram's do.
 */
import { AsyncResource } from 'node:async_hooks';
import type { UdpSocket } from '../udp/socket.js';
import { hostPortError } from './errors.js';
import { errnoOf } from './validate.js';

const EINVAL = -22;
const EDESTADDRREQ = -89;

/**
 * node:dgram's send callback. `error` is a system error (code, errno,
 * syscall; for a host name that does not resolve, dns.lookup's error), so
 * `err.code` needs no cast.
 */
export type SendCallback = (error: NodeJS.ErrnoException | null, bytes?: number) => void;
type Done = (err: Error | null, bytes: number) => void;

/**
 * node:dgram's test switch --test-udp-no-try-send: every send is queued in
 * libuv (so counted by getSendQueueSize) and gets a UDPSENDWRAP; without
 * it sends are written at once and call back from a tick (a TickObject).
 */
const NO_TRY_SEND = process.execArgv.includes('--test-udp-no-try-send');
const SEND_RESOURCE = NO_TRY_SEND ? 'UDPSENDWRAP' : 'TickObject';

interface Pending {
  data: Uint8Array;
  port: number | undefined;
  ip: string | undefined;
  cb: Done | undefined;
}

/** A send callback's async resource, made where node:dgram makes its SendWrap. */
export interface SendReq {
  res: AsyncResource | undefined;
}

/** What the sender needs of its socket. */
export interface SendOwner {
  inner(): UdpSocket | undefined;
  closed(): boolean;
  /** The socket's async id: send resources are its children. */
  asyncId(): number;
}

/**
 * When sends reach the socket underneath (see Sender#pushed): node:dgram
 * hands an unconnected send to the kernel on the next tick (after its
 * lookup), so a close() in the same tick drops it and a close() after that
 * tick does not. Ours wait in the ring until the end of the JS turn, which
 * is after the ticks; so the sends of a tick are given to the socket
 * underneath before the next one runs: at the end of the batch whose
 * 'message' listeners made them, else from a tick of their own.
 */

export class Sender {
  readonly #owner: SendOwner;
  /** Sends the send ring could not take yet, oldest first. */
  #backlog: (Pending | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  /** --test-udp-no-try-send: sends in the ring not yet done, which node:dgram would count as queued. */
  #ringCount = 0;
  #ringBytes = 0;
  #tickArmed = false;
  /** Delivering a batch: its sends are handed over when it ends (endBatch). */
  #inBatch = false;
  #batchSent = false;

  constructor(owner: SendOwner) {
    this.#owner = owner;
  }

  /**
   * The async resource a send's callback runs in, child of the socket's,
   * made in the send's context. `later`: on the next tick, where
   * node:dgram makes it after its lookup (which the fast path skips).
   */
  req(later: boolean): SendReq {
    const req: SendReq = { res: undefined };
    const make = (): void => {
      req.res = new AsyncResource(SEND_RESOURCE, { triggerAsyncId: this.#owner.asyncId() });
    };
    if (later) process.nextTick(make);
    else make();
    return req;
  }

  /**
   * Send one datagram (node:dgram's doSend): `data`, or the chunks of
   * `list`, to ip:port (both undefined: the connected peer); errors name
   * errAddress and errPort as node:dgram's do; `cb` runs in `req`.
   */
  send(
    data: Uint8Array | undefined,
    list: Uint8Array[] | undefined,
    ip: string | undefined,
    port: number | undefined,
    errAddress: string | undefined,
    errPort: unknown,
    req: SendReq | undefined,
    cb: SendCallback | undefined,
  ): void {
    const inner = this.#owner.inner();
    if (this.#owner.closed() || inner === undefined) return; // node:dgram drops it silently too
    let payload: Uint8Array;
    if (data !== undefined) payload = data;
    else if (list !== undefined && list.length === 1) payload = list[0] as Uint8Array;
    else payload = Buffer.concat(list ?? []);
    if (ip !== undefined && port === 0) {
      // A port of '0' passes node:dgram's check; libuv then refuses the send.
      if (cb) process.nextTick(cb, hostPortError(EDESTADDRREQ, 'send', errAddress, errPort));
      return;
    }
    let done = req === undefined || cb === undefined ? undefined : this.#done(req, cb, errAddress, errPort);
    if (NO_TRY_SEND) done = this.#counted(payload.byteLength, done);
    if (this.#head < this.#backlog.length || !inner.send(payload, port, ip, done)) {
      // The send ring is full: keep a copy until 'drain' (the caller may reuse its buffer).
      const fresh = data === undefined && list !== undefined && list.length !== 1; // a concat of ours
      const copy = fresh ? payload : new Uint8Array(payload); // (Buffer#slice would not copy)
      this.#backlog.push({ data: copy, port, ip, cb: done });
      this.#bytes += copy.byteLength;
    } else {
      this.#pushed();
    }
  }

  /** A send is in the ring: arrange its handover (see SendOwner's note). */
  #pushed(): void {
    if (this.#inBatch) this.#batchSent = true;
    else if (!this.#tickArmed) {
      this.#tickArmed = true;
      process.nextTick(this.#tickPassed);
    }
  }

  readonly #tickPassed = (): void => {
    this.#tickArmed = false;
    if (!this.#owner.closed()) this.#owner.inner()?.flushNative();
  };

  /** The socket starts delivering a batch of 'message' events. */
  beginBatch(): void {
    this.#inBatch = true;
  }

  /** The batch is delivered: hand over what its listeners sent. */
  endBatch(): void {
    this.#inBatch = false;
    if (!this.#batchSent) return;
    this.#batchSent = false;
    if (!this.#owner.closed()) this.#owner.inner()?.flushNative();
  }

  /** A send's completion: the user's callback in the send's async resource. */
  #done(req: SendReq, cb: SendCallback, errAddress: string | undefined, errPort: unknown): Done {
    return (err, bytes) => {
      const res = req.res;
      if (err !== null && this.#owner.closed() && (err as Error & { code?: string }).code === 'ECANCELED') {
        res?.emitDestroy(); // dropped by close(), as node:dgram drops it
        return;
      }
      // Failures pass the error alone, as node:dgram's do.
      const args = err === null ? [null, bytes] : [hostPortError(errnoOf(err) ?? EINVAL, 'send', errAddress, errPort)];
      if (res === undefined) {
        cb(...(args as [Error | null, number]));
        return;
      }
      try {
        res.runInAsyncScope(cb, res, ...args);
      } finally {
        res.emitDestroy();
      }
    };
  }

  /** --test-udp-no-try-send: count a send until it is done. */
  #counted(bytes: number, done: Done | undefined): Done {
    this.#ringCount++;
    this.#ringBytes += bytes;
    return (err, n) => {
      this.#ringCount--;
      this.#ringBytes -= bytes;
      done?.(err, n);
    };
  }

  /** The ring has room again: send what waited, oldest first. */
  readonly onDrain = (): void => {
    const inner = this.#owner.inner();
    if (inner === undefined || this.#owner.closed()) return;
    const q = this.#backlog;
    while (this.#head < q.length) {
      const p = q[this.#head] as Pending;
      let accepted: boolean;
      try {
        accepted = inner.send(p.data, p.port, p.ip, p.cb);
      } catch (e) {
        // E.g. queued for a connected peer and disconnected since.
        accepted = true;
        if (p.cb) process.nextTick(p.cb, e as Error, 0);
      }
      if (!accepted) return; // the next 'drain' goes on
      q[this.#head++] = undefined;
      this.#bytes -= p.data.byteLength;
    }
    this.clear();
  };

  /** Drop what waits (close()). */
  clear(): void {
    this.#backlog = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  /** Bytes waiting to be sent (node:dgram's getSendQueueSize). */
  get queueSize(): number {
    return this.#bytes + this.#ringBytes;
  }

  /** Datagrams waiting to be sent (node:dgram's getSendQueueCount). */
  get queueCount(): number {
    return this.#backlog.length - this.#head + this.#ringCount;
  }
}
