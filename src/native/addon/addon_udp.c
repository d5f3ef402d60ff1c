/* UDP exports. Arguments are validated in TS; here every value is checked
 * again only so that a JS bug cannot touch memory it does not own. Results
 * are 0 / a value, or -errno for TS to turn into a Node-style error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addon/addon.h"
#include "udp/udp_internal.h"

/* The socket named by argv[0], or NULL with *rc set. */
static ion_udp *udp_of(napi_env env, addon *a, napi_value v, int *rc) {
  int32_t id;
  *rc = -EBADF;
  if (!ion_arg_i32(env, v, &id) || id <= 0) return NULL;
  ion_obj *o = ion_reactor_get(&a->rx, (uint32_t)id);
  if (!o || o->finalized || o->ops != &ion_udp_ops)
    return NULL;
  *rc = 0;
  return (ion_udp *)o;
}

#define UDP_PROLOGUE(nargs)                               \
  napi_value argv[nargs];                                 \
  addon *a = ion_addon_get(env, info, nargs, argv);       \
  if (!a) return NULL;                                    \
  int rc;                                                 \
  ion_udp *u = udp_of(env, a, argv[0], &rc);              \
  if (!u) return ion_int(env, rc)

/* Flags of layout() and create(): offloads, and F_DUP: adopt a duplicate
 * of the fd given to create() (the caller keeps the original). */
enum { F_GRO = 1, F_GSO = 2, F_DUP = 4 };

/* layout(family, rslots, rslot, sslots, sdataLen, flags) -> [ctrl, stats,
 * rmeta, sdesc, rpool, sdata, total, slotHeader, rmetaEntries] or -errno */
static napi_value js_layout(napi_env env, napi_callback_info info) {
  napi_value argv[6], arr;
  size_t argc = 6;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t v[6] = {0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < 6; i++)
    if (i >= argc || !ion_arg_i32(env, argv[i], &v[i])) return NULL;
  ion_udp_config cfg = {.family = v[0],
                        .rslots = (uint32_t)v[1],
                        .rslot = (uint32_t)v[2],
                        .sslots = (uint32_t)v[3],
                        .sdata_len = (uint32_t)v[4],
                        .gro = (v[5] & F_GRO) != 0};
  ion_udp_layout l;
  int rc = ion_udp_layout_of(&cfg, &l);
  if (rc < 0) return ion_int(env, rc);
  uint32_t w[] = {l.ctrl,  l.stats, l.rmeta, l.sdesc,           l.rpool,
                  l.sdata, l.total, ION_UDP_SLOT_HDR, l.rmeta_n};
  uint32_t nw = sizeof(w) / sizeof(w[0]);
  napi_create_array_with_length(env, nw, &arr);
  for (uint32_t i = 0; i < nw; i++)
    napi_set_element(env, arr, i, ion_int(env, (int32_t)w[i]));
  return arr;
}

/* The fd create() adopts (argv[11]: -1 = make a new socket), duplicated
 * first with F_DUP. -1 with *rc = 0: none; -1 with *rc < 0: the dup failed. */
static int adopt_fd(napi_env env, napi_value v, int32_t flags, int *rc) {
  int32_t fd = -1;
  napi_valuetype t;
  *rc = 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return -1;
  if (!ion_arg_i32(env, v, &fd) || fd < 0) return -1;
  if (!(flags & F_DUP)) return fd;
  int d = ion_fd_dup(fd);
  if (d < 0) *rc = d;
  return d < 0 ? -1 : d;
}

/* create(family, rslots, rslot, sslots, sdataLen, multishot, ipv6Only,
 * maxPayload, backend, flags, fd) -> id or -errno. With fd (>= 0) the
 * socket adopts that UDP socket instead of making one. The socket's shared
 * memory is its own: JS asks for a view with udpMem(id). */
