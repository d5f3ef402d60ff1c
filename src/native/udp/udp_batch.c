/* The UDP socket seen from native code in another object (WireGuard, the
 * tunnel's forwarders): the receive batch JS is handling, and windows of
 * the send ring to fill (udp.h). Nothing here trusts shared memory: batch
 * entries are checked against the receive pool, windows against native's
 * counters (core/dring.h). */
#include <errno.h>
#include <string.h>

#include "udp/udp_internal.h"

int ion_udp_batch_get(ion_udp *u, uint32_t i, ion_udp_pkt *out) {
  if (i >= u->obj.rcount || i >= u->lay.rmeta_n) return -EINVAL;
  const int32_t *m = &u->rmeta[(size_t)i * ION_M_WORDS];
  /* Written by native, but JS can write there too: stay in the pool. */
  uint32_t off = (uint32_t)m[ION_M_OFF], len = (uint32_t)m[ION_M_LEN];
  uint32_t lo = u->lay.rpool, span = u->cfg.rslots * u->cfg.rslot;
  if (m[ION_M_OFF] < 0 || m[ION_M_LEN] < 0 || off < lo || len > span ||
      off - lo > span - len)
    return -EINVAL;
  int family = m[ION_M_FAMILY];
  if (family != 4 && family != 6) return -EINVAL;
  out->data = u->mem + off;
  out->len = len;
  out->family = family;
  out->port = (uint16_t)m[ION_M_PORT];
  out->scope = (uint32_t)m[ION_M_SCOPE];
  memcpy(out->addr, &m[ION_M_ADDR], 16);
  out->flags = (uint32_t)m[ION_M_FLAGS] & ION_MF_TRUNC;
  return 0;
}

int ion_udp_window_open(ion_udp *u, ion_dring_window *w, uint32_t seq,
                        uint32_t slots, uint32_t off, uint32_t len) {
  if (u->obj.closing) return -EBADF;
  return ion_dring_window_open(&u->dr, w, u->mem, u->lay.sdata,
                               u->cfg.sdata_len, seq, slots, off, len);
}

uint8_t *ion_udp_window_next(ion_udp *u, ion_dring_window *w, uint32_t len,
                             int family, const uint8_t addr[16], int port,
                             uint32_t scope) {
  uint8_t *payload;
  /* 16-byte aligned payloads: the AEAD and the copies run on whole words. */
  int32_t *d = ion_dring_window_next(&u->dr, w, len, 16, &payload);
  if (!d) return NULL;
  d[ION_M_FAMILY] = family;
  d[ION_M_PORT] = port;
  d[ION_M_SCOPE] = (int32_t)scope;
  memcpy(&d[ION_M_ADDR], addr, 16);
  return payload;
}
