/* Node-API glue of the WireGuard data path, part 2: the batch calls and
 * their results, per-peer summaries and counters.
 *
 * These exports copy: packets come in as Buffers, are processed in C
 * scratch memory and go back as new Buffers. That is for tests and for
 * the TS side until the lead points the sinks (datapath.h) at the UDP and
 * TUN rings, where nothing is copied. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addon/addon_wg.h"
#include "wg/datapath.h"

#define MAX_ITEMS 65536u          /* packets per call */
#define MAX_BYTES (256u << 20)    /* scratch per call */

/* ---- the transmit sink: messages appended to one growing buffer ---- */

typedef struct tx_msg {
  uint32_t peer;
  uint32_t len;
  size_t off;
  wg_endpoint ep;
} tx_msg;

typedef struct tx_glue {
  uint8_t *buf;
  size_t used, cap;
  tx_msg *msgs;
  uint32_t n, msgs_cap;
} tx_glue;

/* Growing only in reserve is safe: the pointer handed out is written
 * before the next reserve; committed messages are kept as offsets. */
static uint8_t *glue_reserve(void *ctx, uint32_t len) {
  tx_glue *g = ctx;
  if (g->n == g->msgs_cap) {
    uint32_t cap = g->msgs_cap ? g->msgs_cap * 2 : 64;
    tx_msg *m = cap <= MAX_ITEMS * 4 ? realloc(g->msgs, cap * sizeof(*m)) : NULL;
    if (!m) return NULL;
    g->msgs = m;
    g->msgs_cap = cap;
  }
  if (g->used + len > g->cap) {
    size_t cap = g->cap ? g->cap * 2 : 65536;
    while (cap < g->used + len) cap *= 2;
    uint8_t *b = cap <= MAX_BYTES ? realloc(g->buf, cap) : NULL;
    if (!b) return NULL;
    g->buf = b;
    g->cap = cap;
  }
  return g->buf + g->used;
}

static void glue_commit(void *ctx, uint32_t peer, const wg_endpoint *ep,
                        uint32_t len) {
  tx_glue *g = ctx;
  g->msgs[g->n++] = (tx_msg){peer, len, g->used, *ep};
  g->used += len;
}

typedef struct num_field {
  const char *key;
  double v;
} num_field;

#define ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* An object of n numbers, keys in the order given. */
static napi_value nums_object(napi_env env, const num_field *f, size_t n) {
  napi_value o;
  napi_create_object(env, &o);
  for (size_t i = 0; i < n; i++) wgjs_set(env, o, f[i].key, wgjs_num(env, f[i].v));
  return o;
}

/* {peer, data}, data a copy: the bytes are in scratch memory freed when the
 * call returns. */
static napi_value packet_value(napi_env env, uint32_t peer, const uint8_t *p,
                               size_t len) {
  napi_value o, b;
  napi_create_object(env, &o);
  wgjs_set(env, o, "peer", wgjs_num(env, peer));
  napi_create_buffer_copy(env, len, p, NULL, &b);
  wgjs_set(env, o, "data", b);
  return o;
}

/* {sent, staged, dropped, sinkFull, messages: [{peer, data, endpoint}]} */
static napi_value tx_result(napi_env env, const tx_glue *g,
                            const wg_tx_result *r) {
  const num_field counts[] = {
      {"sent", r->sent}, {"staged", r->staged}, {"dropped", r->dropped}};
  napi_value o = nums_object(env, counts, ELEMS(counts)), arr, full;
  napi_get_boolean(env, r->sink_full, &full);
  wgjs_set(env, o, "sinkFull", full);
  napi_create_array_with_length(env, g->n, &arr);
  for (uint32_t i = 0; i < g->n; i++) {
    const tx_msg *msg = &g->msgs[i];
    napi_value m = packet_value(env, msg->peer, g->buf + msg->off, msg->len);
    wgjs_set(env, m, "endpoint", wgjs_endpoint_value(env, &msg->ep));
    napi_set_element(env, arr, i, m);
  }
  wgjs_set(env, o, "messages", arr);
  return o;
}

static void tx_free(tx_glue *g) {
  free(g->buf);
  free(g->msgs);
}

/* The elements of a JS array of Uint8Arrays (at most MAX_ITEMS). */
static bool array_len(napi_env env, napi_value v, uint32_t *n,
                      const char *name) {
  bool is = false;
  if (napi_is_array(env, v, &is) != napi_ok || !is) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", name);
    return false;
  }
  napi_get_array_length(env, v, n);
  if (*n <= MAX_ITEMS) return true;
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "too many packets in one call");
  return false;
}

