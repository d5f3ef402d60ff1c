/* Helpers of the WireGuard data path tests: capture sinks, IP packet
 * builders, and a pair of devices A and B whose keys mirror each other,
 * as two ends of one handshake would leave them.
 *
 *   A: peer 1 = B, AllowedIPs 10.0.0.2/32 fd00::2/128, endpoint 192.0.2.2:51820
 *   B: peer 7 = A, AllowedIPs 10.0.0.1/32 10.9.0.0/16 fd00::1/128,
 *      endpoint 192.0.2.1:51820
 *   keys: A initiator (index 0x1111), B responder (index 0x2222).
 *
 * Static (inline) only: each test binary includes it once. */
#ifndef ION_WG_PAIR_H
#define ION_WG_PAIR_H

#include "test_util.h"

#include "wg/datapath.h"
#include "wg/device.h"

#define A_PEER 7u /* A as B knows it */
#define B_PEER 1u /* B as A knows it */
#define T0 (1000 * WG_NS_PER_S)

/* ---- a transmit sink that keeps what it is given ---- */

typedef struct tx_msg {
  uint32_t peer;
  wg_endpoint ep;
  uint32_t off, len;
} tx_msg;

typedef struct tx_cap {
  uint8_t buf[1 << 18];
  tx_msg msgs[512];
  uint32_t used, n;
  uint32_t limit; /* reserve says no after this many messages */
} tx_cap;

static inline uint8_t *cap_reserve(void *ctx, uint32_t len) {
  tx_cap *c = ctx;
  if (c->n >= c->limit || c->n >= 512 || c->used + len > sizeof(c->buf))
    return NULL;
  return c->buf + c->used;
}

static inline void cap_commit(void *ctx, uint32_t peer, const wg_endpoint *ep,
                              uint32_t len) {
  tx_cap *c = ctx;
  c->msgs[c->n] = (tx_msg){peer, *ep, c->used, len};
  c->used += len;
  c->n++;
}

static inline tx_cap *tx_new(void) {
  tx_cap *c = calloc(1, sizeof(*c));
  if (c) c->limit = 512;
  return c;
}

static inline void tx_reset(tx_cap *c) { c->used = c->n = 0; }

static inline wg_tx_sink tx_sink(tx_cap *c) {
  return (wg_tx_sink){c, cap_reserve, cap_commit};
}

static inline uint8_t *tx_data(tx_cap *c, uint32_t i) {
  return c->buf + c->msgs[i].off;
}

/* ---- a receive sink ---- */

typedef struct rx_pkt {
  uint32_t peer, len;
  uint8_t data[2048];
} rx_pkt;

typedef struct rx_cap {
  rx_pkt pkts[256];
  uint32_t n;
  uint32_t hs_index[64], hs_type[64], nhs;
  bool refuse;
} rx_cap;

static inline int rcap_deliver(void *ctx, uint32_t peer, uint8_t *pkt,
                               uint32_t len) {
  rx_cap *c = ctx;
  if (c->refuse || c->n >= 256 || len > sizeof(c->pkts[0].data)) return -1;
  /* The 16 bytes before pkt are the sink's: scribble to prove it. */
  memset(pkt - WG_TRANSPORT_HEADER, 0xEE, WG_TRANSPORT_HEADER);
  c->pkts[c->n].peer = peer;
  c->pkts[c->n].len = len;
  memcpy(c->pkts[c->n].data, pkt, len);
  c->n++;
  return 0;
}

static inline void rcap_handshake(void *ctx, uint32_t i, uint32_t type) {
  rx_cap *c = ctx;
  if (c->nhs >= 64) return;
  c->hs_index[c->nhs] = i;
  c->hs_type[c->nhs++] = type;
}

static inline rx_cap *rx_new(void) { return calloc(1, sizeof(rx_cap)); }

static inline wg_rx_sink rx_sink(rx_cap *c) {
  return (wg_rx_sink){c, rcap_deliver, rcap_handshake};
}

