/* Node-API glue of the WireGuard data path: exports for JS (tests, and
 * the TypeScript side until the lead wires the data path between the UDP
 * and TUN objects). Only addon_wg*.c know Node-API; the rest of
 * src/native/wg is plain C.
 *
 * Convention (as the rest of the addon): arguments JS got wrong throw
 * Node-style coded errors (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE,
 * ERR_MISSING_ARGS, ERR_INVALID_STATE for a closed device); failures of
 * the operation itself return -errno for TS to turn into errors. */
#ifndef ION_WG_ADDON_WG_H
#define ION_WG_ADDON_WG_H

#include <stdbool.h>
#include <stdint.h>

#include "addon/addon.h"
#include "wg/device.h"
#include "wglink/wg_link.h"

/* Registers the wg* exports (called once from the module init). */
void ion_wg_exports(napi_env env, napi_value exports);

/* ---- shared by addon_wg.c and addon_wg_batch.c ---- */

/* What a handle from wgCreate wraps: the device and the state of its data
 * path between the UDP and TUN objects (addon_wg_link.c). */
typedef struct wgjs_handle {
  wg_device *dev;          /* NULL once closed */
  wg_link_scratch scratch; /* per-batch pointers, grown to the largest */
  uint32_t tun_headroom;   /* zero bytes before each packet written */
} wgjs_handle;

/* The handle (open or closed), or NULL after throwing. */
wgjs_handle *wgjs_handle_of(napi_env env, napi_value v);
/* The open device in a handle from wgCreate, or NULL after throwing. */
wg_device *wgjs_device(napi_env env, napi_value v);
/* An integer in [0, max], or throw. */
bool wgjs_u32(napi_env env, napi_value v, uint32_t max, uint32_t *out,
              const char *name);
/* A Uint8Array (Buffer) and its bytes, or throw. */
bool wgjs_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len,
                const char *name);
/* A bigint time in ns, or throw. */
bool wgjs_time(napi_env env, napi_value v, uint64_t *out);
/* {family: 4|6, address: Uint8Array(4|16), port, scopeId?} or throw. */
bool wgjs_endpoint(napi_env env, napi_value v, wg_endpoint *out);
napi_value wgjs_endpoint_value(napi_env env, const wg_endpoint *ep);
napi_value wgjs_num(napi_env env, double v);
void wgjs_set(napi_env env, napi_value obj, const char *key, napi_value v);

/* Batch and counter exports (addon_wg_batch.c). */
napi_value wgjs_encrypt(napi_env env, napi_callback_info info);
napi_value wgjs_flush(napi_env env, napi_callback_info info);
napi_value wgjs_keepalive(napi_env env, napi_callback_info info);
napi_value wgjs_decrypt(napi_env env, napi_callback_info info);
napi_value wgjs_summaries(napi_env env, napi_callback_info info);
napi_value wgjs_peer_stats(napi_env env, napi_callback_info info);
napi_value wgjs_drops(napi_env env, napi_callback_info info);

/* The exports that move packets between the UDP and TUN objects, and the
 * keypair/staged calls the device's timers use (addon_wg_link.c). */
void ion_wg_link_exports(napi_env env, napi_value exports);

#endif