/* Copy the Uint8Arrays of a JS array into one C buffer. Reading elements
 * can run JS (a getter, a Proxy) that could detach or shrink a buffer we
 * already looked at, so C never keeps a pointer into JS memory across a
 * call into JS. Items longer than any message are cut to WG_MAX_MESSAGE+1
 * bytes: still too long for the data path, which drops them unread. */
static bool copy_items(napi_env env, napi_value arr, uint32_t n,
                       uint8_t **buf, size_t *offs, uint32_t *lens,
                       const char *name) {
  size_t used = 0, cap = 0; /* *buf holds at least 1 byte (items_alloc) */
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    uint8_t *data;
    size_t len;
    if (napi_get_element(env, arr, i, &e) != napi_ok ||
        !wgjs_bytes(env, e, &data, &len, name))
      return false;
    if (len > WG_MAX_MESSAGE + 1) len = WG_MAX_MESSAGE + 1;
    if (used + len > cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      while (ncap < used + len) ncap *= 2;
      uint8_t *nb = ncap <= MAX_BYTES ? realloc(*buf, ncap) : NULL;
      if (!nb) {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "too many bytes in one call");
        return false;
      }
      *buf = nb;
      cap = ncap;
    }
    if (len) memcpy(*buf + used, data, len);
    offs[i] = used;
    lens[i] = (uint32_t)len;
    used += len;
  }
  return true;
}

typedef struct items {
  uint8_t *buf;
  size_t *offs;
  uint32_t *lens;
} items;

static bool items_alloc(items *it, uint32_t n) {
  it->buf = malloc(1); /* never NULL: item pointers are buf + offset */
  it->offs = calloc(n ? n : 1, sizeof(*it->offs));
  it->lens = calloc(n ? n : 1, sizeof(*it->lens));
  return it->buf && it->offs && it->lens;
}

static void items_free(items *it) {
  free(it->buf);
  free(it->offs);
  free(it->lens);
}

