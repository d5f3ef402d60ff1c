/**
 * Files over io_uring, and the native-object core that TUN devices share.
 *
 * `FileCore` is the JS half of one src/native/file.c object: its shared
 * memory (control words, counters, read entries, the request ring), its
 * place in the reactor, and the close contract. `RingFile` (from
 * `openFile()`) reads and writes at an offset through the ring with
 * promises; requests made during one JS turn reach the kernel in one
 * io_uring_enter. Where io_uring is refused (or `backend: 'poll'`), the same
 * object runs on the poll backend (src/native/file_poll.c): TUN fds watched
 * with uv_poll and read/written without blocking, regular files read and
 * written with pread/pwrite at the end of the turn, on this thread. Nothing
 * here uses libuv's fs thread pool (a request stuck there would hold up
 * process exit); opening uses fs.openSync, a plain synchronous syscall on
 * this thread.
 */
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { selectFileBackend, type FileBackendChoice, type FileBackendName } from '../core/backend.js';
import { CodedError, errnoException, invalidArgType, invalidArgValue, outOfRange, protocolError, type SystemError } from '../core/errors.js';
import * as F from './binding.js';
import * as L from '../core/layout.js';
import type { Reactor, ReactorClient } from '../core/reactor.js';
import { SendQueue, type SendCallback, type SendSink, type SendWindow } from '../core/sendqueue.js';
import { SharedMemory } from '../core/shared-memory.js';

const ECANCELED = -125;
const EBADF = -9;
const ESPIPE = -29;

/** Where a TUN device or file runs: backend.ts decides, once per object. */
export interface FileSite {
  backend: FileBackendName;
  reactor: Reactor;
  native: F.FileBinding;
}

/** This thread's reactor and the backend for a new TUN device or file. */
export function fileSite(backend: FileBackendChoice | undefined, what: string): FileSite {
  const sel = selectFileBackend({ backend }, what);
  return { backend: sel.backend, reactor: sel.reactor, native: F.asFileBinding(sel.reactor.binding) };
}

export interface CoreConfig {
  kind: number;
  readBuffers: number;
  readSlot: number;
  queueSize: number;
  bufferBytes: number;
  multishot: boolean;
  packetInfo: boolean;
  maxPacket: number;
  /** TUN with IFF_VNET_HDR: virtio headers on the fd (file.h). */
  vnet?: { gro: number; splitBytes: number; splitEntries: number };
}

/** What the owner of a core (a TUN device, a file) does with its events. */
export interface CoreOwner {
  /** `count` packets are described in core.rmeta. */
  onPackets(count: number): void;
  /** A read failed (-errno), or (EPROTO from protocolError) shared memory was overwritten. */
  onReadError(negErrno: number): void;
  /** A request finished: bytes, or -errno. */
  onDone(result: number, cb: SendCallback | undefined): void;
  onDrain(): void;
  onClosed(): void;
}

export type CoreState = 'open' | 'closing' | 'closed';

/** @internal One native file object (file.h) and its shared memory. */
export class FileCore implements ReactorClient, SendSink {
  readonly native: F.FileBinding;
  readonly reactor: Reactor;
  readonly id: number;
  /** The addon's memory for this object; views remade after a detach. */
  readonly memory: SharedMemory;
  bytes!: Uint8Array;
  ctrl!: Int32Array;
  statsView!: Float64Array;
  rmeta!: Int32Array;
  private qdesc!: Int32Array;
  readonly queue: SendQueue;
  private readonly rmetaEntries: number;
  state: CoreState = 'open';
  private readonly owner: CoreOwner;

