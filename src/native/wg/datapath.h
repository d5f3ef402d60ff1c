/* The batch data path: plaintext IP packets in, WireGuard transport
 * messages out (wg_encrypt_batch), and back (wg_decrypt_batch). One call
 * per batch; per-peer results are read with wg_device_take_summaries.
 *
 * Output goes through caller-supplied sinks, so the same code can write
 * straight into a UDP send ring or a TUN write ring (or, in tests, into
 * plain arrays). Nothing here allocates per packet. */
#ifndef ION_WG_DATAPATH_H
#define ION_WG_DATAPATH_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/device.h"

/* A plaintext IP packet to send. Only read during the call. */
typedef struct wg_packet {
  const uint8_t *data;
  uint32_t len;
} wg_packet;

/* Where encrypted messages go.
 * reserve(ctx, len): space for one message of len bytes, or NULL when
 *   there is no room now (the packet is then staged, see wg_tx_result).
 *   A reserve not followed by commit is abandoned: the next reserve may
 *   return the same space.
 * commit(ctx, peer_id, ep, len): the message in the last reserved space
 *   is complete; send it to ep (valid only during the call).
 * Messages come grouped: all of one peer's messages of a batch are
 * committed back to back, in input order, so runs of equal length to one
 * endpoint (a TSO-split flow: equal segments, padded to 16) can leave as
 * one UDP GSO send. */
typedef struct wg_tx_sink {
  void *ctx;
  uint8_t *(*reserve)(void *ctx, uint32_t len);
  void (*commit)(void *ctx, uint32_t peer_id, const wg_endpoint *ep,
                 uint32_t len);
} wg_tx_sink;

typedef struct wg_tx_result {
  uint32_t sent;    /* messages committed (staged ones flushed included) */
  uint32_t staged;  /* input packets copied into staged queues */
  uint32_t dropped; /* input packets dropped (see the drop counters) */
  bool sink_full;   /* reserve said no: some packets wait staged */
} wg_tx_result;

/* Send a batch. First flushes staged packets of peers that can send now,
 * then routes each packet by destination (AllowedIPs) and seals it with
 * its peer's current keypair. A packet without a usable keypair (or whose
 * peer still has older packets staged, or that found the sink full) is
 * copied into the peer's staged queue (bounded, oldest dropped) and the
 * peer is flagged WG_PEER_HANDSHAKE_WANTED when it lacks keys. Every input
 * packet is consumed: sent, staged or dropped; none is referenced after
 * the call. 0, or -EINVAL (bad arguments). res may be NULL. */
int wg_encrypt_batch(wg_device *d, const wg_packet *pkts, uint32_t n,
                     const wg_tx_sink *sink, uint64_t now, wg_tx_result *res);

/* Send staged packets of every peer that has a usable keypair and an
 * endpoint now (after a keypair was installed or confirmed, or the sink
 * drained). 0 or -EINVAL; res counts what was sent. */
int wg_flush_staged(wg_device *d, const wg_tx_sink *sink, uint64_t now,
                    wg_tx_result *res);

/* A keepalive (an empty transport message) for one peer. With
 * only_if_owed, only if data came in and nothing was sent since (the
 * passive keepalive). Staged packets go first and make the keepalive
 * unneeded; without a usable keypair the keepalive is staged and a
 * handshake flagged (wireguard-go does the same). Returns messages sent
 * (0 or more), -ENOENT (no peer), -ENOBUFS (sink full). */
int wg_send_keepalive(wg_device *d, uint32_t id, const wg_tx_sink *sink,
                      uint64_t now, bool only_if_owed);

/* A received UDP datagram. It is decrypted in place. */
typedef struct wg_datagram {
  uint8_t *data;
  uint32_t len;
  wg_endpoint src;
} wg_datagram;

/* Where received packets go.
 * deliver(ctx, peer_id, pkt, len): an authenticated IP packet whose
 *   source is in the sending peer's AllowedIPs; pkt points into the
 *   datagram (16 bytes in), len is the IP length (padding trimmed). The
 *   16 bytes before pkt are free for the sink to use (a virtio_net_hdr
 *   fits). Return 0, or < 0 to refuse it (counted WG_DROP_SINK).
 * handshake(ctx, i, type): datagram i is a handshake message (initiation,
 *   response or cookie reply, with its exact size), left for the caller;
 *   may be NULL. */
typedef struct wg_rx_sink {
  void *ctx;
  int (*deliver)(void *ctx, uint32_t peer_id, uint8_t *pkt, uint32_t len);
  void (*handshake)(void *ctx, uint32_t i, uint32_t type);
} wg_rx_sink;

typedef struct wg_rx_result {
  uint32_t delivered;  /* plaintext packets handed to deliver */
  uint32_t keepalives; /* authenticated keepalives */
  uint32_t handshakes; /* handshake messages reported */
  uint32_t dropped;
} wg_rx_result;

/* Receive a batch: for each transport message, receiver index -> keypair,
 * replay precheck, open in place, then (only once authenticated) mark the
 * counter, confirm a "next" keypair, follow the endpoint (roaming), and
 * pass the inner packet if its source routes back to the same peer.
 * Datagrams are processed in order. 0 or -EINVAL; res may be NULL. */
int wg_decrypt_batch(wg_device *d, wg_datagram *dgs, uint32_t n,
                     const wg_rx_sink *sink, uint64_t now, wg_rx_result *res);

#endif
