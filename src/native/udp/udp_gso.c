/*
 * UDP GSO for both backends: a run of send descriptors to one destination,
 * all of one size but the last (which may be shorter), leaves in one
 * sendmsg with a UDP_SEGMENT control message; the kernel (or the device)
 * cuts it into datagrams. Receivers see ordinary datagrams. Each descriptor
 * still gets its own result, and a run the route refuses is sent again
 * datagram by datagram, so GSO never changes what arrives.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/udp.h>
#include <string.h>

#include "udp/udp_internal.h"

/* Same destination: both connected (family 0), or equal address words. */
static bool same_dest(const int32_t *a, const int32_t *b) {
  if (a[ION_M_FAMILY] != b[ION_M_FAMILY] || a[ION_M_PORT] != b[ION_M_PORT])
    return false;
  if (a[ION_M_FAMILY] == 0) return true;
  if (a[ION_M_FAMILY] == 4) return a[ION_M_ADDR] == b[ION_M_ADDR];
  return a[ION_M_SCOPE] == b[ION_M_SCOPE] &&
         memcmp(&a[ION_M_ADDR], &b[ION_M_ADDR], 16) == 0;
}

uint32_t ion_udp_gso_run(ion_udp *u, uint32_t seq, uint32_t tail) {
  if (!u->gcount) return 1;
  uint32_t head = seq & (u->cfg.sslots - 1);
  u->gcount[head] = 1;
  uint32_t seg = (uint32_t)u->sends[head].iov.iov_len;
  if (!u->gso || seg == 0 || seg >= u->gso_max_seg) return 1;
  /* A run the kernel refused goes out one by one (mmsg.c). */
  if ((int32_t)(u->nogso_until - seq) > 0) return 1;
  /* Descriptors pushed after the head, and free room in the ring after it
   * (JS never pushes past it; do not trust that). */
  uint32_t pushed = tail - seq - 1;
  uint32_t window = u->cfg.sslots - (seq - u->dr.frontier) - 1;
  uint32_t avail = pushed < window ? pushed : window;
  const int32_t *hd = ion_dring_desc(&u->dr, head);
  /* The run's iovecs must be contiguous: it stops at the ring's end. */
  uint32_t room = u->cfg.sslots - head;
  uint32_t limit = avail + 1 < room ? avail + 1 : room;
  if (limit > ION_UDP_GSO_SEGS) limit = ION_UDP_GSO_SEGS;
  uint32_t n = 1, total = seg;
  while (n < limit) {
    uint32_t slot = head + n;
    const int32_t *d = ion_dring_desc(&u->dr, slot);
    if (!same_dest(hd, d) || ion_udp_build_send(u, slot, d) < 0) break;
    uint32_t len = (uint32_t)u->sends[slot].iov.iov_len;
    if (len == 0 || len > seg || total + len > ION_UDP_GSO_BYTES) break;
    total += len;
    n++;
    if (len < seg) break; /* only the last may be shorter */
  }
  if (n < 2) return 1;
  for (uint32_t k = 0; k < n; k++) u->giov[head + k] = u->sends[head + k].iov;
  ion_udp_send *h = &u->sends[head];
  h->msg.msg_iov = &u->giov[head];
  h->msg.msg_iovlen = n;
  memset(&h->control, 0, sizeof(h->control));
  struct cmsghdr *c = &h->control.align;
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  uint16_t seg16 = (uint16_t)seg;
  memcpy(CMSG_DATA(c), &seg16, sizeof(seg16));
  h->msg.msg_control = h->control.bytes;
  h->msg.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
  u->gcount[head] = (uint8_t)n;
  return n;
}

void ion_udp_gso_unrun(ion_udp *u, uint32_t head) {
  ion_udp_send *h = &u->sends[head];
  h->msg.msg_iov = &h->iov;
  h->msg.msg_iovlen = 1;
  h->msg.msg_control = NULL;
  h->msg.msg_controllen = 0;
  if (u->gcount) u->gcount[head] = 1;
}

/* EIO: the route's device cannot segment (no checksum offload), so stop
 * using GSO on this socket. EMSGSIZE or EINVAL: segments of this size do not
 * fit the route's MTU (single datagrams may still, fragmented): group only
 * smaller ones from now on. */
void ion_udp_gso_learn(ion_udp *u, uint32_t head, int32_t res) {
  u->stats[ION_S_GSO_FALLBACKS]++;
  if (res == -EIO) u->gso = false;
  uint32_t seg = (uint32_t)u->sends[head].iov.iov_len;
  if ((res == -EINVAL || res == -EMSGSIZE) && seg < u->gso_max_seg)
    u->gso_max_seg = seg;
}

void ion_udp_gso_done(ion_udp *u, uint32_t head, uint32_t n, int32_t res) {
  if (res >= 0 && n > 1) u->stats[ION_S_GSO_SENDS]++;
  for (uint32_t k = 0; k < n; k++)
    ion_udp_send_done(u, head + k,
                      res < 0 ? res : (int32_t)u->sends[head + k].iov.iov_len);
}
