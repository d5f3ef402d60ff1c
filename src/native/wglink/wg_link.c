/* The WireGuard device's data path between the UDP socket and the TUN
 * device (wg_link.h): sinks that write into ring windows, and the
 * chunking that keeps each call within the window it was given. */
#include "wglink/wg_link.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Payloads start 16-byte aligned in the object's memory (the AEAD and the
 * copies run on whole words): ion_udp_window_next and ion_file_window_next
 * align them so. */
#define LINK_ALIGN 16u
/* Packets per call at most: a batch is never larger than a receive pool
 * (UDP with GRO: 32768 buffers x 64 segments). */
#define LINK_MAX_BATCH (1u << 21)

static uint32_t align16(uint32_t n) {
  return (n + (LINK_ALIGN - 1)) & ~(LINK_ALIGN - 1);
}

void wg_link_scratch_free(wg_link_scratch *s) {
  free(s->pkts);
  free(s->dgs);
  memset(s, 0, sizeof(*s));
}

/* Room for n packets and n datagrams; grows only, so a steady flow of
 * batches allocates nothing. */
static int scratch_reserve(wg_link_scratch *s, uint32_t n) {
  if (n <= s->cap) return 0;
  if (n > LINK_MAX_BATCH) return -EINVAL;
  uint32_t cap = s->cap ? s->cap : 64;
  while (cap < n) cap *= 2; /* n <= 2^21: at most 15 doublings */
  wg_packet *p = realloc(s->pkts, cap * sizeof(*p));
  if (!p) return -ENOMEM;
  s->pkts = p;
  wg_datagram *d = realloc(s->dgs, cap * sizeof(*d));
  if (!d) return -ENOMEM;
  s->dgs = d;
  s->cap = cap;
  return 0;
}

/* ---- transmit: sealed messages into the UDP send window ---- */

typedef struct tx_ctx {
  ion_udp *u;
  ion_dring_window *w; /* NULL: no room at all */
  uint8_t *reserved;   /* where the last reserve said to write */
} tx_ctx;

/* The space the window's next descriptor will get, without taking it: the
 * data path may abandon a reserve (a failed seal), and a descriptor taken
 * for it would go out as garbage. commit takes it. */
static uint8_t *tx_reserve(void *ctx, uint32_t len) {
  tx_ctx *c = ctx;
  ion_dring_window *w = c->w;
  if (!w || w->used >= w->slots) return NULL;
  uint32_t at = align16(w->data_off + w->fill) - w->data_off;
  if (at > w->data_len || len > w->data_len - at) return NULL;
  c->reserved = w->data + at;
  return c->reserved;
}

static void tx_commit(void *ctx, uint32_t peer_id, const wg_endpoint *ep,
                      uint32_t len) {
  (void)peer_id;
  tx_ctx *c = ctx;
  uint8_t addr[16] = {0};
  int family = ep->family == AF_INET ? 4 : 6;
  memcpy(addr, ep->addr, family == 4 ? 4 : 16);
  uint8_t *p = ion_udp_window_next(c->u, c->w, len, family, addr, ep->port,
                                   ep->scope_id);
  /* Same window, same alignment rule: p is where reserve pointed. Should
   * the rule ever differ, move the message to where its descriptor says. */
  if (p && p != c->reserved) memmove(p, c->reserved, len);
}

static void tx_setup(tx_ctx *c, wg_tx_sink *sink, ion_udp *u,
                     ion_dring_window *w) {
  c->u = u;
  c->w = w;
  c->reserved = NULL;
  *sink = (wg_tx_sink){c, tx_reserve, tx_commit};
}

/* How many of pkts surely fit what is left of w: each message is at most
 * header + tag + the packet padded to 16, plus alignment. At least one, so
 * every call makes progress (a packet that does not fit is staged). */
static uint32_t seal_take(const ion_dring_window *w, const wg_packet *pkts,
                          uint32_t n) {
  if (!w) return n; /* every one is staged */
  uint64_t room = w->data_len - (w->fill < w->data_len ? w->fill : w->data_len);
  uint32_t slots = w->slots - w->used, k = 0;
  uint64_t need = 0;
  for (; k < n && k < slots; k++) {
    need += WG_TRANSPORT_OVERHEAD + align16(pkts[k].len) + LINK_ALIGN - 1;
    if (need > room) break;
  }
  return k ? k : 1;
}

int wg_link_seal(wg_device *d, ion_file *f, uint32_t start, uint32_t count,
                 ion_udp *u, ion_dring_window *w, uint64_t now,
                 wg_link_scratch *s, wg_link_tx *out) {
  memset(out, 0, sizeof(*out));
  out->next = start;
  if (start > count) return -EINVAL;
  uint32_t n = count - start;
  int rc = scratch_reserve(s, n);
  if (rc < 0) return rc;
  for (uint32_t i = 0; i < n; i++) {
    uint8_t *data;
    uint32_t len;
    if ((rc = ion_file_batch_get(f, start + i, &data, &len)) < 0) return rc;
    s->pkts[i] = (wg_packet){data, len};
  }
  tx_ctx c;
  wg_tx_sink sink;
  tx_setup(&c, &sink, u, w);
  wg_tx_result flushed = {0};
  /* Staged packets first (they are older), then size the chunk to what
   * is left of the window. */
  if (w && wg_device_staged_peers(d) &&
      (rc = wg_flush_staged(d, &sink, now, &flushed)) < 0)
    return rc;
  uint32_t take = n ? seal_take(w, s->pkts, n) : 0;
  if ((rc = wg_encrypt_batch(d, s->pkts, take, &sink, now, &out->res)) < 0)
    return rc;
  out->res.sent += flushed.sent;
  out->res.sink_full |= flushed.sink_full;
  out->next = start + take;
  out->used = w ? w->used : 0;
  return 0;
}