static napi_value js_create(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  addon *a = ion_addon_get(env, info, 11, argv);
  if (!a) return NULL;
  int32_t v[10];
  for (size_t i = 0; i < 10; i++)
    if (!ion_arg_i32(env, argv[i], &v[i])) return NULL;
  ion_udp_config cfg = {.family = v[0],
                        .rslots = (uint32_t)v[1],
                        .rslot = (uint32_t)v[2],
                        .sslots = (uint32_t)v[3],
                        .sdata_len = (uint32_t)v[4],
                        .multishot = v[5],
                        .ipv6_only = v[6],
                        .max_payload = (uint32_t)v[7],
                        .backend = v[8],
                        .gro = (v[9] & F_GRO) != 0,
                        .gso = (v[9] & F_GSO) != 0};
  ion_udp *u;
  int rc = 0;
  cfg.fd = adopt_fd(env, argv[10], v[9], &rc);
  cfg.adopt = cfg.fd >= 0;
  if (rc < 0) return ion_int(env, rc);
  int id = ion_udp_create(&a->rx, &cfg, &u);
  /* A duplicate made here is ours to close if it was not adopted. */
  if (id < 0 && cfg.adopt && (v[9] & F_DUP)) close(cfg.fd);
  if (id < 0) return ion_int(env, id);
  /* The addon's uv_poll moves this socket's packets (addon_poll.c). */
  if (cfg.backend == ION_BACKEND_MMSG) u->obj.poll = &ion_mmsg_poll_ops;
  return ion_int(env, id);
}

/* Reads (family, addr bytes, scope, port) starting at argv[i]. */
static bool addr_args(napi_env env, napi_value *argv, int32_t *family,
                      uint8_t addr[16], int32_t *scope, int32_t *port) {
  void *data;
  size_t len;
  if (!ion_arg_i32(env, argv[0], family) ||
      !ion_arg_bytes(env, argv[1], &data, &len) ||
      !ion_arg_i32(env, argv[2], scope) || !ion_arg_i32(env, argv[3], port))
    return false;
  memset(addr, 0, 16);
  memcpy(addr, data, len < 16 ? len : 16);
  return true;
}

/* bind(id, family, addr, scope, port, flags) */
static napi_value js_bind(napi_env env, napi_callback_info info) {
  UDP_PROLOGUE(6);
  int32_t family, scope, port, flags;
  uint8_t addr[16];
  if (!addr_args(env, argv + 1, &family, addr, &scope, &port) ||
      !ion_arg_i32(env, argv[5], &flags))
    return NULL;
  return ion_int(env, ion_udp_bind(u, family, addr, (uint32_t)scope, port,
                                   flags));
}

/* connect(id, family, addr, scope, port) */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  UDP_PROLOGUE(5);
  int32_t family, scope, port;
  uint8_t addr[16];
  if (!addr_args(env, argv + 1, &family, addr, &scope, &port)) return NULL;
  return ion_int(env,
                 ion_udp_connect(u, family, addr, (uint32_t)scope, port));
}

static napi_value js_disconnect(napi_env env, napi_callback_info info) {
  UDP_PROLOGUE(1);
  return ion_int(env, ion_udp_disconnect(u));
}

/* name(id, peer, out: Int32Array(12)) fills out like an rmeta entry. */
static napi_value js_name(napi_env env, napi_callback_info info) {
  UDP_PROLOGUE(3);
  int32_t peer;
  void *out;
  size_t len;
  if (!ion_arg_i32(env, argv[1], &peer) ||
      !ion_arg_bytes(env, argv[2], &out, &len))
    return NULL;
  if (len < ION_M_WORDS * 4) return ion_int(env, -EINVAL);
  return ion_int(env, ion_udp_name(u, peer, out));
}

static napi_value js_setopt(napi_env env, napi_callback_info info) {
  UDP_PROLOGUE(3);
  int32_t opt, value;
  if (!ion_arg_i32(env, argv[1], &opt) || !ion_arg_i32(env, argv[2], &value))
    return NULL;
  return ion_int(env, ion_udp_setopt(u, opt, value));
}

static napi_value js_getopt(napi_env env, napi_callback_info info) {
  UDP_PROLOGUE(2);
  int32_t opt;
  if (!ion_arg_i32(env, argv[1], &opt)) return NULL;
  return ion_int(env, ion_udp_getopt(u, opt));
}

/* Optional 16 address bytes: null/undefined -> NULL. */
static bool opt_addr(napi_env env, napi_value v, uint8_t out[16], bool *has) {
  napi_valuetype t;
  *has = false;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_null || t == napi_undefined) return true;
  void *data;
  size_t len;
  if (!ion_arg_bytes(env, v, &data, &len)) return false;
  memset(out, 0, 16);
  memcpy(out, data, len < 16 ? len : 16);
  *has = true;
  return true;
}

