/* Node-API glue of the WireGuard device's data path between the UDP socket
 * and the TUN device (src/native/wglink/wg_link.h): one call per batch (or
 * per ring window), results written into Int32Arrays/Float64Arrays JS
 * allocated once, so the hot path creates no JS objects.
 *
 *   wgSealTun(dev, tunId, start, count, udpId, seq, slots, at, bytes, now, out)
 *   wgOpenUdp(dev, udpId, start, count, tunId, seq, slots, at, bytes, now, out, hs)
 *   wgFlushTo(dev, udpId, seq, slots, at, bytes, now, out)
 *   wgKeepaliveTo(dev, peer, onlyIfOwed, udpId, seq, slots, at, bytes, now, out)
 *   wgSummariesInto(dev, f64) / wgTunHeadroom(dev, n)
 *   wgKeypairDrop(dev, peer, localIndex) / wgStagedClear(dev, peer)
 *
 * (seq, slots, at, bytes) is a window from SendQueue.window() of the ring
 * written into (slots 0: no window, no room); it is checked by the ring's
 * owner before anything is written. `now` is the device clock in ns (a
 * number or a bigint). out (Int32Array, >= 8 words) receives, in order:
 *   seal/flush/keepalive: next, used, sent, staged, dropped, sinkFull
 *   open: next, used, delivered, keepalives, handshakes, dropped, nhs
 * where next is the first input index not consumed (call again from it
 * with a new window) and used the window descriptors JS must commit. The
 * batch indices of handshake messages go to hs (Int32Array). Returns 0
 * (keepalive: messages sent) or -errno; JS mistakes throw coded errors. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "addon/addon.h"
#include "addon/addon_wg.h"
#include "file/file.h"
#include "udp/udp.h"
#include "wglink/wg_link.h"

#define OUT_WORDS 8u
#define SUMMARY_WORDS 8u

enum { O_NEXT, O_USED, O_SENT, O_STAGED, O_DROPPED, O_FULL };
enum { O_DELIVERED = 2, O_KEEPALIVES, O_HANDSHAKES, O_RXDROPPED, O_NHS };

/* An Int32Array/Float64Array of at least min elements, or throw. */
static bool typed_arg(napi_env env, napi_value v, napi_typedarray_type want,
                      size_t min, void **data, size_t *len, const char *name) {
  bool is = false;
  napi_typedarray_type t;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is &&
      napi_get_typedarray_info(env, v, &t, len, data, NULL, NULL) == napi_ok &&
      t == want && *len >= min)
    return true;
  char msg[128];
  snprintf(msg, sizeof(msg), "The \"%s\" argument must be a %s of at least %zu elements",
           name, want == napi_int32_array ? "Int32Array" : "Float64Array", min);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return false;
}

/* The device clock: a non-negative number or bigint of ns. */
static bool now_arg(napi_env env, napi_value v, uint64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_bigint)
    return wgjs_time(env, v, out);
  double d = -1;
  if (t == napi_number) napi_get_value_double(env, v, &d);
  if (t == napi_number && isfinite(d) && d >= 0 && d < 1.8e19) {
    *out = (uint64_t)d;
    return true;
  }
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                        "The \"now\" argument must be a number or bigint of ns >= 0");
  return false;
}

/* The live object `id` names: a UDP socket (udp) or a TUN device. NULL
 * with *rc = -EBADF when it is gone or of the other kind. */
static ion_obj *object_of(addon *a, napi_env env, napi_value v, bool udp,
                          int *rc) {
  uint32_t id;
  *rc = -EBADF;
  if (!wgjs_u32(env, v, INT32_MAX, &id, udp ? "udpId" : "tunId")) return NULL;
  ion_obj *o = id ? ion_reactor_get(&a->rx, id) : NULL;
  if (!o || o->finalized) return NULL;
  if (udp ? o->ops != &ion_udp_ops : !ion_file_of(o)) return NULL;
  *rc = 0;
  return o;
}