int wg_link_flush(wg_device *d, ion_udp *u, ion_dring_window *w,
                  uint64_t now, wg_link_tx *out) {
  memset(out, 0, sizeof(*out));
  tx_ctx c;
  wg_tx_sink sink;
  tx_setup(&c, &sink, u, w);
  int rc = wg_flush_staged(d, &sink, now, &out->res);
  out->used = w ? w->used : 0;
  return rc;
}

int wg_link_keepalive(wg_device *d, uint32_t id, bool only_if_owed,
                      ion_udp *u, ion_dring_window *w, uint64_t now,
                      wg_link_tx *out) {
  memset(out, 0, sizeof(*out));
  tx_ctx c;
  wg_tx_sink sink;
  tx_setup(&c, &sink, u, w);
  int rc = wg_send_keepalive(d, id, &sink, now, only_if_owed);
  out->used = w ? w->used : 0;
  if (rc > 0) out->res.sent = (uint32_t)rc;
  return rc;
}

/* ---- receive: plaintext into the TUN write window ---- */

typedef struct rx_ctx {
  ion_file *f;
  ion_dring_window *w; /* NULL: no room, plaintext dropped */
  uint32_t headroom;
  int32_t *hs;
  uint32_t hs_cap, nhs;
  uint32_t base; /* batch index of the first datagram of the call */
} rx_ctx;

static int rx_deliver(void *ctx, uint32_t peer_id, uint8_t *pkt,
                      uint32_t len) {
  (void)peer_id;
  rx_ctx *c = ctx;
  if (!c->w) return -ENOBUFS;
  uint8_t *p = ion_file_window_next(c->f, c->w, c->headroom + len);
  if (!p) return -ENOBUFS;
  memset(p, 0, c->headroom);
  memcpy(p + c->headroom, pkt, len);
  return 0;
}

static void rx_handshake(void *ctx, uint32_t i, uint32_t type) {
  (void)type;
  rx_ctx *c = ctx;
  if (c->nhs < c->hs_cap) c->hs[c->nhs++] = (int32_t)(c->base + i);
}

/* How many datagrams' plaintext surely fits what is left of w (at least
 * one, for progress). */
static uint32_t open_take(const ion_dring_window *w, const wg_datagram *dgs,
                          uint32_t n, uint32_t headroom) {
  if (!w) return n;
  uint64_t room = w->data_len - (w->fill < w->data_len ? w->fill : w->data_len);
  uint32_t slots = w->slots - w->used, k = 0;
  uint64_t need = 0;
  for (; k < n && k < slots; k++) {
    uint32_t len = dgs[k].len;
    uint32_t plain = len > WG_TRANSPORT_OVERHEAD ? len - WG_TRANSPORT_OVERHEAD : 0;
    need += (uint64_t)align16(headroom + plain) + LINK_ALIGN - 1;
    if (need > room) break;
  }
  return k ? k : 1;
}

/* Datagram i of u's batch as the data path takes it. */
static int datagram_at(ion_udp *u, uint32_t i, wg_datagram *dg) {
  ion_udp_pkt pkt;
  int rc = ion_udp_batch_get(u, i, &pkt);
  if (rc < 0) return rc;
  memset(dg, 0, sizeof(*dg));
  dg->data = pkt.data;
  dg->len = pkt.len;
  dg->src.family = pkt.family == 4 ? AF_INET : AF_INET6;
  dg->src.port = pkt.port;
  dg->src.scope_id = pkt.scope;
  memcpy(dg->src.addr, pkt.addr, pkt.family == 4 ? 4 : 16);
  return 0;
}

int wg_link_open(wg_device *d, ion_udp *u, uint32_t start, uint32_t count,
                 ion_file *f, ion_dring_window *w, uint32_t headroom,
                 uint64_t now, wg_link_scratch *s, int32_t *hs,
                 uint32_t hs_cap, wg_link_rx *out) {
  memset(out, 0, sizeof(*out));
  out->next = start;
  if (start > count || headroom > WG_LINK_MAX_HEADROOM) return -EINVAL;
  uint32_t n = count - start;
  int rc = scratch_reserve(s, n);
  if (rc < 0) return rc;
  for (uint32_t i = 0; i < n; i++)
    if ((rc = datagram_at(u, start + i, &s->dgs[i])) < 0) return rc;
  uint32_t take = n ? open_take(w, s->dgs, n, headroom) : 0;
  rx_ctx c = {f, w, headroom, hs, hs ? hs_cap : 0, 0, start};
  wg_rx_sink sink = {&c, rx_deliver, rx_handshake};
  if ((rc = wg_decrypt_batch(d, s->dgs, take, &sink, now, &out->res)) < 0)
    return rc;
  out->next = start + take;
  out->used = w ? w->used : 0;
  out->nhs = c.nhs;
  return 0;
}
