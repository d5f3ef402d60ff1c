/*
 * Node-API exports of the plain tunnel's native forwarders
 * (src/native/tunnel/forward.h; src/tunnel/tunnel.ts drives them): one
 * call per batch and direction, no JS per packet.
 *
 *   tunnelTunToUdp(tunId, udpId, start, count, seq, slots, at, bytes,
 *                  family, port, scope, addr: Int32Array(4), maxPayload,
 *                  out: Int32Array(8)) -> 0 | -errno
 *   tunnelUdpToTun(udpId, tunId, start, count, seq, slots, at, bytes,
 *                  family, port, scope, addr: Int32Array(4), maxPacket,
 *                  out: Int32Array(8)) -> 0 | -errno
 *
 * (seq, slots, at, bytes) is the window SendQueue.window() lent on the
 * receiving object; native checks it against its own counters. out gets
 * [next, used, packets, bytes, tooBig, notFromPeer, malformed]: JS commits
 * `used` descriptors (commitWindow) and, if next < count, asks again.
 */
#include <errno.h>
#include <string.h>

#include "addon/addon.h"
#include "addon/addon_tunnel.h"
#include "tunnel/forward.h"

#define NARGS 14

/* The live object of id v with these ops, or NULL. */
static ion_obj *live(addon *a, napi_env env, napi_value v,
                     const ion_obj_ops *ops) {
  int32_t id;
  if (!ion_arg_i32(env, v, &id) || id <= 0) return NULL;
  ion_obj *o = ion_reactor_get(&a->rx, (uint32_t)id);
  return o && !o->finalized && !o->closing && o->ops == ops ? o : NULL;
}

/* An Int32Array argument of exactly n elements; false after throwing. */
static bool i32_array(napi_env env, napi_value v, size_t n, int32_t **out) {
  bool is = false;
  napi_typedarray_type t;
  size_t len;
  void *d;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &t, &len, &d, NULL, NULL) != napi_ok ||
      t != napi_int32_array || len < n) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "expected an Int32Array");
    return false;
  }
  *out = d;
  return true;
}

typedef struct fwd_args {
  ion_obj *src, *dst;
  uint32_t v[11]; /* start, count, seq, slots, at, bytes, family, port,
                   * scope, (addr), limit */
  ion_fwd_peer peer;
  int32_t *out;
} fwd_args;

/* Read the arguments; NULL src/dst when an id is stale (-EBADF). False
 * after throwing. */
static bool get_args(napi_env env, napi_callback_info info, addon **a,
                     const ion_obj_ops *src, const ion_obj_ops *dst,
                     fwd_args *f) {
  napi_value argv[NARGS];
  *a = ion_addon_get(env, info, NARGS, argv);
  if (!*a) return false;
  memset(f, 0, sizeof(*f));
  for (int i = 0; i < 9; i++)
    if (!ion_arg_i32(env, argv[2 + i], (int32_t *)&f->v[i])) return false;
  int32_t *addr;
  if (!i32_array(env, argv[11], 4, &addr) ||
      !ion_arg_i32(env, argv[12], (int32_t *)&f->v[10]) ||
      !i32_array(env, argv[13], 8, &f->out))
    return false;
  f->peer.family = (int)f->v[6];
  f->peer.port = (uint16_t)f->v[7];
  f->peer.scope = f->v[8];
  memcpy(f->peer.addr, addr, 16);
  f->src = live(*a, env, argv[0], src);
  f->dst = live(*a, env, argv[1], dst);
  return true;
}

static void put_counts(int32_t *out, const ion_fwd_counts *c) {
  int32_t w[8] = {(int32_t)c->next,       (int32_t)c->used,
                  (int32_t)c->packets,    (int32_t)c->bytes,
                  (int32_t)c->too_big,    (int32_t)c->not_from_peer,
                  (int32_t)c->malformed,  0};
  memcpy(out, w, sizeof(w));
}

static napi_value js_tun_to_udp(napi_env env, napi_callback_info info) {
  addon *a;
  fwd_args f;
  if (!get_args(env, info, &a, &ion_file_ops, &ion_udp_ops, &f)) return NULL;
  if (!f.src || !f.dst) return ion_int(env, -EBADF);
  ion_file *tun = ion_file_of(f.src);
  ion_udp *udp = (ion_udp *)f.dst;
  ion_dring_window w;
  int rc = ion_udp_window_open(udp, &w, f.v[2], f.v[3], f.v[4], f.v[5]);
  ion_fwd_counts c = {0};
  if (rc == 0)
    rc = ion_fwd_tun_to_udp(tun, udp, &w, f.v[0], f.v[1], &f.peer, f.v[10],
                            &c);
  if (rc == 0) put_counts(f.out, &c);
  return ion_int(env, rc);
}

static napi_value js_udp_to_tun(napi_env env, napi_callback_info info) {
  addon *a;
  fwd_args f;
  if (!get_args(env, info, &a, &ion_udp_ops, &ion_file_ops, &f)) return NULL;
  if (!f.src || !f.dst) return ion_int(env, -EBADF);
  ion_udp *udp = (ion_udp *)f.src;
  ion_file *tun = ion_file_of(f.dst);
  ion_dring_window w;
  int rc = ion_file_window_open(tun, &w, f.v[2], f.v[3], f.v[4], f.v[5]);
  ion_fwd_counts c = {0};
  if (rc == 0)
    rc = ion_fwd_udp_to_tun(udp, tun, &w, f.v[0], f.v[1], &f.peer, f.v[10],
                            &c);
  if (rc == 0) put_counts(f.out, &c);
  return ion_int(env, rc);
}

void ion_tunnel_exports(napi_env env, napi_value exports) {
  napi_property_descriptor p[] = {
      {"tunnelTunToUdp", NULL, js_tun_to_udp, NULL, NULL, NULL, napi_default,
       NULL},
      {"tunnelUdpToTun", NULL, js_udp_to_tun, NULL, NULL, NULL, napi_default,
       NULL},
  };
  napi_define_properties(env, exports, sizeof(p) / sizeof(p[0]), p);
}
