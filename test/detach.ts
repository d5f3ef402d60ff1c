/**
 * Ways JS code can detach an ArrayBuffer reachable from the public API
 * (`batch.bytes.buffer`), and a real garbage collection afterwards, so
 * that the new owner's backing store is dropped: if native memory were
 * JS-owned, the kernel and the addon would then write into freed memory
 * (what the sanitizer run of these tests catches).
 */
import { MessageChannel } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
setFlagsFromString('--allow-natives-syntax');
const gcFn = runInNewContext('gc') as () => void;
/** V8's own detach: what a runtime whose views JS can detach would do. */
const v8Detach = new Function('b', '%ArrayBufferDetach(b)') as (b: ArrayBuffer) => void;

/**
 * The public ways (structuredClone and postMessage with a transfer list,
 * ArrayBuffer.prototype.transfer where the runtime has it) and V8's own.
 * On Node 20 the public ways copy the addon's views instead of detaching
 * them (external ArrayBuffers); 'v8' detaches them for real, which is how
 * the tests reach the remapping that other runtimes would need.
 */
export type DetachWay = 'structuredClone' | 'postMessage' | 'transfer' | 'v8';
export const DETACH_WAYS: readonly DetachWay[] = ['structuredClone', 'postMessage', 'transfer', 'v8'];

/**
 * Try to detach buf the given way and forget any new owner. Returns true
 * if buf is detached now, false if it could not be (a SharedArrayBuffer,
 * the dgram backend's memory; or a view the runtime copies instead).
 */
export function detach(buf: ArrayBufferLike, way: DetachWay): boolean {
  if (typeof SharedArrayBuffer !== 'undefined' && buf instanceof SharedArrayBuffer) return false;
  const ab = buf as ArrayBuffer & { transfer?: () => ArrayBuffer };
  if (way === 'v8') {
    v8Detach(ab);
  } else if (way === 'structuredClone') {
    structuredClone(ab, { transfer: [ab] });
  } else if (way === 'postMessage') {
    const ch = new MessageChannel();
    ch.port1.postMessage(ab, [ab]);
    ch.port1.close();
    ch.port2.close();
  } else if (typeof ab.transfer === 'function') {
    ab.transfer();
  } else {
    // Node 20 without ArrayBuffer.prototype.transfer: the closest is a
    // structuredClone transfer, which detaches the same way.
    structuredClone(ab, { transfer: [ab] });
  }
  if (way === 'v8' && ab.byteLength !== 0) throw new Error('%ArrayBufferDetach did not detach the buffer');
  return ab.byteLength === 0;
}

/** Collect garbage now, twice (finalizers run between). */
export async function collectGarbage(): Promise<void> {
  gcFn();
  await new Promise((r) => setImmediate(r));
  gcFn();
  await new Promise((r) => setImmediate(r));
}
