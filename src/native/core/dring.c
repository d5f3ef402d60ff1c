/* The request ring shared with JS (see dring.h). */
#include "core/dring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ion_dring_init(ion_dring *d, int32_t *desc, const int32_t *ctrl,
                   uint32_t slots) {
  d->desc = desc;
  d->ctrl = ctrl;
  d->slots = slots;
  d->next = d->frontier = 0;
  d->poisoned = false;
  d->done = calloc(slots, 1);
  return d->done ? 0 : -ENOMEM;
}

void ion_dring_free(ion_dring *d) {
  free(d->done);
  d->done = NULL;
}

int ion_dring_tail(ion_dring *d, uint32_t *tail) {
  if (d->poisoned) return -EPROTO;
  uint32_t t = (uint32_t)__atomic_load_n(&d->ctrl[ION_C_STAIL],
                                          __ATOMIC_RELAXED);
  /* Unsigned distances: a tail behind `next` wraps to a huge value. JS
   * never has more than `slots` descriptors past the frontier. */
  if (t - d->frontier > d->slots || t - d->next > t - d->frontier) {
    d->poisoned = true;
    return -EPROTO;
  }
  *tail = t;
  return 0;
}

void ion_dring_done(ion_dring *d, uint32_t slot, int32_t res) {
  if (slot >= d->slots) return;
  d->desc[(size_t)slot * ION_D_WORDS + ION_D_RES] = res;
  d->done[slot] = 1;
}

uint32_t ion_dring_fail_pending(ion_dring *d, int32_t err) {
  uint32_t tail, n = 0;
  if (ion_dring_tail(d, &tail) < 0) return 0; /* JS fails its own rest */
  while (d->next != tail) {
    ion_dring_done(d, ion_dring_slot(d, d->next), err);
    d->next++;
    n++;
  }
  return n;
}

void ion_dring_report(ion_dring *d, ion_reactor *rx, ion_obj *o, bool tell) {
  /* Bounded: the frontier never passes next, at most `slots` behind. */
  while (d->frontier != d->next) {
    uint32_t slot = ion_dring_slot(d, d->frontier);
    if (!d->done[slot]) break;
    d->done[slot] = 0;
    d->frontier++;
  }
  o->sdone = d->frontier;
  if (tell || d->ctrl[ION_C_SWANT]) ion_reactor_notify(rx, o, ION_EV_SENT);
}

int ion_dring_window_open(ion_dring *d, ion_dring_window *w, uint8_t *mem,
                          uint32_t lo, uint32_t span, uint32_t seq,
                          uint32_t slots, uint32_t off, uint32_t len) {
  memset(w, 0, sizeof(*w));
  uint32_t tail;
  if (ion_dring_tail(d, &tail) < 0 || seq != tail) return -EINVAL;
  /* JS never has more than `slots` descriptors past the frontier. */
  if (slots == 0 || slots > d->slots || (tail - d->frontier) + slots > d->slots)
    return -EINVAL;
  if (off < lo || len > span || off - lo > span - len) return -EINVAL;
  w->seq = seq;
  w->slots = slots;
  w->data = mem + off;
  w->data_off = off;
  w->data_len = len;
  return 0;
}

int32_t *ion_dring_window_next(ion_dring *d, ion_dring_window *w,
                               uint32_t len, uint32_t align,
                               uint8_t **payload) {
  if (w->used >= w->slots) return NULL;
  if (align == 0 || (align & (align - 1)) || align > 64) align = 1;
  /* Aligned in the object's memory (mem is page aligned), not just in
   * the window. */
  uint32_t abs = w->data_off + w->fill;
  uint32_t at = ((abs + (align - 1)) & ~(align - 1)) - w->data_off;
  if (at > w->data_len || len > w->data_len - at) return NULL;
  int32_t *desc = ion_dring_desc(d, ion_dring_slot(d, w->seq + w->used));
  memset(desc, 0, ION_D_WORDS * sizeof(*desc));
  desc[ION_D_OFF] = (int32_t)(w->data_off + at);
  desc[ION_D_LEN] = (int32_t)len;
  *payload = w->data + at;
  w->fill = at + len;
  w->used++;
  return desc;
}