/* membership(id, join, family, group, source|null, iface|null, scope) */
static napi_value js_membership(napi_env env, napi_callback_info info) {
  UDP_PROLOGUE(7);
  int32_t join, family, scope;
  uint8_t group[16], source[16], iface[16];
  bool has_group, has_source, has_iface;
  if (!ion_arg_i32(env, argv[1], &join) ||
      !ion_arg_i32(env, argv[2], &family) ||
      !opt_addr(env, argv[3], group, &has_group) ||
      !opt_addr(env, argv[4], source, &has_source) ||
      !opt_addr(env, argv[5], iface, &has_iface) ||
      !ion_arg_i32(env, argv[6], &scope))
    return NULL;
  if (!has_group || (family != 4 && family != 6)) return ion_int(env, -EINVAL);
  return ion_int(env, ion_udp_membership(u, join, family, group,
                                         has_source ? source : NULL,
                                         has_iface ? iface : NULL,
                                         (uint32_t)scope));
}

/* multicastInterface(id, addr, scope) */
static napi_value js_multicast_if(napi_env env, napi_callback_info info) {
  UDP_PROLOGUE(3);
  int32_t scope;
  uint8_t addr[16];
  bool has;
  if (!opt_addr(env, argv[1], addr, &has) ||
      !ion_arg_i32(env, argv[2], &scope))
    return NULL;
  if (!has) memset(addr, 0, sizeof(addr));
  return ion_int(env, ion_udp_multicast_if(u, addr, (uint32_t)scope));
}

/* info(id) -> [fd, multishot, backend, gro, gso] */
static napi_value js_info(napi_env env, napi_callback_info info) {
  UDP_PROLOGUE(1);
  napi_value arr;
  napi_create_array_with_length(env, 5, &arr);
  napi_set_element(env, arr, 3, ion_int(env, ion_udp_gro_on(u)));
  napi_set_element(env, arr, 4, ion_int(env, ion_udp_gso_on(u)));
  napi_set_element(env, arr, 0, ion_int(env, ion_udp_fd(u)));
  napi_set_element(env, arr, 1, ion_int(env, ion_udp_is_multishot(u)));
  napi_set_element(env, arr, 2, ion_int(env, u->cfg.backend));
  return arr;
}

/* fdKind(fd) -> [kind (ION_FD_*: node's guessHandleType order), family] */
static napi_value js_fd_kind(napi_env env, napi_callback_info info) {
  napi_value argv[1], arr;
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || !ion_arg_i32(env, argv[0], &fd)) return NULL;
  int family = 0;
  int kind = ion_fd_kind(fd, &family);
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, ion_int(env, kind));
  napi_set_element(env, arr, 1, ion_int(env, family));
  return arr;
}

/* fdDup(fd) -> a close-on-exec duplicate, or -errno */
static napi_value js_fd_dup(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || !ion_arg_i32(env, argv[0], &fd)) return NULL;
  return ion_int(env, ion_fd_dup(fd));
}

void ion_udp_exports(napi_env env, napi_value exports) {
  napi_property_descriptor p[] = {
      {"udpLayout", NULL, js_layout, NULL, NULL, NULL, napi_default, NULL},
      {"udpCreate", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"udpBind", NULL, js_bind, NULL, NULL, NULL, napi_default, NULL},
      {"udpConnect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
      {"udpDisconnect", NULL, js_disconnect, NULL, NULL, NULL, napi_default,
       NULL},
      {"udpName", NULL, js_name, NULL, NULL, NULL, napi_default, NULL},
      {"udpSetOpt", NULL, js_setopt, NULL, NULL, NULL, napi_default, NULL},
      {"udpGetOpt", NULL, js_getopt, NULL, NULL, NULL, napi_default, NULL},
      {"udpInfo", NULL, js_info, NULL, NULL, NULL, napi_default, NULL},
      {"udpMembership", NULL, js_membership, NULL, NULL, NULL, napi_default,
       NULL},
      {"udpMulticastInterface", NULL, js_multicast_if, NULL, NULL, NULL,
       napi_default, NULL},
      {"fdKind", NULL, js_fd_kind, NULL, NULL, NULL, napi_default, NULL},
      {"fdDup", NULL, js_fd_dup, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(p) / sizeof(p[0]), p);
}
