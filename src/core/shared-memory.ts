/**
 * The JS side of an object's shared memory. The memory belongs to the
 * addon (src/native/core/mem.h): JS holds views of it, and a view can be
 * detached by JS itself (structuredClone with transfer, postMessage,
 * ArrayBuffer.prototype.transfer; `batch.bytes.buffer` is reachable). The
 * memory lives on regardless (the addon's reference, and the transferred
 * view's own); only this side's views go dead. `ensure()` notices (a
 * detached view has byteLength 0) and asks native for a fresh view of the
 * same memory, then lets the owner rebuild its typed arrays: the object
 * keeps working.
 *
 * On Node 20 the views native gives (external ArrayBuffers) cannot be
 * detached from JS at all: structuredClone and postMessage copy them. The
 * remapping covers runtimes that do detach them, and V8's own detach
 * (`%ArrayBufferDetach`, which the tests use to exercise it).
 */
import { CodedError, errnoException } from './errors.js';

const EBADF = -9;

export class SharedMemory {
  /** The whole block, as bytes (offset 0 of its buffer). */
  bytes: Uint8Array;
  private readonly fetch: () => ArrayBuffer | number;
  private readonly rebuild: (buffer: ArrayBuffer) => void;

  /**
   * fetch asks native for a view (an ArrayBuffer, or -errno); rebuild makes
   * the owner's typed arrays over a buffer. Both run now, and again after
   * every detach.
   */
  constructor(fetch: () => ArrayBuffer | number, rebuild: (buffer: ArrayBuffer) => void) {
    this.fetch = fetch;
    this.rebuild = rebuild;
    this.bytes = this.map(true);
  }

  /**
   * The views are usable: remade if they were detached. Only while the
   * native object lives (after its close, native has no memory to give).
   */
  ensure(): void {
    if (this.bytes.byteLength === 0) this.bytes = this.map(false);
  }

  private map(first: boolean): Uint8Array {
    const buf = this.fetch();
    // EBADF later: the native object finished closing; nothing to remap.
    if (buf === EBADF && !first) return this.bytes;
    if (typeof buf === 'number') throw errnoException(buf, 'mmap');
    if (buf.byteLength === 0) {
      // The dgram driver's memory is a JS ArrayBuffer: once transferred
      // away, it is gone.
      throw new CodedError('ERR_IOURING_NET_MEMORY_DETACHED', "the socket's shared memory was transferred away and cannot be replaced");
    }
    this.rebuild(buf);
    return new Uint8Array(buf);
  }
}
