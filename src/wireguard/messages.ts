/**
 * WireGuard message layouts (paper section 5.4, wireguard.com/protocol).
 * Every message starts with a type byte and three zero bytes, then
 * little-endian 32-bit indices:
 *
 *   initiation (1), 148 bytes: type | sender | ephemeral(32) |
 *       static(32+16) | timestamp(12+16) | mac1(16) | mac2(16)
 *   response (2), 92 bytes: type | sender | receiver | ephemeral(32) |
 *       empty(0+16) | mac1(16) | mac2(16)
 *   cookie reply (3), 64 bytes: type | receiver | nonce(24) | cookie(16+16)
 *   transport data (4), 32+ bytes: type | receiver | counter(8, LE) |
 *       packet(16n) + tag(16)
 */

export const MESSAGE_INITIATION = 1;
export const MESSAGE_RESPONSE = 2;
export const MESSAGE_COOKIE_REPLY = 3;
export const MESSAGE_TRANSPORT = 4;

export const INITIATION_SIZE = 148;
export const RESPONSE_SIZE = 92;
export const COOKIE_REPLY_SIZE = 64;
export const TRANSPORT_HEADER_SIZE = 16;
/** An empty transport message (header and tag): a keepalive. */
export const KEEPALIVE_SIZE = 32;

/** Offsets inside an initiation. */
export const INITIATION = {
  sender: 4,
  ephemeral: 8,
  static: 40,
  timestamp: 88,
  mac1: 116,
  mac2: 132,
} as const;

/** Offsets inside a response. */
export const RESPONSE = {
  sender: 4,
  receiver: 8,
  ephemeral: 12,
  empty: 44,
  mac1: 60,
  mac2: 76,
} as const;

/** Offsets inside a cookie reply. */
export const COOKIE_REPLY = {
  receiver: 4,
  nonce: 8,
  cookie: 32,
} as const;

/**
 * The message type of `msg` (1..4), or 0 when the first four bytes are not
 * a known type followed by three zero bytes, or when the size does not fit
 * the type (fixed sizes for handshake messages, at least 32 bytes for data).
 */
export function messageType(msg: Uint8Array): number {
  if (msg.length < 4 || msg[1] !== 0 || msg[2] !== 0 || msg[3] !== 0) return 0;
  const t = msg[0]!;
  switch (t) {
    case MESSAGE_INITIATION:
      return msg.length === INITIATION_SIZE ? t : 0;
    case MESSAGE_RESPONSE:
      return msg.length === RESPONSE_SIZE ? t : 0;
    case MESSAGE_COOKIE_REPLY:
      return msg.length === COOKIE_REPLY_SIZE ? t : 0;
    case MESSAGE_TRANSPORT:
      return msg.length >= KEEPALIVE_SIZE ? t : 0;
    default:
      return 0;
  }
}

function view(msg: Uint8Array): DataView {
  return new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
}

/** The little-endian 32-bit index at `offset`. */
export function readIndex(msg: Uint8Array, offset: number): number {
  return view(msg).getUint32(offset, true);
}

/** Write a little-endian 32-bit index at `offset`. */
export function writeIndex(msg: Uint8Array, offset: number, index: number): void {
  view(msg).setUint32(offset, index, true);
}

/** Write the type byte and its three zero bytes. */
export function writeType(msg: Uint8Array, type: number): void {
  msg[0] = type;
  msg[1] = 0;
  msg[2] = 0;
  msg[3] = 0;
}
