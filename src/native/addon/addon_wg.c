/* Node-API glue of the WireGuard data path, part 1: argument helpers, the
 * device handle, peers, AllowedIPs, keypairs, counters. The batch calls
 * are in addon_wg_batch.c. See addon_wg.h for the error convention. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "addon/addon_wg.h"

/* ---- argument helpers ---- */

static void throw_type(napi_env env, const char *code, const char *name,
                       const char *what) {
  char msg[160];
  snprintf(msg, sizeof(msg), "The \"%s\" argument must be %s", name, what);
  napi_throw_type_error(env, code, msg);
}

static void throw_range(napi_env env, const char *name, double max) {
  char msg[160];
  snprintf(msg, sizeof(msg),
           "The value of \"%s\" is out of range. It must be an integer "
           ">= 0 and <= %.0f",
           name, max);
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
}

bool wgjs_u32(napi_env env, napi_value v, uint32_t max, uint32_t *out,
              const char *name) {
  napi_valuetype t;
  double d = -1;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    throw_type(env, "ERR_INVALID_ARG_TYPE", name, "of type number");
    return false;
  }
  napi_get_value_double(env, v, &d);
  if (!(d >= 0 && d <= max) || d != (double)(uint32_t)d) {
    throw_range(env, name, max);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

bool wgjs_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len,
                const char *name) {
  bool is = false;
  napi_typedarray_type t;
  void *p = NULL;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &t, len, &p, NULL, NULL) != napi_ok ||
      t != napi_uint8_array) {
    throw_type(env, "ERR_INVALID_ARG_TYPE", name, "a Uint8Array");
    return false;
  }
  static uint8_t empty[1]; /* a zero-length view may have no memory */
  *data = p ? p : empty;
  return true;
}

bool wgjs_time(napi_env env, napi_value v, uint64_t *out) {
  napi_valuetype t;
  bool lossless = false;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_bigint) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "The \"now\" argument must be of type bigint");
    return false;
  }
  napi_get_value_bigint_uint64(env, v, out, &lossless);
  if (lossless) return true;
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                         "The value of \"now\" must be in [0, 2^64)");
  return false;
}

napi_value wgjs_num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

void wgjs_set(napi_env env, napi_value obj, const char *key, napi_value v) {
  napi_set_named_property(env, obj, key, v);
}

static napi_value bytes_value(napi_env env, const uint8_t *p, size_t len) {
  napi_value buf;
  napi_create_buffer_copy(env, len, p, NULL, &buf);
  return buf;
}

/* An IP address given as 4 or 16 bytes: its family and bytes. */
static bool addr_arg(napi_env env, napi_value v, int *family, uint8_t **a) {
  size_t len;
  if (!wgjs_bytes(env, v, a, &len, "address")) return false;
  if (len == 4 || len == 16) {
    *family = len == 4 ? AF_INET : AF_INET6;
    return true;
  }
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                        "The \"address\" must have 4 or 16 bytes");
  return false;
}

static bool prop(napi_env env, napi_value obj, const char *key,
                 napi_value *out) {
  bool has = false;
  return napi_has_named_property(env, obj, key, &has) == napi_ok && has &&
         napi_get_named_property(env, obj, key, out) == napi_ok;
}

bool wgjs_endpoint(napi_env env, napi_value v, wg_endpoint *out) {
  napi_valuetype t;
  napi_value f, a, p, s;
  uint32_t family, port, scope = 0;
  uint8_t *addr;
  int af;
  memset(out, 0, sizeof(*out));
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_object ||
      !prop(env, v, "family", &f) || !prop(env, v, "address", &a) ||
      !prop(env, v, "port", &p)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "An endpoint must be {family, address, port}");
    return false;
  }
  if (!wgjs_u32(env, f, 6, &family, "family") ||
      !wgjs_u32(env, p, 65535, &port, "port") ||
      (prop(env, v, "scopeId", &s) &&
       !wgjs_u32(env, s, UINT32_MAX, &scope, "scopeId")))
    return false;
  /* The address last: a getter (JS) must not run between taking the
   * pointer to its bytes and copying them. */
  if (!addr_arg(env, a, &af, &addr)) return false;
  memcpy(out->addr, addr, af == AF_INET ? 4 : 16);
  if ((family != 4 && family != 6) || (family == 4) != (af == AF_INET)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                          "An endpoint's family must be 4 or 6 and match its address");
    return false;
  }
  out->family = (uint16_t)af;
  out->port = (uint16_t)port;
  out->scope_id = scope;
  return true;
}

