/* Module setup, the reactor's place in Node's event loop, and probe().
 *
 * Wake-up path: the ring has an eventfd registered; one uv_poll_t watches
 * it. On each wake-up we read the eventfd, enter with GETEVENTS (which runs
 * DEFER_TASKRUN work and posts completions), drain the whole CQ, and call
 * JS once with the count of ready objects. The eventfd only fires when the
 * deferred list goes from empty to non-empty, so every wake-up must end with
 * a full GETEVENTS + drain, or a wake-up is lost. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "addon/addon.h"
#include "addon/addon_crypto.h"
#include "addon/addon_offload.h"
#include "addon/addon_tunnel.h"
#include "addon/addon_wg.h"

#define SQ_ENTRIES 1024
#define MAX_ROUNDS 4

napi_value ion_int(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

bool ion_args(napi_env env, napi_callback_info info, size_t want,
              napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return false;
  if (argc >= want) return true;
  napi_throw_type_error(env, "ERR_MISSING_ARGS", "missing arguments");
  return false;
}

bool ion_arg_i32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) == napi_ok) return true;
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a number");
  return false;
}

bool ion_arg_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is)
    return napi_get_arraybuffer_info(env, v, data, len) == napi_ok;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type t;
    size_t n;
    if (napi_get_typedarray_info(env, v, &t, &n, data, NULL, NULL) != napi_ok)
      return false;
    size_t width = t == napi_int32_array || t == napi_uint32_array ? 4 : 1;
    if (t != napi_uint8_array && t != napi_int32_array &&
        t != napi_uint32_array)
      goto bad;
    *len = n * width;
    return true;
  }
bad:
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected bytes");
  return false;
}

static addon *get_addon(napi_env env) {
  addon *a = NULL;
  napi_get_instance_data(env, (void **)&a);
  return a;
}

addon *ion_addon_get(napi_env env, napi_callback_info info, size_t want,
                     napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return NULL;
  addon *a = get_addon(env);
  if (!a || !a->rx_ready || a->torn_down) {
    napi_throw_error(env, "ERR_IOURING_NOT_INITIALIZED",
                     "io_uring reactor is not initialized");
    return NULL;
  }
  if (argc < want) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "missing arguments");
    return NULL;
  }
  return a;
}

/* ---- memory JS sees ---- */

/* V8 does not know the size behind an external ArrayBuffer: without this
 * accounting it would not collect dropped views (and their blocks, often
 * megabytes) for lack of pressure. Node runs the finalizer on the thread
 * of the environment that made the view. */
static void mem_view_finalize(napi_env env, void *data, void *hint) {
  (void)data;
  ion_mem *m = hint;
  int64_t total;
  napi_adjust_external_memory(env, -(int64_t)m->len, &total);
  ion_mem_unref(m);
}

napi_value ion_addon_mem_view(napi_env env, ion_mem *m) {
  napi_value ab;
  int64_t total;
  ion_mem_ref(m);
  if (napi_create_external_arraybuffer(env, m->base, m->len, mem_view_finalize,
                                       m, &ab) != napi_ok) {
    ion_mem_unref(m);
    napi_throw_error(env, "ERR_IOURING_NET_MEMORY",
                     "cannot give JS a view of native memory (external "
                     "ArrayBuffers are not allowed in this runtime)");
    return NULL;
  }
  napi_adjust_external_memory(env, (int64_t)m->len, &total);
  return ab;
}

/* Room for n ready entries. A new block replaces a smaller one; the old
 * one lives on while JS still holds a view of it. */
static int ensure_entries(addon *a, uint32_t n) {
  if (n <= a->entries_cap && a->entries_ta) return 0;
  uint32_t cap = a->entries_cap ? a->entries_cap : 64;
  while (cap < n) cap *= 2;
  ion_mem *m = ion_mem_new((size_t)cap * ION_E_WORDS * 4);
  if (!m) return -ENOMEM;
  napi_value ab, ta;
  ab = ion_addon_mem_view(a->env, m);
  if (!ab || napi_create_typedarray(a->env, napi_int32_array,
                                    (size_t)cap * ION_E_WORDS, ab, 0,
                                    &ta) != napi_ok) {
    napi_value err;
    napi_get_and_clear_last_exception(a->env, &err);
    ion_mem_unref(m);
    return -ENOMEM;
  }
  if (a->entries_ta) napi_delete_reference(a->env, a->entries_ta);
  napi_create_reference(a->env, ta, 1, &a->entries_ta);
  ion_mem_unref(a->entries_mem);
  a->entries_mem = m;
  a->entries_cap = cap;
  return 0;
}

