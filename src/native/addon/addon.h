/* Node-API glue shared by the files of src/native/addon/: addon.c (module,
 * reactor, probe), addon_poll.c (poll backend watchers), the exports of
 * addon_udp.c, addon_file.c and the others. Only these files know Node-API
 * and libuv. */
#ifndef ION_ADDON_H
#define ION_ADDON_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include "core/mem.h"
#include "core/reactor.h"

typedef struct addon {
  napi_env env;
  uv_loop_t *loop;
  ion_reactor rx;
  bool rx_ready;
  bool handles_started;
  bool handles_closed; /* every uv_close finished */
  bool instance_gone;  /* Node finalized our instance data */
  bool torn_down;
  bool keep_refd;
  bool ring_polled;
  int open_handles;    /* during teardown */
  uv_async_t keep;     /* keeps the loop alive; also the "deliver soon" kick */
  uv_poll_t ring_poll; /* the ring's eventfd */
  uv_timer_t retry;    /* submits again after a failed enter (backoff) */
  uint64_t retry_ms;
  uv_poll_t **polls;   /* per object id: poll-backend watcher, or NULL */
  uint32_t polls_cap;
  napi_ref dispatch;      /* JS function(entries: Int32Array, count) */
  napi_ref entries_ta;    /* Int32Array over entries_mem */
  ion_mem *entries_mem;   /* ready entries for JS (reactor.h ION_E_*) */
  uint32_t entries_cap;   /* entries that fit */
  napi_async_context actx;
  napi_async_cleanup_hook_handle cleanup;
} addon;

/* Argument helpers: each returns false after throwing a TypeError. */
/* The first `want` arguments (for exports that need no reactor). */
bool ion_args(napi_env env, napi_callback_info info, size_t want,
              napi_value *argv);
bool ion_arg_i32(napi_env env, napi_value v, int32_t *out);
bool ion_arg_bytes(napi_env env, napi_value v, void **data, size_t *len);

/* The reactor of this environment, or NULL after throwing. */
addon *ion_addon_get(napi_env env, napi_callback_info info, size_t want,
                     napi_value *argv);
/* An ArrayBuffer over m for JS; it holds a reference to m until V8 drops
 * it (wherever it was transferred to). NULL after throwing. */
napi_value ion_addon_mem_view(napi_env env, ion_mem *m);
/* Submit queued SQEs, ref/unref the loop to match rx.alive, and schedule
 * a dispatch if objects became ready outside one. */
void ion_addon_sync(addon *a);
/* Deliver ready objects to JS now (poll-backend wake-ups). */
void ion_addon_dispatch(addon *a);
/* Poll backend watchers (addon_poll.c), for objects whose o->poll is set. */
/* Start, change or stop o's watcher to match o->poll->events(o). */
void ion_addon_poll_update(addon *a, ion_obj *o);
/* Stop and free the watcher of object id: before its fd is closed. */
void ion_addon_poll_stop(addon *a, uint32_t id);
void ion_addon_close_polls(addon *a);
/* The reactor's poll_hook: an object wants other poll events. */
void ion_addon_poll_hook(ion_reactor *rx, ion_obj *o);

napi_value ion_int(napi_env env, int32_t v);
void ion_udp_exports(napi_env env, napi_value exports);
void ion_obj_exports(napi_env env, napi_value exports);
void ion_file_exports(napi_env env, napi_value exports);

#endif
