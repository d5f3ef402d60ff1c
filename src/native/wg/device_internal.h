/* The device's layout and the helpers that device.c, send.c and recv.c
 * share. Not for callers: they use device.h and datapath.h. */
#ifndef ION_WG_DEVICE_INTERNAL_H
#define ION_WG_DEVICE_INTERNAL_H

#include "wg/allowedips.h"
#include "wg/device.h"
#include "wg/keypair.h"
#include "wg/peer.h"

struct wg_device {
  wg_peer **peers; /* by id, NULL where none */
  uint32_t peers_cap;
  uint32_t npeers;
  wg_allowedips aips;
  wg_index_table index;
  uint64_t drops[WG_DROP_COUNT];
  uint32_t mtu;
  uint32_t staged_cap;
  uint32_t max_batch;
  /* Ids of peers touched since their last summary, in touch order, and of
   * peers with staged packets. Each peer appears at most once in each
   * (its in_touched / in_staged_list flags), so npeers slots suffice. */
  uint32_t *touched;
  uint32_t ntouched;
  uint32_t *staged;
  uint32_t nstaged;
  uint32_t lists_cap;
  /* Encrypt scratch, max_batch each: the next packet index to the same
   * peer, and the peers of a chunk in order of their first packet. */
  int32_t *route_next;
  uint32_t *chunk_peers;
};

static inline wg_peer *wg_dev_peer(const wg_device *d, uint32_t id) {
  return id < d->peers_cap ? d->peers[id] : NULL;
}

/* Record flags for the peer's next summary (and list it). */
void wg_dev_touch(wg_device *d, wg_peer *p, uint32_t flags);
/* Count a drop, device-wide and for p when known. */
void wg_dev_drop(wg_device *d, wg_peer *p, enum wg_drop why);
/* Stage a packet for p, counting an overflow, and list p as staged. */
void wg_dev_stage(wg_device *d, wg_peer *p, const uint8_t *pkt, uint32_t len);

/* Little-endian field access: the wire format is little-endian whatever
 * the host; byte by byte, so unaligned fields are fine. */
static inline uint32_t wg_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static inline uint64_t wg_le64(const uint8_t *p) {
  return (uint64_t)wg_le32(p) | (uint64_t)wg_le32(p + 4) << 32;
}
static inline void wg_put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void wg_put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

#endif