/* ---- packets and endpoints ---- */

static inline wg_endpoint ep4(uint8_t last, uint16_t port) {
  wg_endpoint e = {.family = AF_INET, .port = port};
  e.addr[0] = 192, e.addr[1] = 0, e.addr[2] = 2, e.addr[3] = last;
  return e;
}

/* IPv4 10.a.b.c style addresses as 4 bytes. */
static inline void v4addr(uint8_t *o, uint8_t a, uint8_t b, uint8_t c,
                          uint8_t d) {
  o[0] = a, o[1] = b, o[2] = c, o[3] = d;
}

/* An IPv4/UDP-ish packet 10.0.0.<s> -> 10.0.0.<d> with a patterned
 * payload; returns its length. */
static inline uint32_t ip4_pkt(uint8_t *p, uint8_t s, uint8_t d,
                               uint32_t payload, unsigned seed) {
  uint32_t len = 20 + payload;
  memset(p, 0, 20);
  p[0] = 0x45;
  p[2] = (uint8_t)(len >> 8), p[3] = (uint8_t)len;
  p[8] = 64, p[9] = 17;
  v4addr(p + 12, 10, 0, 0, s);
  v4addr(p + 16, 10, 0, 0, d);
  fill(p + 20, payload, seed);
  return len;
}

/* IPv6 fd00::<s> -> fd00::<d>. */
static inline uint32_t ip6_pkt(uint8_t *p, uint8_t s, uint8_t d,
                               uint32_t payload, unsigned seed) {
  memset(p, 0, 40);
  p[0] = 0x60;
  p[4] = (uint8_t)(payload >> 8), p[5] = (uint8_t)payload;
  p[6] = 17, p[7] = 64;
  p[8] = 0xfd, p[23] = s;
  p[24] = 0xfd, p[39] = d;
  fill(p + 40, payload, seed);
  return 40 + payload;
}

/* ---- the pair ---- */

typedef struct pair {
  wg_device *a, *b;
  tx_cap *tx;
  rx_cap *rx;
} pair;

static inline void keys_of(wg_keypair_params *p, bool a_side, uint8_t gen,
                           uint32_t a_index, uint32_t b_index) {
  uint8_t ab[32], ba[32];
  memset(ab, 0xA0 + gen, 32);
  memset(ba, 0xB0 + gen, 32);
  memcpy(p->send_key, a_side ? ab : ba, 32);
  memcpy(p->recv_key, a_side ? ba : ab, 32);
  p->local_index = a_side ? a_index : b_index;
  p->remote_index = a_side ? b_index : a_index;
  p->initiator = a_side;
}

/* One handshake's keys into both (A initiator, B responder). */
static inline int pair_keys(pair *pr, uint8_t gen, uint32_t a_index,
                            uint32_t b_index, uint64_t now) {
  wg_keypair_params p;
  keys_of(&p, true, gen, a_index, b_index);
  int rc = wg_device_install_keypair(pr->a, B_PEER, &p, now);
  keys_of(&p, false, gen, a_index, b_index);
  if (rc == 0) rc = wg_device_install_keypair(pr->b, A_PEER, &p, now);
  return rc;
}