  /** Takes fd: it is closed with the object, or now if creation fails. */
  constructor(site: FileSite, owner: CoreOwner, fd: number, c: CoreConfig) {
    const { reactor, native } = site;
    this.reactor = reactor;
    this.native = native;
    this.owner = owner;
    const v = c.vnet;
    const layoutArgs: F.FileLayoutArgs = [
      c.kind,
      c.readBuffers,
      c.readSlot,
      c.queueSize,
      c.bufferBytes,
      v ? 1 : 0,
      v?.gro ?? 0,
      v?.splitBytes ?? 0,
      v?.splitEntries ?? 0,
    ];
    const lay = native.fileLayout(...layoutArgs);
    if (typeof lay === 'number') {
      closeSync(fd);
      throw errnoException(lay, 'io_uring_register');
    }
    const layout = F.toFileLayout(lay);
    const id = native.fileCreate(
      fd,
      ...layoutArgs,
      c.multishot ? 1 : 0,
      c.packetInfo ? 1 : 0,
      c.maxPacket,
      F.NATIVE_FILE_BACKEND[site.backend],
    );
    if (id < 0) throw createError(id, site.backend);
    this.id = id;
    this.rmetaEntries = layout.rmetaEntries;
    try {
      this.memory = new SharedMemory(
        () => native.fileMem(id),
        (buf) => this.mapViews(buf, layout, c),
      );
    } catch (err) {
      native.fileClose(id);
      throw err;
    }
    this.queue = new SendQueue(this, this.qdesc, this.ctrl, c.queueSize, layout.qdata, c.bufferBytes, () => native.fileSdone(id));
    reactor.register(id, this);
  }

  /** Typed arrays over the shared memory (again after a detach). */
  private mapViews(buf: ArrayBuffer, layout: F.FileLayout, c: CoreConfig): void {
    this.bytes = new Uint8Array(buf);
    this.ctrl = new Int32Array(buf, 0, L.C_WORDS);
    this.statsView = new Float64Array(buf, layout.stats, 16);
    this.rmeta = new Int32Array(buf, layout.rmeta, layout.rmetaEntries * F.R_WORDS);
    this.qdesc = new Int32Array(buf, layout.qdesc, c.queueSize * L.M_WORDS);
    this.queue?.remap(this.qdesc, this.ctrl);
  }

  /** Push a request whose payload is already at `at`; see file.h ION_Q_*. */
  push(at: number, len: number, op: number, position: number, cb: SendCallback | undefined): void {
    let lo = -1;
    let hi = -1;
    if (position >= 0) {
      lo = position % 0x1_0000_0000 | 0;
      hi = Math.floor(position / 0x1_0000_0000);
    }
    // SendQueue writes (family, port, scope) into words 4, 3, 5.
    this.queue.push(at, len, lo, op, hi, null, 0, cb);
    this.scheduleFlush();
  }

  /** Flush at the end of this turn (or right after our own dispatch). */
  scheduleFlush(): void {
    if (this.reactor.current !== this) this.reactor.scheduleFlush(this);
  }

  /** @internal ReactorClient */
  flushNative(): void {
    if (this.state === 'open') this.native.fileFlush(this.id);
  }

  /** A window of the request ring for native code (SendQueue.window()); null when full or not open. */
  window(slots: number, bytes: number): SendWindow | null {
    if (this.state !== 'open') return null;
    this.memory.ensure();
    return this.queue.window(slots, bytes);
  }

  /** Account n descriptors native filled in w and schedule the flush; false (and EPROTO) if outside w. */
  commitWindow(w: SendWindow, n: number): boolean {
    if (this.state !== 'open') return false;
    if (n === 0) return true;
    if (!this.queue.commitWindow(w, n)) {
      this.owner.onReadError(L.EPROTO);
      return false;
    }
    if (this.reactor.current !== this) this.reactor.scheduleFlush(this);
    return true;
  }

  /** @internal SendSink */
  sent(result: number, cb: SendCallback | undefined): void {
    this.owner.onDone(result, cb);
  }