/* ---- the drain ---- */

static void call_js(addon *a, uint32_t n) {
  napi_env env = a->env;
  napi_value fn, ta, global, argv[2], result;
  napi_get_reference_value(env, a->dispatch, &fn);
  napi_get_reference_value(env, a->entries_ta, &ta);
  napi_get_global(env, &global);
  argv[0] = ta;
  napi_create_uint32(env, n, &argv[1]);
  if (napi_make_callback(env, a->actx, global, fn, 2, argv, &result) !=
      napi_ok) {
    /* The JS dispatcher catches user errors; this is our own bug. Report it
     * the way Node reports an exception thrown from a callback. */
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok)
      napi_fatal_exception(env, err);
  }
}

/* Hand the ready list to JS (once) and let every object recycle, until no
 * object is ready. Bounded: a busy socket cannot starve the loop. */
static void dispatch_rounds(addon *a, bool with_ring) {
  ion_reactor *rx = &a->rx;
  napi_handle_scope scope;
  napi_open_handle_scope(a->env, &scope);
  rx->draining = true;
  for (int round = 0; round < MAX_ROUNDS; round++) {
    if (with_ring) ion_reactor_submit(rx, true);
    uint32_t seen = ion_reactor_reap(rx);
    if (seen == 0) break;
    /* Out of memory for a bigger list: deliver what fits, rest next. */
    if (ensure_entries(a, seen) < 0 && (seen = a->entries_cap) == 0) break;
    if (ion_reactor_entries(rx, seen, (int32_t *)a->entries_mem->base))
      call_js(a, seen);
    if (a->torn_down) break;
    ion_reactor_after_dispatch(rx, seen);
  }
  rx->draining = false;
  napi_close_handle_scope(a->env, scope);
  ion_addon_sync(a);
}

void ion_addon_dispatch(addon *a) {
  if (!a->torn_down) dispatch_rounds(a, a->rx.ring.fd >= 0);
}

/* The ring's eventfd is readable: completions are waiting. */
static void on_ring_poll(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  addon *a = h->data;
  uint64_t count;
  if (a->torn_down) return;
  a->rx.wakeups++;
  if (read(a->rx.efd, &count, sizeof(count)) < 0) { /* EAGAIN: fine */
  }
  dispatch_rounds(a, true);
}

/* An enter failed or an object found no SQE: try again now. */
static void on_retry(uv_timer_t *h) {
  addon *a = h->data;
  if (a->torn_down) return;
  if (!ion_reactor_retry(&a->rx)) a->retry_ms = 1;
  dispatch_rounds(a, true);
}

/* Objects became ready outside a drain (a poll-backend send finished inside
 * a JS call, a close finished at once): deliver them on the next turn. */
static void on_kick(uv_async_t *h) {
  addon *a = h->data;
  ion_addon_dispatch(a);
}

void ion_addon_sync(addon *a) {
  if (!a->rx_ready || a->torn_down) return;
  ion_reactor_submit(&a->rx, false);
  /* One handle keeps the loop alive for every object that wants it, and
   * until events already in the ready list have reached JS. */
  bool want = a->rx.alive > 0 || a->rx.queue_n > 0;
  if (want != a->keep_refd) {
    if (want)
      uv_ref((uv_handle_t *)&a->keep);
    else
      uv_unref((uv_handle_t *)&a->keep);
    a->keep_refd = want;
  }
  if (a->rx.queue_n && !a->rx.draining) uv_async_send(&a->keep);
  if (a->rx.retry && !uv_is_active((uv_handle_t *)&a->retry)) {
    /* Back off while the kernel keeps refusing (EAGAIN is memory
     * pressure): 1 ms, doubling up to 128 ms. */
    uv_timer_start(&a->retry, on_retry, a->retry_ms, 0);
    a->retry_ms = a->retry_ms < 128 ? a->retry_ms * 2 : 128;
  }
}

