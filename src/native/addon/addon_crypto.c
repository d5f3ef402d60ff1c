/* Node-API glue for src/native/crypto: the only file here that knows
 * Node-API. The exports are synchronous, touch no reactor state (they work
 * before init() and in any worker), and never trust JS sizes: every buffer
 * must be a Uint8Array of the exact length the operation needs, outputs may
 * not overlap inputs, and anything else throws a TypeError/RangeError with
 * a Node-style code.
 *
 *   wgBlake2sMac(out, key, msg)                  out: 1..32 bytes, key 1..32
 *   wgHChaCha20(out32, key32, nonce16)
 *   wgXChaCha20Poly1305Seal(out, key32, nonce24, plaintext, ad)
 *       out.length === plaintext.length + 16
 *   wgXChaCha20Poly1305Open(out, key32, nonce24, ciphertext, ad) -> boolean
 *       out.length === ciphertext.length - 16; false when the tag is wrong
 *       (out is then zeroed)
 *   wgChaCha20Poly1305Seal(out, key32, nonce12, plaintext, ad, lowlevel)
 *       out.length === plaintext.length + pad + 16, pad 0..15: the
 *       plaintext followed by pad zero bytes, sealed (WireGuard's padding)
 *   wgChaCha20Poly1305Open(out, key32, nonce12, ciphertext, ad, lowlevel)
 *       -> boolean: the data path's AEAD (wg/aead.h) on a chosen OpenSSL
 *       path, for tests that hold the two paths against each other and
 *       RFC 8439; lowlevel=true throws ERR_IOURING_NET_UNSUPPORTED when
 *       this OpenSSL does not export the low-level routines
 *   wgAeadBackend() -> { name, reason, lowlevelAvailable }: the path the
 *       data plane uses in this process and why
 *   wgAeadBench(lowlevel, len, iterations) -> { sealNs, openNs }: one
 *       core's cost per seal and open of a len-byte packet on that path
 *       (bench/wireguard.ts); blocks for the whole run, so keep it short
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NAPI_VERSION 8
#include <node_api.h>

#include "addon/addon.h"
#include "addon/addon_crypto.h"
#include "crypto/wg_crypto.h"
#include "wg/aead.h"
#include "wg/aead_bench.h"
#include "wg/aead_lowlevel.h"

typedef struct {
  uint8_t *p;
  size_t n;
} bytes;

static void throw_range(napi_env env, const char *name, size_t got,
                        const char *want) {
  char msg[256];
  snprintf(msg, sizeof(msg),
           "The length of \"%s\" is out of range. It must be %s. Received %zu",
           name, want, got);
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
}

/* A Uint8Array (Buffer included) argument, or false after throwing. */
static bool arg_u8(napi_env env, napi_value v, const char *name, bytes *out) {
  bool is = false;
  napi_typedarray_type t;
  size_t n = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &t, &n, &data, NULL, NULL) !=
          napi_ok ||
      t != napi_uint8_array) {
    char msg[128];
    snprintf(msg, sizeof(msg),
             "The \"%s\" argument must be an instance of Uint8Array", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  out->p = data;
  out->n = n;
  return true;
}

/* Like arg_u8, and the length must lie in [min, max]. */
static bool arg_len(napi_env env, napi_value v, const char *name, size_t min,
                    size_t max, bytes *out) {
  if (!arg_u8(env, v, name, out)) return false;
  if (out->n >= min && out->n <= max) return true;
  char want[64];
  if (min == max)
    snprintf(want, sizeof(want), "%zu", min);
  else
    snprintf(want, sizeof(want), ">= %zu && <= %zu", min, max);
  throw_range(env, name, out->n, want);
  return false;
}

static bool overlap(const bytes *a, const bytes *b) {
  if (!a->n || !b->n) return false;
  uintptr_t a0 = (uintptr_t)a->p, b0 = (uintptr_t)b->p;
  return a0 < b0 + b->n && b0 < a0 + a->n;
}

/* The output must not share memory with any input: OpenSSL allows only an
 * exact in-place alias, and a partial one would read what it just wrote. */
static bool check_disjoint(napi_env env, const bytes *out, const bytes *ins,
                           size_t nins) {
  for (size_t i = 0; i < nins; i++) {
    if (overlap(out, &ins[i])) {
      napi_throw_error(env, "ERR_INVALID_ARG_VALUE",
                       "The \"out\" buffer must not overlap an input buffer");
      return false;
    }
  }
  return true;
}

/* rc from wg_crypto.h: 0 -> undefined; anything else throws. */
static napi_value finish(napi_env env, int rc, const char *what) {
  if (rc == 0) return NULL;
  char msg[128];
  snprintf(msg, sizeof(msg), "%s failed in OpenSSL (errno %d)", what, -rc);
  napi_throw_error(env, "ERR_CRYPTO_OPERATION_FAILED", msg);
  return NULL;
}

static napi_value js_blake2s_mac(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  bytes out, in[2];
  if (!ion_args(env, info, 3, argv) ||
      !arg_len(env, argv[0], "out", 1, WG_BLAKE2S_MAX_OUT, &out) ||
      !arg_len(env, argv[1], "key", 1, WG_BLAKE2S_MAX_KEY, &in[0]) ||
      !arg_u8(env, argv[2], "msg", &in[1]) || !check_disjoint(env, &out, in, 2))
    return NULL;
  return finish(env,
                wg_blake2s_mac(out.p, out.n, in[0].p, in[0].n, in[1].p,
                               in[1].n),
                "keyed BLAKE2s");
}

static napi_value js_hchacha20(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  bytes out, in[2];
  if (!ion_args(env, info, 3, argv) ||
      !arg_len(env, argv[0], "out", 32, 32, &out) ||
      !arg_len(env, argv[1], "key", WG_XCHACHA_KEY, WG_XCHACHA_KEY, &in[0]) ||
      !arg_len(env, argv[2], "nonce", WG_HCHACHA_NONCE, WG_HCHACHA_NONCE,
               &in[1]) ||
      !check_disjoint(env, &out, in, 2))
    return NULL;
  return finish(env, wg_hchacha20(out.p, in[0].p, in[1].p), "HChaCha20");
}

/* Shared argument checks of seal/open: in = key, nonce, data, ad; argv
 * holds 6 values (the last only for the data-path AEAD). */
static bool aead_args(napi_env env, napi_callback_info info, bool seal,
                      size_t nonce_len, napi_value argv[6], bytes *out,
                      bytes in[4]) {
  if (!ion_args(env, info, nonce_len == WG_XCHACHA_NONCE ? 5 : 6, argv) ||
      !arg_u8(env, argv[0], "out", out) ||
      !arg_len(env, argv[1], "key", WG_XCHACHA_KEY, WG_XCHACHA_KEY, &in[0]) ||
      !arg_len(env, argv[2], "nonce", nonce_len, nonce_len, &in[1]) ||
      !arg_len(env, argv[3], seal ? "plaintext" : "ciphertext",
               seal ? 0 : WG_AEAD_TAG, WG_XCHACHA_MAX_LEN, &in[2]) ||
      !arg_len(env, argv[4], "ad", 0, WG_XCHACHA_MAX_LEN, &in[3]))
    return false;
  size_t want = seal ? in[2].n + WG_AEAD_TAG : in[2].n - WG_AEAD_TAG;
  /* The data-path seal pads as WireGuard does: up to 15 zero bytes after
   * the plaintext, sealed without being copied in (out says how many). */
  size_t slack = seal && nonce_len == WG_AEAD_NONCE_LEN ? 15 : 0;
  if (out->n < want || out->n > want + slack) {
    char w[128];
    snprintf(w, sizeof(w), "%zu (the %s length %s 16)%s", want,
             seal ? "plaintext" : "ciphertext", seal ? "plus" : "minus",
             slack ? ", plus up to 15 bytes of padding" : "");
    throw_range(env, "out", out->n, w);
    return false;
  }
  return check_disjoint(env, out, in, 4);
}

static napi_value js_xchacha_seal(napi_env env, napi_callback_info info) {
  bytes out, in[4];
  napi_value argv[6];
  if (!aead_args(env, info, true, WG_XCHACHA_NONCE, argv, &out, in))
    return NULL;
  return finish(env,
                wg_xchacha20poly1305_seal(out.p, in[2].p, in[2].n, in[3].p,
                                          in[3].n, in[1].p, in[0].p),
                "XChaCha20-Poly1305 seal");
}

static napi_value js_xchacha_open(napi_env env, napi_callback_info info) {
  bytes out, in[4];
  napi_value argv[6];
  if (!aead_args(env, info, false, WG_XCHACHA_NONCE, argv, &out, in))
    return NULL;
  int rc = wg_xchacha20poly1305_open(out.p, in[2].p, in[2].n, in[3].p,
                                     in[3].n, in[1].p, in[0].p);
  napi_value ok;
  if (rc == -EBADMSG) {
    napi_get_boolean(env, false, &ok);
    return ok;
  }
  if (rc < 0) return finish(env, rc, "XChaCha20-Poly1305 open");
  napi_get_boolean(env, true, &ok);
  return ok;
}

/* -ENOSYS from the data-path AEAD: lowlevel asked for where it is missing. */
static napi_value throw_no_lowlevel(napi_env env) {
  napi_throw_error(env, "ERR_IOURING_NET_UNSUPPORTED",
                   "this OpenSSL does not export ChaCha20_ctr32 and "
                   "Poly1305_*: only the EVP path is available");
  return NULL;
}

/* The data-path AEAD on the path argv[5] names; seal: out = ct | tag. */
static napi_value aead_on_path(napi_env env, napi_callback_info info,
                               bool seal) {
  bytes out, in[4];
  napi_value argv[6], res;
  bool lowlevel = false;
  if (!aead_args(env, info, seal, WG_AEAD_NONCE_LEN, argv, &out, in))
    return NULL;
  if (napi_get_value_bool(env, argv[5], &lowlevel) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "The \"lowlevel\" argument must be of type boolean");
    return NULL;
  }
  wg_aead a;
  int rc = wg_aead_init_path(&a, in[0].p, seal, lowlevel);
  if (rc == -ENOSYS) return throw_no_lowlevel(env);
  if (rc < 0) return finish(env, rc, "ChaCha20-Poly1305 init");
  if (seal) {
    size_t pad = out.n - in[2].n - WG_AEAD_TAG_LEN;
    rc = wg_aead_seal(&a, in[1].p, in[3].p, in[3].n, in[2].p, in[2].n, pad,
                      out.p, out.p + in[2].n + pad);
  } else {
    size_t len = in[2].n - WG_AEAD_TAG_LEN;
    rc = wg_aead_open(&a, in[1].p, in[3].p, in[3].n, in[2].p, len, out.p,
                      in[2].p + len);
    if (rc == -EBADMSG) memset(out.p, 0, out.n); /* never hand back garbage */
  }
  wg_aead_free(&a);
  if (seal || (rc < 0 && rc != -EBADMSG))
    return finish(env, rc, seal ? "ChaCha20-Poly1305 seal"
                                : "ChaCha20-Poly1305 open");
  napi_get_boolean(env, rc == 0, &res);
  return res;
}