  /** @internal ReactorClient: the events of one drain (native's own values). */
  onEvents(ev: number, rcount: number, sdone: number, rerr: number): void {
    // After EV_CLOSED native has no memory left to give a new view of.
    if (this.state !== 'closed' && !(ev & L.EV_CLOSED)) this.memory.ensure();
    if (ev & L.EV_ERROR && this.state === 'open') this.owner.onReadError(rerr < 0 ? rerr : -5 /* EIO */);
    // Never more entries than the memory holds, whatever the count says.
    if (ev & L.EV_RECV && this.state === 'open') this.owner.onPackets(Math.min(rcount >>> 0, this.rmetaEntries));
    if (ev & (L.EV_SENT | L.EV_CLOSED)) {
      this.queue.reap(true, sdone);
      if (this.queue.corrupt && this.state === 'open') this.owner.onReadError(L.EPROTO);
      if (this.state === 'open' && this.queue.takeDrain()) this.owner.onDrain();
    }
    if (ev & L.EV_CLOSED && this.state !== 'closed') {
      // Requests native never took (a refused tail) fail now: every
      // accepted request's callback is called exactly once.
      this.queue.failRest(ECANCELED);
      this.state = 'closed';
      this.reactor.unregister(this.id);
      this.owner.onClosed();
    }
  }

  start(syscall: string): void {
    const rc = this.native.fileStart(this.id);
    if (rc < 0) throw errnoException(rc, syscall);
  }

  ref(on: boolean): void {
    if (this.state === 'open') this.native.fileRef(this.id, on);
  }

  close(): void {
    this.state = 'closing';
    this.native.fileClose(this.id);
  }

  /** fileInfo: [fd, multishot, vnet, gro] */
  info(): number[] {
    return this.native.fileInfo(this.id);
  }
}

/** Why the native object could not be made (the fd is closed by then). */
function createError(negErrno: number, backend: FileBackendName): Error {
  if (negErrno === ESPIPE && backend === 'poll') {
    // file.c refuses these: a read on them could block this thread.
    return invalidArgValue(
      'file',
      'a pipe, socket or character device',
      "is not supported by the poll backend (io_uring refused, or backend: 'poll'), which reads and writes on this thread: only regular files and block devices",
    );
  }
  return errnoException(negErrno, backend === 'poll' ? 'open' : 'io_uring_register');
}

/** Power-of-two option check shared by TUN and file options. */
export function powerOfTwo(name: string, value: unknown, def: number, max: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < 1 || value > max || (value & (value - 1)) !== 0) {
    throw invalidArgValue(name, value, `must be a power of two from 1 to ${max}`);
  }
  return value;
}

export function intInRange(name: string, value: unknown, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) throw outOfRange(name, `>= ${min} and <= ${max}`, value);
  return value;
}

// ---------------------------------------------------------------- files

export interface OpenFileOptions {
  /** Open flags as for fs.openSync: 'r' (default), 'r+', 'w', 'a'... or a number. */
  flags?: string | number;
  /** Mode for a created file (default 0o666, before the umask). */
  mode?: number;
  /** Requests queued or in flight at most (power of two, default 64). */
  queueSize?: number;
  /** Bytes of request space: the largest single read or write (default 1 MiB). */
  bufferBytes?: number;
  /**
   * 'auto' (default): io_uring where usable, else 'poll' (pread/pwrite on
   * this thread at the end of each turn; never libuv's fs thread pool).
   * IOURING_NET_BACKEND=mmsg (or dgram) also means 'poll' here.
   */
  backend?: FileBackendChoice;
}

interface Waiting {
  run: () => boolean;
  fail: (err: Error) => void;
  syscall: string;
}

/**
 * A file whose reads and writes go through io_uring. Positions are byte
 * offsets; `null` (the default) uses and moves the file position, so
 * requests without a position that are in flight together may run in any
 * order: pass positions when several are outstanding.
 */
export class RingFile implements CoreOwner {
  /** 'io_uring', or 'poll' where io_uring is refused (see OpenFileOptions.backend). */
  readonly backend: FileBackendName;
  /** The path it was opened with, if any. */
  readonly path: string | undefined;
  readonly fd: number;
  private readonly core: FileCore;
  private readonly waiting: Waiting[] = [];
  private closeWaiters: (() => void)[] = [];

  /** @internal use openFile(); takes fd */
  constructor(site: FileSite, path: string | undefined, fd: number, queueSize: number, bufferBytes: number) {
    this.backend = site.backend;
    this.path = path;
    this.fd = fd;
    this.core = new FileCore(site, this, fd, {
      kind: F.KIND_REGULAR,
      readBuffers: 0,
      readSlot: 0,
      queueSize,
      bufferBytes,
      multishot: false,
      packetInfo: false,
      maxPacket: 0,
    });
  }

