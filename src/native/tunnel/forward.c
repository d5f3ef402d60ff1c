/* The plain tunnel's forwarders (see forward.h). */
#include "tunnel/forward.h"

#include <errno.h>
#include <string.h>

/* An IP packet the TUN takes: version 4 with at least its 20-byte header,
 * or 6 with its 40 bytes (the kernel checks the rest). */
static int is_ip(const uint8_t *p, uint32_t len) {
  uint8_t v = len ? p[0] >> 4 : 0;
  return (v == 4 && len >= 20) || (v == 6 && len >= 40);
}

static int from_peer(const ion_udp_pkt *d, const ion_fwd_peer *p) {
  return d->family == p->family && d->port == p->port &&
         memcmp(d->addr, p->addr, p->family == 4 ? 4 : 16) == 0;
}

int ion_fwd_tun_to_udp(ion_file *tun, ion_udp *udp, ion_dring_window *w,
                       uint32_t start, uint32_t count,
                       const ion_fwd_peer *peer, uint32_t max_payload,
                       ion_fwd_counts *c) {
  if (!tun || !udp || !w || !peer || !c) return -EINVAL;
  if (peer->family != 4 && peer->family != 6) return -EINVAL;
  memset(c, 0, sizeof(*c));
  uint32_t i = start;
  for (; i < count; i++) {
    uint8_t *data;
    uint32_t len;
    if (ion_file_batch_get(tun, i, &data, &len) < 0) {
      c->malformed++; /* out of the batch, or an entry JS overwrote */
      continue;
    }
    if (ion_file_batch_truncated(tun, i) || len > max_payload) {
      c->too_big++;
      continue;
    }
    uint8_t *dst = ion_udp_window_next(udp, w, len, peer->family, peer->addr,
                                       peer->port, peer->scope);
    if (!dst) break; /* the window is full: the caller decides */
    memcpy(dst, data, len);
    c->packets++;
    c->bytes += len;
  }
  c->next = i;
  c->used = w->used;
  return 0;
}

int ion_fwd_udp_to_tun(ion_udp *udp, ion_file *tun, ion_dring_window *w,
                       uint32_t start, uint32_t count,
                       const ion_fwd_peer *peer, uint32_t max_packet,
                       ion_fwd_counts *c) {
  if (!tun || !udp || !w || !peer || !c) return -EINVAL;
  memset(c, 0, sizeof(*c));
  uint32_t i = start;
  for (; i < count; i++) {
    ion_udp_pkt d;
    if (ion_udp_batch_get(udp, i, &d) < 0) {
      c->malformed++;
      continue;
    }
    if (!from_peer(&d, peer)) {
      c->not_from_peer++;
      continue;
    }
    if ((d.flags & ION_MF_TRUNC) || d.len > max_packet) {
      c->too_big++;
      continue;
    }
    if (!is_ip(d.data, d.len)) {
      c->malformed++;
      continue;
    }
    uint8_t *dst = ion_file_window_next(tun, w, d.len);
    if (!dst) break;
    memcpy(dst, d.data, d.len);
    c->packets++;
    c->bytes += d.len;
  }
  c->next = i;
  c->used = w->used;
  return 0;
}