static napi_value js_aead_seal(napi_env env, napi_callback_info info) {
  return aead_on_path(env, info, true);
}

static napi_value js_aead_open(napi_env env, napi_callback_info info) {
  return aead_on_path(env, info, false);
}

static napi_value js_aead_backend(napi_env env, napi_callback_info info) {
  static const char *const reasons[] = {
      [WG_AEAD_LOWLEVEL] = "OpenSSL's ChaCha20_ctr32 and Poly1305_* are "
                           "exported and agree with EVP",
      [WG_AEAD_EVP_NO_SYMBOLS] = "this OpenSSL does not export "
                                 "ChaCha20_ctr32 and Poly1305_*",
      [WG_AEAD_EVP_FORCED] = "IOURING_NET_WG_CRYPTO=evp",
      [WG_AEAD_EVP_CHECK_FAILED] = "OpenSSL's low-level routines disagreed "
                                   "with EVP on the known-answer check",
  };
  wg_aead_backend_t b = wg_aead_backend();
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, wg_aead_backend_name(b), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, o, "name", v);
  napi_create_string_utf8(env, reasons[b], NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, o, "reason", v);
  napi_get_boolean(env, wg_ll_available(), &v);
  napi_set_named_property(env, o, "lowlevelAvailable", v);
  return o;
}