static inline int pair_open(pair *pr, uint32_t mtu, uint32_t staged,
                            bool with_keys) {
  wg_device_config cfg = {.mtu = mtu, .staged_cap = staged};
  uint8_t a4[4], ip6[16] = {0xfd};
  memset(pr, 0, sizeof(*pr));
  pr->tx = tx_new();
  pr->rx = rx_new();
  if (!pr->tx || !pr->rx) return -ENOMEM;
  int rc = wg_device_new(&pr->a, &cfg);
  if (rc == 0) rc = wg_device_new(&pr->b, &cfg);
  if (rc == 0) rc = wg_device_add_peer(pr->a, B_PEER);
  if (rc == 0) rc = wg_device_add_peer(pr->b, A_PEER);
  wg_endpoint ea = ep4(1, 51820), eb = ep4(2, 51820);
  if (rc == 0) rc = wg_device_set_endpoint(pr->a, B_PEER, &eb);
  if (rc == 0) rc = wg_device_set_endpoint(pr->b, A_PEER, &ea);
  v4addr(a4, 10, 0, 0, 2);
  ip6[15] = 2;
  if (rc == 0) rc = wg_device_allowedip_add(pr->a, B_PEER, AF_INET, a4, 32);
  if (rc == 0) rc = wg_device_allowedip_add(pr->a, B_PEER, AF_INET6, ip6, 128);
  v4addr(a4, 10, 0, 0, 1);
  ip6[15] = 1;
  if (rc == 0) rc = wg_device_allowedip_add(pr->b, A_PEER, AF_INET, a4, 32);
  if (rc == 0) rc = wg_device_allowedip_add(pr->b, A_PEER, AF_INET6, ip6, 128);
  v4addr(a4, 10, 9, 0, 0);
  if (rc == 0) rc = wg_device_allowedip_add(pr->b, A_PEER, AF_INET, a4, 16);
  if (rc == 0 && with_keys) rc = pair_keys(pr, 0, 0x1111, 0x2222, T0);
  return rc;
}

static inline void pair_close(pair *pr) {
  wg_device_free(pr->a);
  wg_device_free(pr->b);
  free(pr->tx);
  free(pr->rx);
}

/* Encrypt packets on `from` into pr->tx (reset first). */
static inline int send_pkts(pair *pr, wg_device *from, uint8_t pkts[][1600],
                            const uint32_t *lens, uint32_t n, uint64_t now,
                            wg_tx_result *res) {
  wg_packet in[64];
  if (n > 64) return -EINVAL;
  for (uint32_t i = 0; i < n; i++) in[i] = (wg_packet){pkts[i], lens[i]};
  tx_reset(pr->tx);
  wg_tx_sink s = tx_sink(pr->tx);
  return wg_encrypt_batch(from, in, n, &s, now, res);
}

/* Hand every captured message to `to` as datagrams from src (pr->rx is
 * reset first). */
static inline int recv_all(pair *pr, wg_device *to, wg_endpoint src,
                           uint64_t now, wg_rx_result *res) {
  wg_datagram dg[512];
  for (uint32_t i = 0; i < pr->tx->n; i++)
    dg[i] = (wg_datagram){tx_data(pr->tx, i), pr->tx->msgs[i].len, src};
  memset(pr->rx, 0, sizeof(*pr->rx));
  wg_rx_sink s = rx_sink(pr->rx);
  return wg_decrypt_batch(to, dg, pr->tx->n, &s, now, res);
}

/* Decrypt the given datagrams on `to` into pr->rx (reset first). */
static inline int recv_dgs(pair *pr, wg_device *to, wg_datagram *dg,
                           uint32_t n, uint64_t now, wg_rx_result *res) {
  memset(pr->rx, 0, sizeof(*pr->rx));
  wg_rx_sink s = rx_sink(pr->rx);
  return wg_decrypt_batch(to, dg, n, &s, now, res);
}

/* The summary of one peer (flags 0 and false when it was not touched). */
static inline bool summary_of(wg_device *d, uint32_t id, wg_peer_summary *out) {
  wg_peer_summary s[8];
  uint32_t n = wg_device_take_summaries(d, s, 8);
  memset(out, 0, sizeof(*out));
  for (uint32_t i = 0; i < n; i++)
    if (s[i].peer_id == id) {
      *out = s[i];
      return true;
    }
  return false;
}

static inline uint64_t drops_of(wg_device *d, enum wg_drop why) {
  uint64_t v[WG_DROP_COUNT];
  wg_device_drops(d, v);
  return v[why];
}

#endif