napi_value wgjs_endpoint_value(napi_env env, const wg_endpoint *ep) {
  napi_value o, nul;
  bool v4 = ep->family == AF_INET;
  napi_create_object(env, &o);
  napi_get_null(env, &nul);
  wgjs_set(env, o, "family", wgjs_num(env, ep->family ? (v4 ? 4 : 6) : 0));
  wgjs_set(env, o, "address",
           ep->family ? bytes_value(env, ep->addr, v4 ? 4 : 16) : nul);
  wgjs_set(env, o, "port", wgjs_num(env, ep->port));
  wgjs_set(env, o, "scopeId", wgjs_num(env, ep->scope_id));
  return o;
}

/* ---- the device handle: a plain object wrapping the device ---- */

typedef wgjs_handle handle;

static const napi_type_tag handle_tag = {0x77670a64657669ceULL,
                                         0x696f7572696e6701ULL};

static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  handle *h = data;
  wg_device_free(h->dev);
  wg_link_scratch_free(&h->scratch);
  free(h);
}

wgjs_handle *wgjs_handle_of(napi_env env, napi_value v) {
  napi_valuetype t;
  bool tagged = false;
  void *h = NULL;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_object &&
      napi_check_object_type_tag(env, v, &handle_tag, &tagged) == napi_ok &&
      tagged && napi_unwrap(env, v, &h) == napi_ok)
    return h;
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                        "The \"device\" argument must be a handle from wgCreate");
  return NULL;
}

wg_device *wgjs_device(napi_env env, napi_value v) {
  handle *h = wgjs_handle_of(env, v);
  if (h && !h->dev)
    napi_throw_error(env, "ERR_INVALID_STATE", "The WireGuard device is closed");
  return h ? h->dev : NULL;
}

/* wgCreate(mtu, stagedCap, maxBatch) -> handle | -errno */
static napi_value js_create(napi_env env, napi_callback_info info) {
  napi_value argv[3], obj;
  wg_device_config c;
  if (!ion_args(env, info, 3, argv) ||
      !wgjs_u32(env, argv[0], WG_MAX_CONTENT, &c.mtu, "mtu") ||
      !wgjs_u32(env, argv[1], 65536, &c.staged_cap, "stagedCap") ||
      !wgjs_u32(env, argv[2], 65536, &c.max_batch, "maxBatch"))
    return NULL;
  handle *h = calloc(1, sizeof(*h));
  if (!h) return wgjs_num(env, -ENOMEM);
  int rc = wg_device_new(&h->dev, &c);
  if (rc == 0 && (napi_create_object(env, &obj) != napi_ok ||
                  napi_type_tag_object(env, obj, &handle_tag) != napi_ok))
    rc = -ENOMEM;
  if (rc == 0 && napi_wrap(env, obj, h, handle_finalize, NULL, NULL) == napi_ok)
    return obj;
  wg_device_free(h->dev);
  free(h);
  return wgjs_num(env, rc ? rc : -ENOMEM);
}

/* wgClose(device): frees keys and state now (idempotent). */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  handle *h;
  if (!ion_args(env, info, 1, argv) || !(h = wgjs_handle_of(env, argv[0])))
    return NULL;
  wg_device_free(h->dev);
  h->dev = NULL;
  wg_link_scratch_free(&h->scratch);
  return wgjs_num(env, 0);
}

