/* Exports of the plain tunnel's native forwarders (addon_tunnel.c). */
#ifndef ION_ADDON_TUNNEL_H
#define ION_ADDON_TUNNEL_H

#include "addon/addon.h"

void ion_tunnel_exports(napi_env env, napi_value exports);

#endif
