/* Registers the WireGuard crypto exports (addon_crypto.c) on the addon's
 * exports object; called once from module init (src/native/addon.c). */
#ifndef ION_ADDON_CRYPTO_H
#define ION_ADDON_CRYPTO_H

#define NAPI_VERSION 8
#include <node_api.h>

void ion_crypto_exports(napi_env env, napi_value exports);

#endif
