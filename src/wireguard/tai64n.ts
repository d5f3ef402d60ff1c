/**
 * TAI64N timestamps (cr.yp.to/libtai/tai64.html) as WireGuard's initiation
 * carries them: 8 bytes big-endian of 2^62 + 10 + Unix seconds (the label
 * for TAI, with the 10 s offset WireGuard and wireguard-go use), then 4 bytes
 * big-endian nanoseconds. Later means greater as bytes, which is all a
 * responder checks.
 */

/** Size of a TAI64N timestamp. */
export const TAI64N_SIZE = 12;

const BASE = 0x400000000000000an;
/**
 * Nanoseconds are rounded down to a multiple of 2^24 ns (about 16.8 ms), as
 * the Linux driver and wireguard-go do, so the timestamp does not leak a
 * fine-grained clock; a peer may initiate at most once per 20 ms anyway.
 */
const WHITEN = 0xffffff;

/** The TAI64N timestamp of `unixNanos` (nanoseconds since the Unix epoch). */
export function tai64n(unixNanos: bigint, whiten = true): Buffer {
  if (unixNanos < 0n) throw new RangeError('time before the Unix epoch');
  const secs = unixNanos / 1_000_000_000n;
  let nanos = Number(unixNanos % 1_000_000_000n);
  if (whiten) nanos -= nanos & WHITEN;
  const out = Buffer.alloc(TAI64N_SIZE);
  out.writeBigUInt64BE(BASE + secs, 0);
  out.writeUInt32BE(nanos, 8);
  return out;
}

/** Whether timestamp `a` is strictly later than `b`. */
export function tai64nAfter(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) > 0;
}

/** Nanoseconds since the Unix epoch now (millisecond resolution). */
export function wallClockNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
