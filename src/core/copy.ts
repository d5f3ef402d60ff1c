/**
 * Copy bytes from one object's shared memory into another's without making
 * a view: `dst.set(src.subarray(a, b), at)` allocates a 96-byte typed array
 * per call, which a data plane forwarding every packet must not do.
 *
 * The copy moves 8 bytes at a time through Float64Array views when both
 * ends have the same alignment modulo 8 (callers choose the destination so
 * that they do; see `alignedAt`). A Float64Array store may change the bits
 * of a NaN (ECMA-262 NumericToRawBytes lets the engine pick any NaN
 * encoding), so a word that reads as NaN is copied byte by byte instead;
 * every other double round-trips exactly. Measured on Node 20 (x64, warm,
 * shared 2-core machine): 1400 B in 130-230 ns against 110-195 ns for
 * set(subarray) plus its 96 bytes of garbage; 64 B in 15-30 ns against
 * 95-165 ns.
 */

/** Float64Array over the whole ArrayBuffer of `bytes` (which must start at offset 0 of it). */
export function wordsOf(bytes: Uint8Array): Float64Array {
  return new Float64Array(bytes.buffer, 0, bytes.buffer.byteLength >> 3);
}

/**
 * The first position >= at where a copy from srcAt lands 8-byte aligned
 * with it: at + 0..7. Reserve 7 bytes more than the payload to use it.
 */
export function alignedAt(at: number, srcAt: number): number {
  return at + ((srcAt - at) & 7);
}

/**
 * Copy len bytes from src[srcAt] to dst[dstAt]. dst and src are Uint8Arrays
 * starting at offset 0 of their buffers; dstWords and srcWords are their
 * wordsOf() views. Any alignment works; equal alignment modulo 8 is fast.
 */
export function copyBytes(
  dst: Uint8Array,
  dstWords: Float64Array,
  dstAt: number,
  src: Uint8Array,
  srcWords: Float64Array,
  srcAt: number,
  len: number,
): void {
  if (len < 16) {
    copyLoop(dst, dstAt, src, srcAt, len);
    return;
  }
  if (((dstAt - srcAt) & 7) !== 0) {
    // Callers avoid this (alignedAt); a view is cheaper than a byte loop.
    dst.set(src.subarray(srcAt, srcAt + len), dstAt);
    return;
  }
  let k = 0;
  while (((srcAt + k) & 7) !== 0) {
    dst[dstAt + k] = src[srcAt + k]!;
    k++;
  }
  let si = (srcAt + k) >> 3;
  let di = (dstAt + k) >> 3;
  const end = si + ((len - k) >> 3);
  // Four words a step (~40% faster than one); a group holding a NaN
  // is moved byte by byte: its bits might not survive a Float64 store.
  // (Reads are in bounds: `!` rather than `?? 0`, which costs here.)
  for (const end4 = end - 3; si < end4; si += 4, di += 4) {
    const a = srcWords[si]!;
    const b = srcWords[si + 1]!;
    const c = srcWords[si + 2]!;
    const d = srcWords[si + 3]!;
    if (a === a && b === b && c === c && d === d) {
      dstWords[di] = a;
      dstWords[di + 1] = b;
      dstWords[di + 2] = c;
      dstWords[di + 3] = d;
    } else {
      copyLoop(dst, di << 3, src, si << 3, 32);
    }
  }
  for (; si < end; si++, di++) {
    const v = srcWords[si]!;
    if (v === v) dstWords[di] = v;
    else copyLoop(dst, di << 3, src, si << 3, 8);
  }
  for (k = len - ((len - k) & 7); k < len; k++) dst[dstAt + k] = src[srcAt + k]!;
}

function copyLoop(dst: Uint8Array, dstAt: number, src: Uint8Array, srcAt: number, len: number): void {
  for (let k = 0; k < len; k++) dst[dstAt + k] = src[srcAt + k]!;
}

/**
 * Copies from any Uint8Array into an object's shared memory with the
 * word views of both ends made once: per destination block (again after
 * its memory was remapped, shared-memory.ts) and per source object. Used
 * by UdpSocket.sendFrom and TunDevice.writeFrom, which forward packets
 * from another object's pool without allocating.
 */
export class ForeignCopier {
  private dst: Uint8Array | undefined;
  private dstWords: Float64Array | undefined;
  private src: Uint8Array | undefined;
  private srcBytes: Uint8Array | undefined;
  private srcWords: Float64Array | undefined;

  /** Copy len bytes at src[offset] to dst[at] (dst at offset 0 of its buffer). */
  copy(dst: Uint8Array, at: number, src: Uint8Array, offset: number, len: number): void {
    if (dst !== this.dst || this.dstWords!.byteLength === 0) {
      this.dst = dst;
      this.dstWords = wordsOf(dst);
    }
    if (src !== this.src || this.srcBytes!.byteLength === 0) {
      this.src = src;
      this.srcBytes = new Uint8Array(src.buffer);
      this.srcWords = new Float64Array(src.buffer, 0, src.buffer.byteLength >> 3);
    }
    copyBytes(dst, this.dstWords!, at, this.srcBytes!, this.srcWords!, src.byteOffset + offset, len);
  }
}
