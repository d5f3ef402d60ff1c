/* A peer of the device: its keypairs and their rotation, its endpoint,
 * the bounded queue of packets staged while it has no usable keypair, and
 * its counters. Created and looked up through device.h; the data path
 * (send.c, recv.c) works on it directly. */
#ifndef ION_WG_PEER_H
#define ION_WG_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/keypair.h"
#include "wg/wg_types.h"

/* One staged plaintext packet. The buffer is kept for reuse (grown when a
 * longer packet comes), so staging allocates only while the queue warms
 * up, not per packet. */
typedef struct wg_staged {
  uint8_t *buf;
  uint32_t cap;
  uint32_t len;
} wg_staged;

typedef struct wg_peer {
  uint32_t id;
  /* Rotation (the paper's section 6.5 and wireguard-go's keypairs):
   * current sends and receives; previous only receives (packets still in
   * flight under the old key); next is a responder's fresh keypair, which
   * receives but does not send until the initiator's first packet under
   * it confirms it. */
  wg_keypair *current;
  wg_keypair *previous;
  wg_keypair *next;
  wg_endpoint endpoint;

  wg_staged *staged; /* a ring of staged_cap */
  uint32_t staged_cap;
  uint32_t staged_head;
  uint32_t staged_n;

  bool owes_keepalive; /* data received, nothing sent since */
  bool in_touched;     /* listed in the device's summary list */
  bool in_staged_list; /* listed in the device's staged list */

  /* Since the last summary. */
  uint32_t flags;
  uint32_t b_rx_packets, b_tx_packets, b_drops;
  uint64_t b_rx_bytes, b_tx_bytes;

  /* Totals (wg show's transfer counts the UDP payload bytes). */
  uint64_t rx_bytes, tx_bytes;
  uint64_t rx_packets, tx_packets, rx_keepalives, tx_keepalives;
  uint64_t last_rx_ns, last_tx_ns; /* last authenticated packet */
  uint64_t drops[WG_DROP_COUNT];

  /* Encrypt batch scratch: this peer's packets in the current chunk, as a
   * list through the device's route_next array; -1 when none. */
  int32_t batch_head, batch_tail;
} wg_peer;

int wg_peer_new(wg_peer **out, uint32_t id, uint32_t staged_cap);
/* Free the peer, its keypairs (leaving the index) and staged packets. */
void wg_peer_free(wg_peer *p, wg_index_table *idx);

/* Copy a packet to the tail of the staged queue. 1 if the oldest packet
 * had to go to make room, 0 if not, -ENOMEM (the packet is not staged). */
int wg_peer_stage(wg_peer *p, const uint8_t *pkt, uint32_t len);
/* The oldest staged packet, or NULL. */
wg_staged *wg_peer_staged_head(wg_peer *p);
void wg_peer_staged_pop(wg_peer *p);

/* Take a new keypair from a completed handshake. An initiator's becomes
 * current at once (the responder already holds it); a responder's becomes
 * next. Displaced keypairs leave the index and are freed. -EEXIST when its
 * local index is taken, then nothing changes and kp is not consumed. */
int wg_peer_install(wg_peer *p, wg_keypair *kp, wg_index_table *idx);
/* A packet authenticated under kp: if kp is next, it becomes current and
 * current becomes previous. True when that happened. */
bool wg_peer_confirm(wg_peer *p, wg_keypair *kp, wg_index_table *idx);
/* Free every keypair (Reject-After-Time x 3, peer reset). */
void wg_peer_clear_keys(wg_peer *p, wg_index_table *idx);
/* Free the keypair (current, previous or next) whose local index is
 * local_index. True if the peer had it. */
bool wg_peer_drop_keypair(wg_peer *p, uint32_t local_index,
                          wg_index_table *idx);

#endif
