/* Poll backend watchers: one uv_poll_t per object whose o->poll is set
 * (UDP on the mmsg backend, TUN devices on the poll backend). The object
 * says what it wants (o->poll->events) and does the I/O itself; here we
 * only keep a watcher in step with it and, after each wake-up, call JS once
 * through the same dispatch as the ring path.
 *
 * The watchers are unref'd: the reactor's keep handle alone decides whether
 * the loop stays alive, for every backend alike. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "addon/addon.h"

typedef struct obj_poll {
  uv_poll_t h; /* first: a->polls[] holds &h */
  addon *a;
  uint32_t id;
  int events; /* UV_* the watcher was started with; 0 = stopped */
} obj_poll;

static void free_poll(uv_handle_t *h) { free(h); }

void ion_addon_poll_stop(addon *a, uint32_t id) {
  if (id >= a->polls_cap || !a->polls[id]) return;
  uv_poll_t *h = a->polls[id];
  a->polls[id] = NULL;
  uv_poll_stop(h);
  uv_close((uv_handle_t *)h, free_poll);
}

void ion_addon_close_polls(addon *a) {
  for (uint32_t id = 0; id < a->polls_cap; id++) ion_addon_poll_stop(a, id);
}

/* a->polls covers every id the reactor can hand out. */
static bool grow_polls(addon *a, uint32_t id) {
  if (id < a->polls_cap) return true;
  uint32_t cap = a->rx.objs_cap;
  uv_poll_t **n = realloc(a->polls, cap * sizeof(*n));
  if (!n) return false;
  memset(n + a->polls_cap, 0, (cap - a->polls_cap) * sizeof(*n));
  a->polls = n;
  a->polls_cap = cap;
  return true;
}

static obj_poll *new_poll(addon *a, ion_obj *o) {
  obj_poll *p = calloc(1, sizeof(*p));
  if (!p || uv_poll_init(a->loop, &p->h, o->poll->fd(o)) != 0) {
    free(p);
    return NULL;
  }
  p->a = a;
  p->id = o->id;
  p->h.data = p;
  uv_unref((uv_handle_t *)&p->h);
  a->polls[o->id] = &p->h;
  return p;
}

static void on_obj_poll(uv_poll_t *h, int status, int events);

void ion_addon_poll_update(addon *a, ion_obj *o) {
  if (!o->poll || o->finalized) return;
  int want = o->poll->events(o), uv = 0;
  if (want & POLLIN) uv |= UV_READABLE;
  if (want & POLLOUT) uv |= UV_WRITABLE;
  if (!grow_polls(a, o->id)) return;
  obj_poll *p = (obj_poll *)a->polls[o->id];
  /* No watcher until one is needed: a regular file never gets one. */
  if (!p && (!uv || !(p = new_poll(a, o)))) return;
  if (uv == p->events) return;
  p->events = uv;
  if (uv)
    uv_poll_start(&p->h, uv, on_obj_poll);
  else
    uv_poll_stop(&p->h);
}

static void on_obj_poll(uv_poll_t *h, int status, int events) {
  obj_poll *p = h->data;
  addon *a = p->a;
  ion_obj *o = ion_reactor_get(&a->rx, p->id);
  if (!o || o->finalized || !o->poll || a->torn_down) return;
  if (status < 0) {
    o->poll->error(o, status);
    p->events = 0; /* libuv stopped the watcher: start it again below */
  } else {
    if (events & UV_READABLE) o->poll->readable(o);
    if (events & UV_WRITABLE) o->poll->writable(o);
  }
  ion_addon_poll_update(a, o);
  /* p may be freed from here on: JS may close the object. */
  ion_addon_dispatch(a);
}

void ion_addon_poll_hook(ion_reactor *rx, ion_obj *o) {
  ion_addon_poll_update(rx->hook_data, o);
}