static napi_value js_aead_bench(napi_env env, napi_callback_info info) {
  napi_value argv[3], o, v;
  bool lowlevel = false;
  int64_t len = -1, iters = 0;
  if (!ion_args(env, info, 3, argv)) return NULL;
  if (napi_get_value_bool(env, argv[0], &lowlevel) != napi_ok ||
      napi_get_value_int64(env, argv[1], &len) != napi_ok ||
      napi_get_value_int64(env, argv[2], &iters) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "wgAeadBench(lowlevel: boolean, len: number, "
                          "iterations: number)");
    return NULL;
  }
  if (len < 0 || len > WG_AEAD_BENCH_MAX_LEN || iters < 1 ||
      iters > WG_AEAD_BENCH_MAX_ITERS) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "len must be 0..65536 and iterations 1..10000000");
    return NULL;
  }
  double seal_ns = 0, open_ns = 0;
  int rc = wg_aead_bench(lowlevel, (size_t)len, (uint32_t)iters, &seal_ns,
                         &open_ns);
  if (rc == -ENOSYS) return throw_no_lowlevel(env);
  if (rc < 0) return finish(env, rc, "ChaCha20-Poly1305 benchmark");
  napi_create_object(env, &o);
  napi_create_double(env, seal_ns, &v);
  napi_set_named_property(env, o, "sealNs", v);
  napi_create_double(env, open_ns, &v);
  napi_set_named_property(env, o, "openNs", v);
  return o;
}

void ion_crypto_exports(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"wgBlake2sMac", NULL, js_blake2s_mac, NULL, NULL, NULL, napi_default,
       NULL},
      {"wgHChaCha20", NULL, js_hchacha20, NULL, NULL, NULL, napi_default,
       NULL},
      {"wgXChaCha20Poly1305Seal", NULL, js_xchacha_seal, NULL, NULL, NULL,
       napi_default, NULL},
      {"wgXChaCha20Poly1305Open", NULL, js_xchacha_open, NULL, NULL, NULL,
       napi_default, NULL},
      {"wgChaCha20Poly1305Seal", NULL, js_aead_seal, NULL, NULL, NULL,
       napi_default, NULL},
      {"wgChaCha20Poly1305Open", NULL, js_aead_open, NULL, NULL, NULL,
       napi_default, NULL},
      {"wgAeadBackend", NULL, js_aead_backend, NULL, NULL, NULL, napi_default,
       NULL},
      {"wgAeadBench", NULL, js_aead_bench, NULL, NULL, NULL, napi_default,
       NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]),
                         props);
}
