/* WireGuard transport constants (the paper, section 6 and 5.4; wire
 * formats from wireguard.com/protocol) and the small types the data path
 * shares with its callers: endpoints, drop reasons, per-peer summary
 * flags. Times are uint64 nanoseconds of a clock the caller chooses (a
 * monotonic one): nothing in src/native/wg reads a clock itself, so
 * rekey and expiry decisions are testable. */
#ifndef ION_WG_TYPES_H
#define ION_WG_TYPES_H

#include <stdint.h>

/* Message types (little-endian u32 on the wire) and fixed sizes. */
#define WG_MSG_INITIATION 1u
#define WG_MSG_RESPONSE 2u
#define WG_MSG_COOKIE_REPLY 3u
#define WG_MSG_TRANSPORT 4u
#define WG_SIZE_INITIATION 148u
#define WG_SIZE_RESPONSE 92u
#define WG_SIZE_COOKIE_REPLY 64u
/* Transport: type(4) receiver(4) counter(8) | ciphertext | tag(16). */
#define WG_TRANSPORT_HEADER 16u
#define WG_TRANSPORT_OVERHEAD 32u /* header + tag: also a keepalive's size */
#define WG_MAX_MESSAGE 65535u
#define WG_MAX_CONTENT (WG_MAX_MESSAGE - WG_TRANSPORT_OVERHEAD)
#define WG_PADDING 16u

#define WG_NS_PER_S UINT64_C(1000000000)
#define WG_REKEY_AFTER_MESSAGES (UINT64_C(1) << 60)
#define WG_REKEY_AFTER_TIME (120 * WG_NS_PER_S)
#define WG_REJECT_AFTER_TIME (180 * WG_NS_PER_S)
#define WG_REKEY_TIMEOUT (5 * WG_NS_PER_S)
#define WG_KEEPALIVE_TIMEOUT (10 * WG_NS_PER_S)

/* Peer ids are chosen by the caller: 0 .. WG_PEER_ID_MAX - 1. */
#define WG_PEER_ID_MAX (1u << 20)

/* A UDP endpoint. family: 0 (none), AF_INET or AF_INET6; addr holds 4 or
 * 16 bytes in network order; port in host order; scope_id for IPv6
 * link-local addresses. */
typedef struct wg_endpoint {
  uint16_t family;
  uint16_t port;
  uint32_t scope_id;
  uint8_t addr[16];
} wg_endpoint;

/* Why a packet was dropped. Counted device-wide and, when the peer is
 * known, per peer. */
enum wg_drop {
  WG_DROP_NO_ROUTE,         /* tx: no AllowedIPs entry for the destination */
  WG_DROP_TX_INVALID,       /* tx: not an IPv4/IPv6 packet, or too long */
  WG_DROP_NO_ENDPOINT,      /* tx: keys but no endpoint to send to */
  WG_DROP_STAGED_OVERFLOW,  /* tx: staged queue full, the oldest dropped */
  WG_DROP_MALFORMED,        /* rx: unknown type or wrong size */
  WG_DROP_UNKNOWN_INDEX,    /* rx: no keypair has this receiver index */
  WG_DROP_KEY_EXPIRED,      /* rx: keypair older than Reject-After-Time */
  WG_DROP_REPLAY,           /* rx: counter replayed, too old or over limit */
  WG_DROP_AUTH,             /* rx: tag did not authenticate */
  WG_DROP_INNER_INVALID,    /* rx: plaintext is not a sane IP packet */
  WG_DROP_SOURCE_NOT_ALLOWED, /* rx: inner source not in the peer's AllowedIPs */
  WG_DROP_SINK,             /* rx: the plaintext sink refused the packet */
  WG_DROP_CRYPTO_ERROR,     /* OpenSSL failed (not a bad tag; not expected) */
  WG_DROP_COUNT
};

/* Per-peer summary flags: what happened to the peer in the batches since
 * the summary was last taken (wg_device_take_summaries), so the JS timer
 * state machine runs once per batch, not per packet. */
enum wg_peer_flag {
  WG_PEER_DATA_SENT = 1u << 0,      /* a data (non-keepalive) message sent */
  WG_PEER_KEEPALIVE_SENT = 1u << 1, /* a keepalive sent */
  WG_PEER_AUTH_SENT = 1u << 2,      /* any transport message sent */
  WG_PEER_DATA_RECEIVED = 1u << 3,  /* an authenticated data packet */
  WG_PEER_KEEPALIVE_RECEIVED = 1u << 4,
  WG_PEER_AUTH_RECEIVED = 1u << 5,  /* any authenticated transport message */
  /* Send a handshake initiation (subject to the caller's Rekey-Timeout
   * rate limit): no usable keypair and packets staged, or the current
   * keypair passed Rekey-After-Time/-Messages (initiator), or is near
   * Reject-After-Time while receiving (once per keypair). */
  WG_PEER_HANDSHAKE_WANTED = 1u << 6,
  /* Data arrived and nothing was sent back since: arm the passive
   * keepalive timer (Keepalive-Timeout); see wg_send_keepalive. */
  WG_PEER_KEEPALIVE_WANTED = 1u << 7,
  /* A "next" keypair was confirmed by the initiator's first packet and is
   * now current: the responder's handshake is complete. */
  WG_PEER_KEYPAIR_CONFIRMED = 1u << 8,
  WG_PEER_ENDPOINT_CHANGED = 1u << 9, /* roaming: endpoint followed a packet */
  WG_PEER_STAGED = 1u << 10, /* packets wait in the staged queue */
};

#endif
