/* The WireGuard transport device: peers (ids chosen by the caller), the
 * cryptokey routing table, the receiver-index table, counters. The
 * handshake lives elsewhere (TypeScript) and hands its keys over with
 * wg_device_install_keypair; the batch data path is in datapath.h.
 *
 * Threading: one device is used by one thread at a time (the event loop's).
 * Times: `now` is uint64 ns of the caller's monotonic clock.
 * Errors: -errno, liburing style. */
#ifndef ION_WG_DEVICE_H
#define ION_WG_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/allowedips.h"
#include "wg/keypair.h"
#include "wg/wg_types.h"

typedef struct wg_device wg_device;

typedef struct wg_device_config {
  /* The tunnel MTU: plaintext is padded to a multiple of 16 but never
   * beyond it. 0 = pad without a cap. */
  uint32_t mtu;
  /* Staged packets per peer (0 = 128, wireguard-go's QueueStagedSize). */
  uint32_t staged_cap;
  /* Packets routed together by wg_encrypt_batch (0 = 256); a longer
   * input is taken in chunks of this size. */
  uint32_t max_batch;
} wg_device_config;

int wg_device_new(wg_device **out, const wg_device_config *cfg);
/* Frees everything; keys are cleansed. NULL is fine. */
void wg_device_free(wg_device *d);

/* 0, -EINVAL (id >= WG_PEER_ID_MAX), -EEXIST, -ENOMEM. */
int wg_device_add_peer(wg_device *d, uint32_t id);
/* Also removes its AllowedIPs, keypairs (cleansed) and staged packets.
 * 0 or -ENOENT. */
int wg_device_remove_peer(wg_device *d, uint32_t id);
bool wg_device_has_peer(const wg_device *d, uint32_t id);
/* ep NULL or family 0 clears it. -EINVAL for another family. */
int wg_device_set_endpoint(wg_device *d, uint32_t id, const wg_endpoint *ep);

/* Keys of a completed handshake (see wg_peer_install for the rotation).
 * -ENOENT (no peer), -EEXIST (local index in use), -ENOMEM, -EIO. */
int wg_device_install_keypair(wg_device *d, uint32_t id,
                              const wg_keypair_params *p, uint64_t now);
/* Drop every keypair of a peer (zeroed): 0 or -ENOENT. */
int wg_device_clear_keypairs(wg_device *d, uint32_t id);
/* Drop the peer's keypair whose local index is local_index (zeroed), when
 * its timer says it expired (Reject-After-Time): expired keys are useless
 * and should not wait in memory for the next handshake to displace them.
 * 0, or -ENOENT (no such peer, or no such keypair of it). */
int wg_device_drop_keypair(wg_device *d, uint32_t id, uint32_t local_index);
/* Drop every packet staged for a peer (its handshake gave up). Returns
 * how many, or -ENOENT. */
int wg_device_clear_staged(wg_device *d, uint32_t id);
/* Whether a live keypair uses this receiver index (for the handshake's
 * choice of a fresh one). */
bool wg_device_index_in_use(const wg_device *d, uint32_t index);

/* AllowedIPs of a peer (see allowedips.h; family AF_INET or AF_INET6).
 * add: the prefix moves to this peer if another had it. */
int wg_device_allowedip_add(wg_device *d, uint32_t id, int family,
                            const uint8_t *addr, uint8_t cidr);
int wg_device_allowedip_remove(wg_device *d, uint32_t id, int family,
                               const uint8_t *addr, uint8_t cidr);
/* Returns how many were removed, or -ENOENT. */
int wg_device_allowedip_clear(wg_device *d, uint32_t id);
int wg_device_allowedip_walk(const wg_device *d, uint32_t id,
                             wg_aips_walk_fn fn, void *arg);
/* The peer id routing addr, or -ENOENT. */
int32_t wg_device_allowedip_lookup(const wg_device *d, int family,
                                   const uint8_t *addr);

typedef struct wg_peer_stats {
  uint64_t rx_bytes, tx_bytes; /* UDP payload bytes, as wg show */
  uint64_t rx_packets, tx_packets; /* transport messages, keepalives too */
  uint64_t rx_keepalives, tx_keepalives;
  uint64_t last_rx_ns, last_tx_ns; /* 0 = never */
  uint64_t drops[WG_DROP_COUNT];
  uint32_t staged;
  bool owes_keepalive;
  bool has_current, has_previous, has_next;
  uint64_t current_created_ns;
  uint64_t current_send_counter;
  wg_endpoint endpoint;
} wg_peer_stats;

int wg_device_peer_stats(const wg_device *d, uint32_t id, wg_peer_stats *out);
void wg_device_drops(const wg_device *d, uint64_t out[WG_DROP_COUNT]);
/* Peers with staged packets waiting (see wg_flush_staged). */
uint32_t wg_device_staged_peers(const wg_device *d);

/* What happened to one peer since its last summary (enum wg_peer_flag). */
typedef struct wg_peer_summary {
  uint32_t peer_id;
  uint32_t flags;
  uint64_t rx_bytes, tx_bytes;
  uint32_t rx_packets, tx_packets;
  uint32_t drops;
  uint32_t staged; /* packets in its staged queue now */
} wg_peer_summary;

/* Move up to cap summaries of the peers touched since the last call into
 * out (oldest touched first) and reset them; the rest stay for the next
 * call. Returns how many were written. Call after each batch. */
uint32_t wg_device_take_summaries(wg_device *d, wg_peer_summary *out,
                                  uint32_t cap);

#endif