/* wgEncrypt(device, packets: Uint8Array[], now) -> tx result */
napi_value wgjs_encrypt(napi_env env, napi_callback_info info) {
  napi_value argv[3], r = NULL;
  uint32_t n;
  uint64_t now;
  items it;
  tx_glue g = {0};
  wg_tx_sink sink = {&g, glue_reserve, glue_commit};
  wg_tx_result res;
  if (!ion_args(env, info, 3, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d || !array_len(env, argv[1], &n, "packets must be an array") ||
      !wgjs_time(env, argv[2], &now))
    return NULL;
  wg_packet *pkts = calloc(n ? n : 1, sizeof(*pkts));
  if (!items_alloc(&it, n) || !pkts) {
    r = wgjs_num(env, -ENOMEM);
  } else if (copy_items(env, argv[1], n, &it.buf, it.offs, it.lens,
                        "packets[i]")) {
    for (uint32_t i = 0; i < n; i++)
      pkts[i] = (wg_packet){it.buf + it.offs[i], it.lens[i]};
    int rc = wg_encrypt_batch(d, pkts, n, &sink, now, &res);
    r = rc < 0 ? wgjs_num(env, rc) : tx_result(env, &g, &res);
  }
  tx_free(&g);
  items_free(&it);
  free(pkts);
  return r;
}

/* wgFlushStaged(device, now) -> tx result */
napi_value wgjs_flush(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint64_t now;
  if (!ion_args(env, info, 2, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d || !wgjs_time(env, argv[1], &now)) return NULL;
  tx_glue g = {0};
  wg_tx_sink sink = {&g, glue_reserve, glue_commit};
  wg_tx_result res;
  int rc = wg_flush_staged(d, &sink, now, &res);
  napi_value r = rc < 0 ? wgjs_num(env, rc) : tx_result(env, &g, &res);
  tx_free(&g);
  return r;
}

/* wgKeepalive(device, id, now, onlyIfOwed) -> tx result (sent = messages)
 * | -errno */
napi_value wgjs_keepalive(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  uint32_t id;
  uint64_t now;
  bool owed;
  if (!ion_args(env, info, 4, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d || !wgjs_u32(env, argv[1], WG_PEER_ID_MAX - 1, &id, "peer") ||
      !wgjs_time(env, argv[2], &now))
    return NULL;
  if (napi_get_value_bool(env, argv[3], &owed) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "The \"onlyIfOwed\" argument must be of type boolean");
    return NULL;
  }
  tx_glue g = {0};
  wg_tx_sink sink = {&g, glue_reserve, glue_commit};
  int rc = wg_send_keepalive(d, id, &sink, now, owed);
  wg_tx_result res = {.sent = rc > 0 ? (uint32_t)rc : 0};
  napi_value r = rc < 0 ? wgjs_num(env, rc) : tx_result(env, &g, &res);
  tx_free(&g);
  return r;
}

/* ---- the receive sink ---- */

typedef struct rx_item {
  uint32_t peer, len; /* peer, or the message type for a handshake */
  size_t off;         /* into the scratch, or the datagram index */
} rx_item;

typedef struct rx_glue {
  uint8_t *base;
  rx_item *pkts, *hs;
  uint32_t npkts, nhs;
} rx_glue;

static int glue_deliver(void *ctx, uint32_t peer, uint8_t *pkt, uint32_t len) {
  rx_glue *g = ctx;
  g->pkts[g->npkts++] = (rx_item){peer, len, (size_t)(pkt - g->base)};
  return 0;
}

static void glue_handshake(void *ctx, uint32_t i, uint32_t type) {
  rx_glue *g = ctx;
  g->hs[g->nhs++] = (rx_item){type, 0, i};
}

/* {delivered, keepalives, handshakes, dropped, packets: [{peer, data}],
 *  handshakeMessages: [{index, type}]} */
static napi_value rx_value(napi_env env, const rx_glue *g,
                           const wg_rx_result *r) {
  const num_field counts[] = {{"delivered", r->delivered},
                              {"keepalives", r->keepalives},
                              {"handshakes", r->handshakes},
                              {"dropped", r->dropped}};
  napi_value o = nums_object(env, counts, ELEMS(counts)), pkts, hs;
  napi_create_array_with_length(env, g->npkts, &pkts);
  for (uint32_t i = 0; i < g->npkts; i++) {
    const rx_item *p = &g->pkts[i];
    napi_set_element(env, pkts, i,
                     packet_value(env, p->peer, g->base + p->off, p->len));
  }
  napi_create_array_with_length(env, g->nhs, &hs);
  for (uint32_t i = 0; i < g->nhs; i++) {
    const num_field h[] = {{"index", (double)g->hs[i].off},
                           {"type", g->hs[i].peer}};
    napi_set_element(env, hs, i, nums_object(env, h, ELEMS(h)));
  }
  wgjs_set(env, o, "packets", pkts);
  wgjs_set(env, o, "handshakeMessages", hs);
  return o;
}

/* The sources: an array of endpoints, one per datagram, or null. */
static bool rx_sources(napi_env env, napi_value srcs, uint32_t n,
                       wg_datagram *dg) {
  napi_valuetype st;
  uint32_t nsrc = 0;
  if (napi_typeof(env, srcs, &st) != napi_ok || st == napi_null ||
      st == napi_undefined)
    return true;
  if (!array_len(env, srcs, &nsrc, "sources must be an array or null"))
    return false;
  if (nsrc != n) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "sources must have one endpoint per datagram");
    return false;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, srcs, i, &e) != napi_ok ||
        !wgjs_endpoint(env, e, &dg[i].src))
      return false;
  }
  return true;
}

/* wgDecrypt(device, datagrams: Uint8Array[], sources: endpoint[] | null,
 * now) -> rx result. The datagrams are copied: decryption is in place and
 * JS memory is not ours to change. */