/* argv[0..3] = seq, slots, at, bytes: a window, or none (slots 0). */
static bool window_args(napi_env env, napi_value *argv, uint32_t v[4]) {
  static const char *names[4] = {"seq", "slots", "at", "bytes"};
  for (int i = 0; i < 4; i++)
    if (!wgjs_u32(env, argv[i], UINT32_MAX, &v[i], names[i])) return false;
  return true;
}

/* t into out; returns rc for JS. */
static napi_value put_tx(napi_env env, int32_t *out, const wg_link_tx *t,
                         int rc) {
  memset(out, 0, OUT_WORDS * sizeof(*out));
  out[O_NEXT] = (int32_t)t->next;
  out[O_USED] = (int32_t)t->used;
  out[O_SENT] = (int32_t)t->res.sent;
  out[O_STAGED] = (int32_t)t->res.staged;
  out[O_DROPPED] = (int32_t)t->res.dropped;
  out[O_FULL] = t->res.sink_full;
  return wgjs_num(env, rc);
}

/* argv[0..n) of a call on the rings, whose argv[0] is an open device: its
 * handle, with the reactor in *a; NULL after throwing. */
static wgjs_handle *link_call(napi_env env, napi_callback_info info, size_t n,
                              napi_value *argv, addon **a) {
  *a = ion_addon_get(env, info, n, argv);
  if (!*a) return NULL;
  wgjs_handle *h = wgjs_handle_of(env, argv[0]);
  return h && wgjs_device(env, argv[0]) ? h : NULL;
}

/* What every call that writes into the UDP send ring shares: the device,
 * the socket, and its window opened (w NULL when slots is 0). */
typedef struct tx_call {
  wgjs_handle *h;
  ion_udp *u;
  ion_dring_window win, *w;
  uint64_t now;
  int32_t *out;
} tx_call;

/* argv[i..i+4] = udpId, seq, slots, at, bytes; then now, out. false after
 * throwing; *rc < 0 for a gone socket or a refused window. */
static bool tx_setup(napi_env env, addon *a, napi_value *argv, size_t i,
                     tx_call *c, int *rc) {
  uint32_t v[4];
  void *out;
  size_t n;
  *rc = 0;
  c->w = NULL;
  ion_obj *o = object_of(a, env, argv[i], true, rc);
  if (!o && *rc == 0) return false;
  if (!window_args(env, argv + i + 1, v) || !now_arg(env, argv[i + 5], &c->now) ||
      !typed_arg(env, argv[i + 6], napi_int32_array, OUT_WORDS, &out, &n, "out"))
    return false;
  c->out = out;
  /* Nothing used unless the call says so (early -errno returns too). */
  memset(c->out, 0, OUT_WORDS * sizeof(*c->out));
  if (!o) return true;
  c->u = (ion_udp *)o;
  if (v[1]) {
    *rc = ion_udp_window_open(c->u, &c->win, v[0], v[1], v[2], v[3]);
    c->w = *rc < 0 ? NULL : &c->win;
  }
  return true;
}

/* wgSealTun(dev, tunId, start, count, udpId, seq, slots, at, bytes, now, out) */
static napi_value js_seal_tun(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  addon *a;
  uint32_t start, count;
  int rc, frc;
  tx_call c = {.h = link_call(env, info, 11, argv, &a)};
  if (!c.h || !wgjs_u32(env, argv[2], UINT32_MAX, &start, "start") ||
      !wgjs_u32(env, argv[3], UINT32_MAX, &count, "count"))
    return NULL;
  ion_obj *fo = object_of(a, env, argv[1], false, &frc);
  if (!fo && frc == 0) return NULL;
  if (!tx_setup(env, a, argv, 4, &c, &rc)) return NULL;
  if (frc < 0 || rc < 0) return wgjs_num(env, frc < 0 ? frc : rc);
  if (count > fo->rcount) return wgjs_num(env, -EINVAL);
  wg_link_tx t;
  rc = wg_link_seal(c.h->dev, ion_file_of(fo), start, count, c.u, c.w, c.now,
                    &c.h->scratch, &t);
  return put_tx(env, c.out, &t, rc);
}

