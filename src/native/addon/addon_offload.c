/*
 * Node-API exports of the TUN offload engine, for tests and for JS that
 * wants to look at single packets (the data path calls the C functions
 * directly). Inputs are copied into scratch memory and results copied
 * into new Buffers: simple, not fast. Every argument is validated here and
 * refused with a Node-style code; failures of the engine itself come back
 * as a negative errno number, like every other export of the addon.
 *
 *   offloadSplit(read, maxSegments, slotSize) -> Buffer[] | -errno
 *   offloadCoalesce(packets, features)        -> Buffer[] | -errno
 *   tunEnableOffload(fd, want)                -> TUN_F_* set | -errno
 *   tunGroFeatures(tunFeatures)               -> ION_GRO_* set
 *   offloadConstants                          -> { name: number }
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addon/addon.h"
#include "addon/addon_offload.h"
#include "tun/offload.h"
#include "tun/tunsetup.h"

#define MAX_SPLIT_SEGS 1024

/* A Uint8Array (or Buffer) argument of at most max bytes. */
static bool u8_arg(napi_env env, napi_value v, const char *name, size_t max,
                   uint8_t **data, size_t *len) {
  bool is = false;
  napi_typedarray_type t;
  void *d = NULL;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &t, len, &d, NULL, NULL) != napi_ok ||
      t != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", name);
    return false;
  }
  if (*len > max) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", name);
    return false;
  }
  *data = d;
  return true;
}

/* An integer argument in [lo, hi]. */
static bool int_arg(napi_env env, napi_value v, const char *name, int64_t lo,
                    int64_t hi, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", name);
    return false;
  }
  if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", name);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

/* An array of n Buffers copied from the given pieces; NULL if it threw. */
static napi_value buffers(napi_env env, const struct ion_pkt *p, uint32_t n) {
  napi_value arr, b;
  if (napi_create_array_with_length(env, n, &arr) != napi_ok) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    if (napi_create_buffer_copy(env, p[i].len, p[i].data, NULL, &b) !=
            napi_ok ||
        napi_set_element(env, arr, i, b) != napi_ok)
      return NULL;
  }
  return arr;
}

static napi_value js_split(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  uint8_t *in;
  size_t len;
  int64_t nseg, slot;
  if (!ion_args(env, info, 3, argv) ||
      !u8_arg(env, argv[0], "read must be a Uint8Array of at most 65545 bytes",
              ION_VNET_HDR_LEN + ION_OFFLOAD_MAX_PKT, &in, &len) ||
      !int_arg(env, argv[1], "maxSegments must be an integer in 1..1024", 1,
               MAX_SPLIT_SEGS, &nseg) ||
      !int_arg(env, argv[2], "slotSize must be an integer in 1..65535", 1,
               ION_OFFLOAD_MAX_PKT, &slot))
    return NULL;
  uint8_t *mem = malloc((size_t)nseg * (size_t)slot);
  struct ion_pkt *out = calloc((size_t)nseg, sizeof(*out));
  napi_value r = NULL;
  if (!mem || !out) {
    r = ion_int(env, -ENOMEM);
    goto done;
  }
  for (int64_t i = 0; i < nseg; i++) {
    out[i].data = mem + i * slot;
    out[i].cap = (uint32_t)slot;
  }
  int rc = ion_vnet_split(in, len, out, (uint32_t)nseg);
  r = rc < 0 ? ion_int(env, rc) : buffers(env, out, (uint32_t)rc);
done:
  free(out);
  free(mem);
  return r;
}

/* Copy packets[] into one arena, each behind ION_VNET_HDR_LEN headroom.
 * False if it threw; *arena NULL (and true) when out of memory. */
static bool load_batch(napi_env env, napi_value arr, uint32_t n,
                       struct ion_pkt *p, uint8_t **arena) {
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t len;
    if (napi_get_element(env, arr, i, &v) != napi_ok ||
        !u8_arg(env, v, "packets[i] must be a Uint8Array of at most 65535 bytes",
                ION_OFFLOAD_MAX_PKT, &p[i].data, &len))
      return false;
    p[i].len = (uint32_t)len;
    total += ION_VNET_HDR_LEN + len;
  }
  *arena = malloc(total ? total : 1);
  if (!*arena) return true;
  uint8_t *at = *arena;
  for (uint32_t i = 0; i < n; i++) {
    if (p[i].len) memcpy(at + ION_VNET_HDR_LEN, p[i].data, p[i].len);
    p[i].data = at + ION_VNET_HDR_LEN;
    at += ION_VNET_HDR_LEN + p[i].len;
  }
  return true;
}