napi_value wgjs_decrypt(napi_env env, napi_callback_info info) {
  napi_value argv[4], r = NULL;
  uint32_t n;
  uint64_t now;
  items it;
  rx_glue g = {0};
  if (!ion_args(env, info, 4, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d || !array_len(env, argv[1], &n, "datagrams must be an array") ||
      !wgjs_time(env, argv[3], &now))
    return NULL;
  wg_datagram *dg = calloc(n ? n : 1, sizeof(*dg));
  g.pkts = calloc(n ? n : 1, sizeof(*g.pkts));
  g.hs = calloc(n ? n : 1, sizeof(*g.hs));
  if (!items_alloc(&it, n) || !dg || !g.pkts || !g.hs) {
    r = wgjs_num(env, -ENOMEM);
  } else if (copy_items(env, argv[1], n, &it.buf, it.offs, it.lens,
                        "datagrams[i]") &&
             rx_sources(env, argv[2], n, dg)) {
    for (uint32_t i = 0; i < n; i++) {
      dg[i].data = it.buf + it.offs[i];
      dg[i].len = it.lens[i];
    }
    wg_rx_sink sink = {&g, glue_deliver, glue_handshake};
    wg_rx_result res;
    g.base = it.buf;
    int rc = wg_decrypt_batch(d, dg, n, &sink, now, &res);
    r = rc < 0 ? wgjs_num(env, rc) : rx_value(env, &g, &res);
  }
  items_free(&it);
  free(dg);
  free(g.pkts);
  free(g.hs);
  return r;
}

/* ---- counters ---- */

/* wgSummaries(device) -> [{peer, flags, rxBytes, txBytes, rxPackets,
 * txPackets, drops, staged}], and resets them. */
napi_value wgjs_summaries(napi_env env, napi_callback_info info) {
  napi_value argv[1], arr;
  wg_peer_summary s[64];
  uint32_t total = 0, n;
  if (!ion_args(env, info, 1, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d) return NULL;
  napi_create_array(env, &arr);
  /* Bounded: each round empties up to 64 of the (finite) touched list. */
  while ((n = wg_device_take_summaries(d, s, 64)) > 0) {
    for (uint32_t i = 0; i < n; i++) {
      const num_field f[] = {
          {"peer", s[i].peer_id},           {"flags", s[i].flags},
          {"rxBytes", (double)s[i].rx_bytes}, {"txBytes", (double)s[i].tx_bytes},
          {"rxPackets", s[i].rx_packets},   {"txPackets", s[i].tx_packets},
          {"drops", s[i].drops},            {"staged", s[i].staged}};
      napi_set_element(env, arr, total++, nums_object(env, f, ELEMS(f)));
    }
  }
  return arr;
}

static napi_value drops_value(napi_env env, const uint64_t *v) {
  napi_value arr;
  napi_create_array_with_length(env, WG_DROP_COUNT, &arr);
  for (uint32_t i = 0; i < WG_DROP_COUNT; i++)
    napi_set_element(env, arr, i, wgjs_num(env, (double)v[i]));
  return arr;
}

/* wgPeerStats(device, id) -> {...} | -errno */
napi_value wgjs_peer_stats(napi_env env, napi_callback_info info) {
  napi_value argv[2], b;
  uint32_t id;
  wg_peer_stats s;
  if (!ion_args(env, info, 2, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d || !wgjs_u32(env, argv[1], WG_PEER_ID_MAX - 1, &id, "peer")) return NULL;
  int rc = wg_device_peer_stats(d, id, &s);
  if (rc < 0) return wgjs_num(env, rc);
  const num_field nums[] = {
      {"rxBytes", (double)s.rx_bytes},        {"txBytes", (double)s.tx_bytes},
      {"rxPackets", (double)s.rx_packets},    {"txPackets", (double)s.tx_packets},
      {"rxKeepalives", (double)s.rx_keepalives},
      {"txKeepalives", (double)s.tx_keepalives},
      {"lastRxNs", (double)s.last_rx_ns},     {"lastTxNs", (double)s.last_tx_ns},
      {"staged", s.staged},
      {"currentSendCounter", (double)s.current_send_counter},
  };
  napi_value o = nums_object(env, nums, ELEMS(nums));
  const struct {
    const char *k;
    bool v;
  } flags[] = {{"owesKeepalive", s.owes_keepalive},
               {"hasCurrent", s.has_current},
               {"hasPrevious", s.has_previous},
               {"hasNext", s.has_next}};
  for (size_t i = 0; i < ELEMS(flags); i++) {
    napi_get_boolean(env, flags[i].v, &b);
    wgjs_set(env, o, flags[i].k, b);
  }
  wgjs_set(env, o, "drops", drops_value(env, s.drops));
  wgjs_set(env, o, "endpoint", wgjs_endpoint_value(env, &s.endpoint));
  return o;
}

/* wgDrops(device) -> number[] by reason (wgConstants.drops names them) */
napi_value wgjs_drops(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint64_t v[WG_DROP_COUNT];
  if (!ion_args(env, info, 1, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d) return NULL;
  wg_device_drops(d, v);
  return drops_value(env, v);
}