/* The (device, peer id) every peer call starts with. */
static wg_device *dev_peer(napi_env env, napi_callback_info info, size_t n,
                           napi_value *argv, uint32_t *id) {
  if (!ion_args(env, info, n, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d || !wgjs_u32(env, argv[1], WG_PEER_ID_MAX - 1, id, "peer")) return NULL;
  return d;
}

/* wgPeerAdd(device, id) / wgPeerRemove(device, id) -> 0 | -errno */
static napi_value js_peer_add(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t id;
  wg_device *d = dev_peer(env, info, 2, argv, &id);
  return d ? wgjs_num(env, wg_device_add_peer(d, id)) : NULL;
}

static napi_value js_peer_remove(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t id;
  wg_device *d = dev_peer(env, info, 2, argv, &id);
  return d ? wgjs_num(env, wg_device_remove_peer(d, id)) : NULL;
}

/* wgPeerEndpoint(device, id, endpoint | null) -> 0 | -errno */
static napi_value js_peer_endpoint(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  napi_valuetype t;
  uint32_t id;
  wg_endpoint ep = {0};
  wg_device *d = dev_peer(env, info, 3, argv, &id);
  if (!d || napi_typeof(env, argv[2], &t) != napi_ok) return NULL;
  if (t != napi_null && !wgjs_endpoint(env, argv[2], &ep)) return NULL;
  return wgjs_num(env, wg_device_set_endpoint(d, id, &ep));
}

/* wgAllowedIpAdd / wgAllowedIpRemove(device, id, address, cidr) */
static napi_value aip_change(napi_env env, napi_callback_info info, bool add) {
  napi_value argv[4];
  uint32_t id, cidr;
  uint8_t *a;
  int af;
  wg_device *d = dev_peer(env, info, 4, argv, &id);
  if (!d || !addr_arg(env, argv[2], &af, &a) ||
      !wgjs_u32(env, argv[3], 128, &cidr, "cidr"))
    return NULL;
  int rc = add ? wg_device_allowedip_add(d, id, af, a, (uint8_t)cidr)
               : wg_device_allowedip_remove(d, id, af, a, (uint8_t)cidr);
  return wgjs_num(env, rc);
}

static napi_value js_aip_add(napi_env env, napi_callback_info info) {
  return aip_change(env, info, true);
}

static napi_value js_aip_remove(napi_env env, napi_callback_info info) {
  return aip_change(env, info, false);
}

/* wgAllowedIpClear(device, id) -> how many | -errno */
static napi_value js_aip_clear(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t id;
  wg_device *d = dev_peer(env, info, 2, argv, &id);
  return d ? wgjs_num(env, wg_device_allowedip_clear(d, id)) : NULL;
}

typedef struct list_ctx {
  napi_env env;
  napi_value arr;
  uint32_t n;
} list_ctx;

static int list_one(void *arg, int family, const uint8_t *addr, uint8_t cidr) {
  list_ctx *l = arg;
  napi_value pair;
  napi_create_array_with_length(l->env, 2, &pair);
  napi_set_element(l->env, pair, 0,
                   bytes_value(l->env, addr, family == AF_INET ? 4 : 16));
  napi_set_element(l->env, pair, 1, wgjs_num(l->env, cidr));
  napi_set_element(l->env, l->arr, l->n++, pair);
  return 0;
}

/* wgAllowedIpList(device, id) -> [[address, cidr], ...] | -errno */
static napi_value js_aip_list(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t id;
  wg_device *d = dev_peer(env, info, 2, argv, &id);
  if (!d) return NULL;
  list_ctx l = {env, NULL, 0};
  napi_create_array(env, &l.arr);
  int rc = wg_device_allowedip_walk(d, id, list_one, &l);
  return rc < 0 ? wgjs_num(env, rc) : l.arr;
}

/* wgAllowedIpLookup(device, address) -> peer id | -ENOENT */
static napi_value js_aip_lookup(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint8_t *a;
  int af;
  if (!ion_args(env, info, 2, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d || !addr_arg(env, argv[1], &af, &a)) return NULL;
  return wgjs_num(env, wg_device_allowedip_lookup(d, af, a));
}

static bool key_arg(napi_env env, napi_value v, uint8_t out[32],
                    const char *name) {
  uint8_t *k;
  size_t len;
  if (!wgjs_bytes(env, v, &k, &len, name)) return false;
  if (len == 32) {
    memcpy(out, k, 32);
    return true;
  }
  throw_type(env, "ERR_INVALID_ARG_VALUE", name, "32 bytes long");
  return false;
}

/* wgKeypairInstall(device, id, sendKey, recvKey, localIndex, remoteIndex,
 * initiator, now) -> 0 | -errno. The keys are copied; the caller zeroes
 * its buffers. */
static napi_value js_keypair_install(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  uint32_t id;
  uint64_t now;
  wg_keypair_params p = {0};
  napi_value r = NULL;
  wg_device *d = dev_peer(env, info, 8, argv, &id);
  if (d && key_arg(env, argv[2], p.send_key, "sendKey") &&
      key_arg(env, argv[3], p.recv_key, "recvKey") &&
      wgjs_u32(env, argv[4], UINT32_MAX, &p.local_index, "localIndex") &&
      wgjs_u32(env, argv[5], UINT32_MAX, &p.remote_index, "remoteIndex") &&
      wgjs_time(env, argv[7], &now)) {
    if (napi_get_value_bool(env, argv[6], &p.initiator) != napi_ok)
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                            "The \"initiator\" argument must be of type boolean");
    else
      r = wgjs_num(env, wg_device_install_keypair(d, id, &p, now));
  }
  OPENSSL_cleanse(&p, sizeof(p));
  return r;
}

/* wgKeypairsClear(device, id) -> 0 | -errno */
static napi_value js_keypairs_clear(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t id;
  wg_device *d = dev_peer(env, info, 2, argv, &id);
  return d ? wgjs_num(env, wg_device_clear_keypairs(d, id)) : NULL;
}

/* wgIndexInUse(device, index) -> boolean */
static napi_value js_index_in_use(napi_env env, napi_callback_info info) {
  napi_value argv[2], r;
  uint32_t index;
  if (!ion_args(env, info, 2, argv)) return NULL;
  wg_device *d = wgjs_device(env, argv[0]);
  if (!d || !wgjs_u32(env, argv[1], UINT32_MAX, &index, "index")) return NULL;
  napi_get_boolean(env, wg_device_index_in_use(d, index), &r);
  return r;
}

/* ---- registration ---- */

static napi_value drop_names(napi_env env) {
  static const char *names[WG_DROP_COUNT] = {
      [WG_DROP_NO_ROUTE] = "noRoute",
      [WG_DROP_TX_INVALID] = "txInvalid",
      [WG_DROP_NO_ENDPOINT] = "noEndpoint",
      [WG_DROP_STAGED_OVERFLOW] = "stagedOverflow",
      [WG_DROP_MALFORMED] = "malformed",
      [WG_DROP_UNKNOWN_INDEX] = "unknownIndex",
      [WG_DROP_KEY_EXPIRED] = "keyExpired",
      [WG_DROP_REPLAY] = "replay",
      [WG_DROP_AUTH] = "auth",
      [WG_DROP_INNER_INVALID] = "innerInvalid",
      [WG_DROP_SOURCE_NOT_ALLOWED] = "sourceNotAllowed",
      [WG_DROP_SINK] = "sink",
      [WG_DROP_CRYPTO_ERROR] = "cryptoError",
  };
  napi_value arr, s;
  napi_create_array_with_length(env, WG_DROP_COUNT, &arr);
  for (uint32_t i = 0; i < WG_DROP_COUNT; i++) {
    napi_create_string_utf8(env, names[i], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, i, s);
  }
  return arr;
}

static napi_value flag_values(napi_env env) {
  static const struct {
    const char *name;
    uint32_t bit;
  } flags[] = {
      {"dataSent", WG_PEER_DATA_SENT},
      {"keepaliveSent", WG_PEER_KEEPALIVE_SENT},
      {"authSent", WG_PEER_AUTH_SENT},
      {"dataReceived", WG_PEER_DATA_RECEIVED},
      {"keepaliveReceived", WG_PEER_KEEPALIVE_RECEIVED},
      {"authReceived", WG_PEER_AUTH_RECEIVED},
      {"handshakeWanted", WG_PEER_HANDSHAKE_WANTED},
      {"keepaliveWanted", WG_PEER_KEEPALIVE_WANTED},
      {"keypairConfirmed", WG_PEER_KEYPAIR_CONFIRMED},
      {"endpointChanged", WG_PEER_ENDPOINT_CHANGED},
      {"staged", WG_PEER_STAGED},
  };
  napi_value o;
  napi_create_object(env, &o);
  for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
    wgjs_set(env, o, flags[i].name, wgjs_num(env, flags[i].bit));
  return o;
}

void ion_wg_exports(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"wgCreate", js_create},
      {"wgClose", js_close},
      {"wgPeerAdd", js_peer_add},
      {"wgPeerRemove", js_peer_remove},
      {"wgPeerEndpoint", js_peer_endpoint},
      {"wgAllowedIpAdd", js_aip_add},
      {"wgAllowedIpRemove", js_aip_remove},
      {"wgAllowedIpClear", js_aip_clear},
      {"wgAllowedIpList", js_aip_list},
      {"wgAllowedIpLookup", js_aip_lookup},
      {"wgKeypairInstall", js_keypair_install},
      {"wgKeypairsClear", js_keypairs_clear},
      {"wgIndexInUse", js_index_in_use},
      {"wgEncrypt", wgjs_encrypt},
      {"wgFlushStaged", wgjs_flush},
      {"wgKeepalive", wgjs_keepalive},
      {"wgDecrypt", wgjs_decrypt},
      {"wgSummaries", wgjs_summaries},
      {"wgPeerStats", wgjs_peer_stats},
      {"wgDrops", wgjs_drops},
  };
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL,
                         &fn);
    wgjs_set(env, exports, fns[i].name, fn);
  }
  napi_value c;
  napi_create_object(env, &c);
  wgjs_set(env, c, "drops", drop_names(env));
  wgjs_set(env, c, "flags", flag_values(env));
  wgjs_set(env, c, "maxPeerId", wgjs_num(env, WG_PEER_ID_MAX - 1));
  wgjs_set(env, exports, "wgConstants", c);
  ion_wg_link_exports(env, exports);
}