/* wgFlushTo(dev, udpId, seq, slots, at, bytes, now, out) */
static napi_value js_flush_to(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  addon *a;
  int rc;
  tx_call c = {.h = link_call(env, info, 8, argv, &a)};
  if (!c.h || !tx_setup(env, a, argv, 1, &c, &rc)) return NULL;
  if (rc < 0 || !c.u) return wgjs_num(env, rc < 0 ? rc : -EBADF);
  wg_link_tx t;
  rc = wg_link_flush(c.h->dev, c.u, c.w, c.now, &t);
  return put_tx(env, c.out, &t, rc);
}

/* wgKeepaliveTo(dev, peer, onlyIfOwed, udpId, seq, slots, at, bytes, now,
 * out) -> messages sent | -errno (-ENOBUFS: it waits staged) */
static napi_value js_keepalive_to(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  addon *a;
  uint32_t peer;
  bool owed = false;
  int rc;
  tx_call c = {.h = link_call(env, info, 10, argv, &a)};
  if (!c.h || !wgjs_u32(env, argv[1], WG_PEER_ID_MAX - 1, &peer, "peer"))
    return NULL;
  if (napi_get_value_bool(env, argv[2], &owed) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "The \"onlyIfOwed\" argument must be of type boolean");
    return NULL;
  }
  if (!tx_setup(env, a, argv, 3, &c, &rc)) return NULL;
  if (rc < 0 || !c.u) return wgjs_num(env, rc < 0 ? rc : -EBADF);
  wg_link_tx t;
  rc = wg_link_keepalive(c.h->dev, peer, owed, c.u, c.w, c.now, &t);
  return put_tx(env, c.out, &t, rc);
}

/* wgOpenUdp(dev, udpId, start, count, tunId, seq, slots, at, bytes, now,
 * out, hs) */
static napi_value js_open_udp(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  addon *a;
  wgjs_handle *h = link_call(env, info, 12, argv, &a);
  uint32_t start, count, v[4];
  uint64_t now;
  void *out, *hs;
  size_t nout, nhs;
  int urc, frc, rc = 0;
  if (!h || !wgjs_u32(env, argv[2], UINT32_MAX, &start, "start") ||
      !wgjs_u32(env, argv[3], UINT32_MAX, &count, "count"))
    return NULL;
  ion_obj *uo = object_of(a, env, argv[1], true, &urc);
  if (!uo && urc == 0) return NULL;
  ion_obj *fo = object_of(a, env, argv[4], false, &frc);
  if ((!fo && frc == 0) || !window_args(env, argv + 5, v) ||
      !now_arg(env, argv[9], &now) ||
      !typed_arg(env, argv[10], napi_int32_array, OUT_WORDS, &out, &nout, "out") ||
      !typed_arg(env, argv[11], napi_int32_array, 0, &hs, &nhs, "hs"))
    return NULL;
  memset(out, 0, OUT_WORDS * sizeof(int32_t)); /* nothing used unless said */
  if (urc < 0) return wgjs_num(env, urc);
  if (count > uo->rcount) return wgjs_num(env, -EINVAL);
  ion_file *f = fo ? ion_file_of(fo) : NULL;
  ion_dring_window win, *w = NULL;
  /* A TUN device gone or closing, or no room: the plaintext is dropped,
   * but every datagram is still authenticated and counted. */
  if (f && v[1] && (rc = ion_file_window_open(f, &win, v[0], v[1], v[2], v[3])) == 0)
    w = &win;
  if (rc < 0 && rc != -EBADF) return wgjs_num(env, rc);
  wg_link_rx r;
  rc = wg_link_open(h->dev, (ion_udp *)uo, start, count, f, w, h->tun_headroom,
                    now, &h->scratch, hs, (uint32_t)(nhs > UINT32_MAX ? UINT32_MAX : nhs), &r);
  int32_t *o = out;
  memset(o, 0, OUT_WORDS * sizeof(*o));
  o[O_NEXT] = (int32_t)r.next;
  o[O_USED] = (int32_t)r.used;
  o[O_DELIVERED] = (int32_t)r.res.delivered;
  o[O_KEEPALIVES] = (int32_t)r.res.keepalives;
  o[O_HANDSHAKES] = (int32_t)r.res.handshakes;
  o[O_RXDROPPED] = (int32_t)r.res.dropped;
  o[O_NHS] = (int32_t)r.nhs;
  return wgjs_num(env, rc);
}