/* ---- teardown (environment exit, worker end) ---- */

static void free_addon_now(addon *a) {
  ion_mem_unref(a->entries_mem);
  free(a->polls);
  free(a);
}

static void on_handle_closed(uv_handle_t *h) {
  addon *a = h->data;
  if (--a->open_handles > 0) return;
  ion_reactor_destroy(&a->rx);
  napi_remove_async_cleanup_hook(a->cleanup);
  /* The instance-data finalizer may already have run (teardown order is
   * not ours to choose): whoever comes last frees. */
  a->handles_closed = true;
  if (a->instance_gone) free_addon_now(a);
}

static void cleanup_hook(napi_async_cleanup_hook_handle handle, void *arg) {
  addon *a = arg;
  a->cleanup = handle;
  a->torn_down = true;
  ion_reactor *rx = &a->rx;
  ion_addon_close_polls(a);
  for (uint32_t id = 1; id < rx->objs_cap; id++) {
    ion_obj *o = ion_reactor_get(rx, id);
    if (o && !o->closing) o->ops->close(o);
  }
  /* Wait until the kernel has given back every request before anything it
   * could write into is freed. */
  ion_reactor_shutdown(rx);
  if (a->entries_ta) napi_delete_reference(a->env, a->entries_ta);
  if (a->dispatch) napi_delete_reference(a->env, a->dispatch);
  napi_async_destroy(a->env, a->actx);
  a->entries_ta = a->dispatch = NULL;
  a->open_handles = 2 + (a->ring_polled ? 1 : 0);
  uv_close((uv_handle_t *)&a->keep, on_handle_closed);
  uv_close((uv_handle_t *)&a->retry, on_handle_closed);
  if (a->ring_polled) uv_close((uv_handle_t *)&a->ring_poll, on_handle_closed);
}

/* Watch the ring's eventfd; false if there is no ring. */
static int start_ring_poll(addon *a) {
  if (a->rx.ring.fd < 0) return 0;
  a->ring_poll.data = a;
  int rc = uv_poll_init(a->loop, &a->ring_poll, a->rx.efd);
  if (rc == 0) rc = uv_poll_start(&a->ring_poll, UV_READABLE, on_ring_poll);
  if (rc != 0) return rc;
  /* The keep handle decides whether the loop stays alive, not this one. */
  uv_unref((uv_handle_t *)&a->ring_poll);
  a->ring_polled = true;
  return 0;
}

/* init(dispatch) -> 0, or -errno when io_uring could not be set up (the
 * reactor then serves the poll backends only). Idempotent. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], name, res;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  addon *a = get_addon(env);
  if (a->rx_ready) return ion_int(env, a->rx.ring_err);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok ||
      t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a function");
    return NULL;
  }
  int ring_err = ion_reactor_init(&a->rx, SQ_ENTRIES);
  a->rx.ring_err = ring_err;
  a->rx.poll_hook = ion_addon_poll_hook;
  a->rx.hook_data = a;
  napi_get_uv_event_loop(env, &a->loop);
  a->keep.data = a;
  a->retry.data = a;
  a->retry_ms = 1;
  int rc = uv_async_init(a->loop, &a->keep, on_kick);
  if (rc == 0 && (rc = uv_timer_init(a->loop, &a->retry)) != 0)
    uv_close((uv_handle_t *)&a->keep, NULL);
  else if (rc == 0 && (rc = start_ring_poll(a)) != 0) {
    uv_close((uv_handle_t *)&a->keep, NULL);
    uv_close((uv_handle_t *)&a->retry, NULL);
  }
  if (rc != 0) {
    ion_reactor_destroy(&a->rx);
    return ion_int(env, rc);
  }
  uv_unref((uv_handle_t *)&a->keep);
  /* A retry alone does not keep the process alive; objects do (keep). */
  uv_unref((uv_handle_t *)&a->retry);
  a->handles_started = true;
  napi_create_reference(env, argv[0], 1, &a->dispatch);
  napi_create_object(env, &res);
  napi_create_string_utf8(env, "iouring-net", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, res, name, &a->actx);
  a->rx_ready = true;
  ensure_entries(a, 64);
  napi_add_async_cleanup_hook(env, cleanup_hook, a, &a->cleanup);
  return ion_int(env, ring_err);
}