  /** Largest single read or write. */
  get maxRequestBytes(): number {
    return this.core.queue.capacityBytes;
  }

  get isOpen(): boolean {
    return this.core.state === 'open';
  }

  /** Read up to `length` bytes at `position`; fewer at the end of the file. */
  read(length: number, position: number | null = null): Promise<Buffer> {
    this.checkLength(length);
    const pos = checkPosition(position);
    return new Promise<Buffer>((resolve, reject) => {
      if (length === 0) return this.core.state === 'open' ? resolve(Buffer.alloc(0)) : reject(this.closedError('read'));
      const run = (): boolean => {
        this.core.memory.ensure();
        const at = this.core.queue.reserve(length);
        if (at < 0) return false;
        this.core.push(at, length, F.QOP_READ, pos, (_, n) => {
          // Copy out now, before any user code can reuse the space. (The
          // result word is in shared memory: never past what was asked.)
          if (n < 0) reject(this.ioError(n, 'read'));
          else resolve(Buffer.from(this.core.bytes.subarray(at, at + Math.min(n, length))));
        });
        return true;
      };
      this.enqueue({ run, fail: reject, syscall: 'read' });
    });
  }

  /** Write all of `data` at `position`; resolves with the bytes written. */
  write(data: Uint8Array | string, position: number | null = null): Promise<number> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    if (!(buf instanceof Uint8Array)) throw invalidArgType('data', 'of type string or an instance of Buffer or Uint8Array', data);
    this.checkLength(buf.byteLength);
    const pos = checkPosition(position);
    return new Promise<number>((resolve, reject) => {
      if (buf.byteLength === 0) return this.core.state === 'open' ? resolve(0) : reject(this.closedError('write'));
      const run = (): boolean => {
        this.core.memory.ensure();
        const at = this.core.queue.reserve(buf.byteLength);
        if (at < 0) return false;
        this.core.bytes.set(buf, at);
        this.core.push(at, buf.byteLength, F.QOP_WRITE, pos, (_, n) => {
          if (n < 0) reject(this.ioError(n, 'write'));
          else resolve(n);
        });
        return true;
      };
      this.enqueue({ run, fail: reject, syscall: 'write' });
    });
  }

  private checkLength(n: number): void {
    if (typeof n !== 'number') throw invalidArgType('length', 'of type number', n);
    if (!Number.isInteger(n) || n < 0 || n > this.maxRequestBytes) {
      throw outOfRange('length', `>= 0 and <= ${this.maxRequestBytes} (options.bufferBytes - 1)`, n);
    }
  }

  private enqueue(w: Waiting): void {
    if (this.core.state !== 'open') return w.fail(this.closedError(w.syscall));
    // Keep order: nothing overtakes a request that is already waiting.
    if (this.waiting.length > 0 || !w.run()) this.waiting.push(w);
  }

  private ioError(negErrno: number, syscall: string): (SystemError & { path?: string }) | CodedError {
    if (this.broken) return this.broken;
    const err: SystemError & { path?: string } = errnoException(negErrno, syscall);
    if (this.path !== undefined) err.path = this.path;
    return err;
  }

  /** Set when the shared memory was overwritten: every failure reports it. */
  private broken: CodedError | undefined;

  private closedError(syscall: string): (SystemError & { path?: string }) | CodedError {
    return this.ioError(EBADF, syscall);
  }

  /** Keep the process alive while requests are in flight (the default). */
  ref(): this {
    this.core.ref(true);
    return this;
  }

  /** Let the process exit even with requests in flight. */
  unref(): this {
    this.core.ref(false);
    return this;
  }

  /**
   * Close: requests still waiting or in flight reject (ECANCELED unless
   * they finished first); the fd is closed once the kernel has returned
   * every request. Closing twice rejects with EBADF.
   */
  close(): Promise<void> {
    if (this.core.state !== 'open') return Promise.reject(this.closedError('close'));
    const done = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    const waiting = this.waiting.splice(0);
    this.core.close();
    for (const w of waiting) w.fail(this.ioError(ECANCELED, w.syscall));
    return done;
  }

  /** @internal CoreOwner */
  onPackets(): void {}

  /** @internal CoreOwner: only EPROTO reaches a file (files do not read on their own). */
  onReadError(negErrno: number): void {
    if (negErrno !== L.EPROTO || this.core.state !== 'open') return;
    this.broken = protocolError('file');
    void this.close();
  }

  /** @internal CoreOwner: our own callbacks take the raw result. */
  onDone(result: number, cb: SendCallback | undefined): void {
    cb?.(null, result);
  }

  /** @internal CoreOwner: room again for waiting requests. */
  onDrain(): void {
    while (this.waiting.length > 0 && this.waiting[0]!.run()) this.waiting.shift();
    if (this.waiting.length > 0) this.core.queue.wantDrain = true;
  }

  /** @internal CoreOwner */
  onClosed(): void {
    const cbs = this.closeWaiters;
    this.closeWaiters = [];
    for (const cb of cbs) cb();
  }
}