/* Each write gathered into one piece of out (lengths in w). */
static napi_value gather_writes(napi_env env, const struct ion_gro_write *w,
                                int nw, const struct iovec *iov) {
  struct ion_pkt *pieces = calloc((size_t)nw + 1, sizeof(*pieces));
  size_t total = 0;
  for (int k = 0; k < nw; k++) total += w[k].len;
  uint8_t *flat = malloc(total ? total : 1);
  napi_value r = NULL;
  if (!pieces || !flat) {
    r = ion_int(env, -ENOMEM);
  } else {
    size_t at = 0;
    for (int k = 0; k < nw; k++) {
      long n = ion_iov_gather(iov + w[k].iov, w[k].niov, flat + at, total - at);
      pieces[k].data = flat + at;
      pieces[k].len = n < 0 ? 0 : (uint32_t)n;
      at += pieces[k].len;
    }
    r = buffers(env, pieces, (uint32_t)nw);
  }
  free(flat);
  free(pieces);
  return r;
}

static napi_value js_coalesce(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool is = false;
  uint32_t n = 0;
  int64_t feat;
  if (!ion_args(env, info, 2, argv)) return NULL;
  if (napi_is_array(env, argv[0], &is) != napi_ok || !is ||
      napi_get_array_length(env, argv[0], &n) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "packets must be an array of Uint8Array");
    return NULL;
  }
  if (n > ION_GRO_MAX_BATCH) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "packets must hold at most 1024 packets");
    return NULL;
  }
  if (!int_arg(env, argv[1], "features must be an integer in 0..3", 0,
               ION_GRO_TCP | ION_GRO_UDP, &feat))
    return NULL;
  struct ion_pkt *p = calloc((size_t)n + 1, sizeof(*p));
  struct ion_gro_write *w = calloc((size_t)n + 1, sizeof(*w));
  struct iovec *iov = calloc((size_t)n + 1, sizeof(*iov));
  struct ion_gro *gro = malloc(sizeof(*gro));
  uint8_t *arena = NULL;
  napi_value r = NULL;
  if (!p || !w || !iov || !gro) {
    r = ion_int(env, -ENOMEM);
  } else if (load_batch(env, argv[0], n, p, &arena)) {
    int nw = arena ? ion_gro_coalesce(gro, p, n, (unsigned)feat, w, n, iov, n)
                   : -ENOMEM;
    r = nw < 0 ? ion_int(env, nw) : gather_writes(env, w, nw, iov);
  }
  free(arena);
  free(gro);
  free(iov);
  free(w);
  free(p);
  return r;
}

static napi_value js_enable(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd, want;
  if (!ion_args(env, info, 2, argv) ||
      !int_arg(env, argv[0], "fd must be an integer >= 0", 0, INT32_MAX, &fd) ||
      !int_arg(env, argv[1], "want must be a set of TUN_F_* bits", 0,
               ION_TUN_F_ALL, &want))
    return NULL;
  return ion_int(env, ion_tun_enable_offload((int)fd, (unsigned)want));
}

static napi_value js_gro_features(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t f;
  if (!ion_args(env, info, 1, argv) ||
      !int_arg(env, argv[0], "tunFeatures must be an integer in 0..255", 0,
               255, &f))
    return NULL;
  return ion_int(env, (int32_t)ion_tun_gro_features((unsigned)f));
}

static napi_value constants(napi_env env) {
  static const struct {
    const char *name;
    int32_t v;
  } c[] = {
      {"VNET_HDR_LEN", ION_VNET_HDR_LEN}, {"MAX_PKT", ION_OFFLOAD_MAX_PKT},
      {"GRO_TCP", ION_GRO_TCP},           {"GRO_UDP", ION_GRO_UDP},
      {"GRO_MAX_BATCH", ION_GRO_MAX_BATCH}, {"TUN_F_CSUM", ION_TUN_F_CSUM},
      {"TUN_F_TSO4", ION_TUN_F_TSO4},     {"TUN_F_TSO6", ION_TUN_F_TSO6},
      {"TUN_F_TSO_ECN", ION_TUN_F_TSO_ECN}, {"TUN_F_USO4", ION_TUN_F_USO4},
      {"TUN_F_USO6", ION_TUN_F_USO6},     {"TUN_F_ALL", ION_TUN_F_ALL},
  };
  napi_value o;
  napi_create_object(env, &o);
  for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
    napi_set_named_property(env, o, c[i].name, ion_int(env, c[i].v));
  return o;
}

void ion_offload_exports(napi_env env, napi_value exports) {
  napi_property_descriptor p[] = {
      {"offloadSplit", NULL, js_split, NULL, NULL, NULL, napi_default, NULL},
      {"offloadCoalesce", NULL, js_coalesce, NULL, NULL, NULL, napi_default,
       NULL},
      {"tunEnableOffload", NULL, js_enable, NULL, NULL, NULL, napi_default,
       NULL},
      {"tunGroFeatures", NULL, js_gro_features, NULL, NULL, NULL,
       napi_default, NULL},
      {"offloadConstants", NULL, NULL, NULL, NULL, constants(env),
       napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(p) / sizeof(p[0]), p);
}