/* wgSummariesInto(dev, f64) -> n: SUMMARY_WORDS doubles per peer touched
 * since the last call (peer, flags, rxBytes, txBytes, rxPackets,
 * txPackets, drops, staged); the rest wait for the next call. */
static napi_value js_summaries_into(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  void *data;
  size_t len;
  wg_peer_summary s[32];
  if (!ion_args(env, info, 2, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d || !typed_arg(env, argv[1], napi_float64_array, SUMMARY_WORDS, &data, &len, "out"))
    return NULL;
  double *o = data;
  uint32_t cap = (uint32_t)(len / SUMMARY_WORDS), total = 0, n;
  /* Bounded: each round takes at least one summary or ends. */
  while (total < cap &&
         (n = wg_device_take_summaries(d, s, cap - total < 32 ? cap - total : 32)) > 0) {
    for (uint32_t i = 0; i < n; i++, total++) {
      double *e = o + (size_t)total * SUMMARY_WORDS;
      e[0] = s[i].peer_id;
      e[1] = s[i].flags;
      e[2] = (double)s[i].rx_bytes;
      e[3] = (double)s[i].tx_bytes;
      e[4] = s[i].rx_packets;
      e[5] = s[i].tx_packets;
      e[6] = s[i].drops;
      e[7] = s[i].staged;
    }
  }
  return wgjs_num(env, total);
}

/* wgTunHeadroom(dev, n): zero bytes written before each TUN packet (a
 * virtio_net_hdr when the device has offloads on). */
static napi_value js_tun_headroom(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t n;
  if (!ion_args(env, info, 2, argv)) return NULL;
  wgjs_handle *h = wgjs_handle_of(env, argv[0]);
  if (!h || !wgjs_device(env, argv[0]) ||
      !wgjs_u32(env, argv[1], WG_LINK_MAX_HEADROOM, &n, "headroom"))
    return NULL;
  h->tun_headroom = n;
  return wgjs_num(env, 0);
}

/* wgKeypairDrop(dev, peer, localIndex) -> 0 | -ENOENT */
static napi_value js_keypair_drop(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  uint32_t peer, index;
  if (!ion_args(env, info, 3, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d || !wgjs_u32(env, argv[1], WG_PEER_ID_MAX - 1, &peer, "peer") ||
      !wgjs_u32(env, argv[2], UINT32_MAX, &index, "localIndex"))
    return NULL;
  return wgjs_num(env, wg_device_drop_keypair(d, peer, index));
}

/* wgStagedClear(dev, peer) -> packets dropped | -ENOENT */
static napi_value js_staged_clear(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t peer;
  if (!ion_args(env, info, 2, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d || !wgjs_u32(env, argv[1], WG_PEER_ID_MAX - 1, &peer, "peer")) return NULL;
  return wgjs_num(env, wg_device_clear_staged(d, peer));
}

void ion_wg_link_exports(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"wgSealTun", js_seal_tun},
      {"wgOpenUdp", js_open_udp},
      {"wgFlushTo", js_flush_to},
      {"wgKeepaliveTo", js_keepalive_to},
      {"wgSummariesInto", js_summaries_into},
      {"wgTunHeadroom", js_tun_headroom},
      {"wgKeypairDrop", js_keypair_drop},
      {"wgStagedClear", js_staged_clear},
  };
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn);
    wgjs_set(env, exports, fns[i].name, fn);
  }
}