function checkPosition(position: number | null): number {
  if (position === null || position === undefined) return -1;
  if (typeof position !== 'number') throw invalidArgType('position', 'of type number', position);
  if (!Number.isSafeInteger(position) || position < 0) {
    throw outOfRange('position', `>= 0 and <= ${Number.MAX_SAFE_INTEGER}`, position);
  }
  return position;
}

/**
 * fs.openSync's flags, checked here: a number it has not checked itself
 * (-0, fractions, beyond int32) reaches an assertion inside Node that
 * aborts the process. Strings are Node's to check ('r', 'w+'...).
 */
function openFlags(flags: unknown): string | number {
  if (flags === undefined) return 'r';
  if (typeof flags === 'string') return flags;
  if (typeof flags !== 'number') throw invalidArgType('options.flags', 'of type string or number', flags);
  if (!Number.isInteger(flags) || Object.is(flags, -0) || flags < 0 || flags > 0x7fffffff) {
    throw outOfRange('options.flags', 'an integer from 0 to 2147483647', flags);
  }
  return flags;
}

/** The creation mode: an integer permission mask (0 to 0o7777), not -0. */
function openMode(mode: unknown): number {
  if (mode === undefined) return 0o666;
  if (typeof mode !== 'number') throw invalidArgType('options.mode', 'of type number', mode);
  if (!Number.isInteger(mode) || Object.is(mode, -0) || mode < 0 || mode > 0o7777) {
    throw outOfRange('options.mode', 'an integer from 0 to 0o7777', mode);
  }
  return mode;
}

/**
 * Open a file (or take an fd: it is then closed by close()) whose reads
 * and writes go through io_uring, or the poll backend where io_uring is
 * refused. Throws a Node-style error (ENOENT with `path`...) when opening
 * fails.
 */
export function openFile(file: string | URL | number, options: OpenFileOptions = {}): RingFile {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const queueSize = powerOfTwo('options.queueSize', options.queueSize, 64, 65536);
  const bufferBytes = intInRange('options.bufferBytes', options.bufferBytes, 1 << 20, 2, 1 << 28);
  if (typeof file === 'number') {
    if (!Number.isInteger(file) || file < 0 || file > 0x7fffffff) throw invalidArgValue('fd', file, 'must be a file descriptor');
    return new RingFile(fileSite(options.backend, 'a file'), undefined, file, queueSize, bufferBytes);
  }
  const path = file instanceof URL ? fileURLToPath(file) : file;
  if (typeof path !== 'string') throw invalidArgType('path', 'of type string or an instance of URL', file);
  const flags = openFlags(options.flags);
  const mode = openMode(options.mode);
  // Fail before opening anything when no backend can be used.
  const site = fileSite(options.backend, 'a file');
  const fd = openSync(path, flags, mode);
  return new RingFile(site, path, fd, queueSize, bufferBytes);
}

