/* The calls JS makes on every object kind alike: udpStart and fileStart,
 * udpFlush and fileFlush, ... One implementation each, driven by the
 * object's ion_obj_ops; the export's data names the kind it accepts, so a
 * UDP id given to fileStart is refused as before (EBADF). */
#include <errno.h>
#include <stdio.h>

#include "addon/addon.h"
#include "file/file.h"
#include "udp/udp.h"

/* The live object of kind `ops` named by argv[0], or NULL with *rc set
 * (NULL with *a NULL: an exception is pending). */
static ion_obj *obj_arg(napi_env env, napi_callback_info info, size_t nargs,
                        napi_value *argv, addon **a, int *rc) {
  size_t argc = nargs;
  void *kind = NULL;
  *rc = -EBADF;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &kind) != napi_ok)
    return *a = NULL, NULL;
  *a = ion_addon_get(env, info, nargs, argv);
  int32_t id;
  if (!*a || !ion_arg_i32(env, argv[0], &id) || id <= 0) return NULL;
  ion_obj *o = ion_reactor_get(&(*a)->rx, (uint32_t)id);
  if (!o || o->finalized || o->ops != kind) return NULL;
  *rc = 0;
  return o;
}

#define OBJ_PROLOGUE(nargs)                                 \
  napi_value argv[nargs];                                   \
  addon *a;                                                 \
  int rc;                                                   \
  ion_obj *o = obj_arg(env, info, nargs, argv, &a, &rc);    \
  if (!a) return NULL;                                      \
  if (!o) return ion_int(env, rc)

/* start(id): start receiving / reading (idempotent). */
static napi_value js_start(napi_env env, napi_callback_info info) {
  OBJ_PROLOGUE(1);
  rc = o->ops->start(o);
  ion_addon_poll_update(a, o); /* poll backends: watch now */
  ion_addon_sync(a);
  return ion_int(env, rc);
}

/* flush(id): queue SQEs for what JS pushed. JS calls submit() once after
 * flushing every object of the turn: one enter for all of them. */
static napi_value js_flush(napi_env env, napi_callback_info info) {
  OBJ_PROLOGUE(1);
  o->ops->flush(o);
  return ion_int(env, 0);
}

/* ref(id, ref: boolean): whether the object keeps the loop alive. */
static napi_value js_ref(napi_env env, napi_callback_info info) {
  OBJ_PROLOGUE(2);
  bool ref = false;
  napi_get_value_bool(env, argv[1], &ref);
  o->ops->set_ref(o, ref);
  ion_addon_sync(a);
  return ion_int(env, 0);
}

/* mem(id) -> an ArrayBuffer over the object's shared memory. JS asks
 * again when its view was detached (transferred away): the memory stays
 * the object's, and each view keeps it mapped while V8 holds it. */
static napi_value js_mem(napi_env env, napi_callback_info info) {
  OBJ_PROLOGUE(1);
  ion_udp *u = o->ops == &ion_udp_ops ? (ion_udp *)o : NULL;
  ion_file *f = ion_file_of(o);
  ion_mem *m = u ? ion_udp_mem(u) : f ? ion_file_mem(f) : NULL;
  if (!m) return ion_int(env, -EBADF);
  return ion_addon_mem_view(env, m);
}

/* sdone(id) -> the send frontier: every request before it has completed.
 * For a sender whose ring is full between dispatches. */
static napi_value js_sdone(napi_env env, napi_callback_info info) {
  OBJ_PROLOGUE(1);
  return ion_int(env, (int32_t)o->sdone);
}

/* close(id): begin the close contract; ION_EV_CLOSED follows. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  OBJ_PROLOGUE(1);
  /* Before the fd is closed: the poll backend closes it right away. */
  ion_addon_poll_stop(a, o->id);
  o->ops->close(o);
  ion_addon_sync(a);
  return ion_int(env, 0);
}

static void define(napi_env env, napi_value exports, const char *prefix,
                   const ion_obj_ops *kind) {
  static const struct {
    const char *suffix;
    napi_callback fn;
  } calls[] = {{"Start", js_start}, {"Flush", js_flush}, {"Ref", js_ref},
               {"Close", js_close}, {"Mem", js_mem},
               {"Sdone", js_sdone}};
  for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
    char name[32];
    snprintf(name, sizeof(name), "%s%s", prefix, calls[i].suffix);
    napi_value fn;
    napi_create_function(env, name, NAPI_AUTO_LENGTH, calls[i].fn,
                         (void *)kind, &fn);
    napi_set_named_property(env, exports, name, fn);
  }
}

void ion_obj_exports(napi_env env, napi_value exports) {
  define(env, exports, "udp", &ion_udp_ops);
  define(env, exports, "file", &ion_file_ops);
}