/* submit(): one io_uring_enter for everything queued; ref/unref the loop. */
static napi_value js_submit(napi_env env, napi_callback_info info) {
  addon *a = ion_addon_get(env, info, 0, NULL);
  if (!a) return NULL;
  ion_addon_sync(a);
  return ion_int(env, 0);
}

/* reactorInfo() -> [setupFlags, features, enters, overflows, objects,
 * multishotRecvmsg, pbufRing, wakeups, enterEAGAIN, enterEBUSY,
 * enterEBADR, enterOther, lostCompletions, recoveries, taskruns,
 * lostRearms] */
static napi_value js_reactor_info(napi_env env, napi_callback_info info) {
  addon *a = ion_addon_get(env, info, 0, NULL);
  if (!a) return NULL;
  napi_value arr;
  const ion_reactor *rx = &a->rx;
  double v[] = {rx->ring.setup_flags,
                rx->ring.features,
                rx->enters,
                rx->overflows,
                rx->nobjs,
                rx->multishot_recvmsg,
                rx->pbuf_ring,
                rx->wakeups,
                rx->enter_errors[ION_ENTER_EAGAIN],
                rx->enter_errors[ION_ENTER_EBUSY],
                rx->enter_errors[ION_ENTER_EBADR],
                rx->enter_errors[ION_ENTER_OTHER],
                rx->lost_cqes,
                rx->recoveries,
                rx->taskruns,
                rx->rearms_after_loss};
  uint32_t n = sizeof(v) / sizeof(v[0]);
  napi_create_array_with_length(env, n, &arr);
  for (uint32_t i = 0; i < n; i++) {
    napi_value x;
    napi_create_double(env, v[i], &x);
    napi_set_element(env, arr, i, x);
  }
  return arr;
}

/* probe(opsOut: Uint8Array(n), one byte per opcode) -> [errno (0 = usable), setupFlags,
 * features, pbufRing]. Sets up a throwaway ring: never throws. */
static napi_value js_probe(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], arr;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *ops = NULL;
  size_t ops_len = 0;
  if (argc < 1 || !ion_arg_bytes(env, argv[0], &ops, &ops_len)) return NULL;
  double v[4] = {0, 0, 0, 0};
  ion_ring r;
  int rc = ion_ring_init(&r, 8, 16, ION_RING_WANT_FLAGS);
  if (rc < 0) {
    v[0] = -rc;
  } else {
    v[1] = r.setup_flags;
    v[2] = r.features;
    int prc = ion_ring_probe_ops(&r, ops, (unsigned)ops_len);
    if (prc < 0) v[0] = -prc;
    ion_bufring br;
    if (ion_bufring_setup(&r, &br, 8, 1) == 0) {
      v[3] = 1;
      ion_bufring_free(&r, &br);
    }
    ion_ring_close(&r);
  }
  napi_create_array_with_length(env, 4, &arr);
  for (uint32_t i = 0; i < 4; i++) {
    napi_value x;
    napi_create_double(env, v[i], &x);
    napi_set_element(env, arr, i, x);
  }
  return arr;
}

static void free_addon(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  addon *a = data;
  a->instance_gone = true;
  if (!a->handles_started || a->handles_closed) free_addon_now(a);
}

static napi_value module_init(napi_env env, napi_value exports) {
  addon *a = calloc(1, sizeof(*a));
  if (!a) return NULL;
  a->env = env;
  a->rx.efd = -1;
  a->rx.ring.fd = -1;
  napi_set_instance_data(env, a, free_addon, NULL);
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"submit", NULL, js_submit, NULL, NULL, NULL, napi_default, NULL},
      {"probe", NULL, js_probe, NULL, NULL, NULL, napi_default, NULL},
      {"reactorInfo", NULL, js_reactor_info, NULL, NULL, NULL, napi_default,
       NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]),
                         props);
  ion_udp_exports(env, exports);
  ion_obj_exports(env, exports);
  ion_file_exports(env, exports);
  ion_wg_exports(env, exports);
  ion_crypto_exports(env, exports);
  ion_offload_exports(env, exports);
  ion_tunnel_exports(env, exports);
  return exports;
}

NAPI_MODULE_INIT() { return module_init(env, exports); }
