/* Node-API exports of the TUN offload engine (addon_offload.c), registered
 * by addon.c's module init. */
#ifndef ION_TUN_ADDON_OFFLOAD_H
#define ION_TUN_ADDON_OFFLOAD_H

#include <node_api.h>

void ion_offload_exports(napi_env env, napi_value exports);

#endif
