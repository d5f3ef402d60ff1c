/* The per-thread reactor (see reactor.h). */
#define _GNU_SOURCE
#include "core/reactor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define ION_MAX_OBJS (1U << 20)
#define ION_CQ_ENTRIES 8192

/* Does the kernel take provided buffer rings (5.19+)? Try once with a group
 * id we never use otherwise. */
static bool probe_pbuf_ring(ion_ring *r) {
  ion_bufring br;
  if (ion_bufring_setup(r, &br, 8, 0xfffe) < 0) return false;
  ion_bufring_free(r, &br);
  return true;
}

int ion_reactor_init(ion_reactor *rx, unsigned entries) {
  memset(rx, 0, sizeof(*rx));
  rx->efd = -1;
  int rc = ion_ring_init(&rx->ring, entries, ION_CQ_ENTRIES,
                         ION_RING_WANT_FLAGS);
  if (rc < 0) return rc;
  rc = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (rc < 0) {
    rc = -errno;
    goto fail;
  }
  rx->efd = rc;
  rc = ion_ring_register_eventfd(&rx->ring, rx->efd);
  if (rc < 0) goto fail;
  rc = ion_ring_probe_ops(&rx->ring, rx->ops, sizeof(rx->ops));
  if (rc < 0) goto fail;
  rx->pbuf_ring = probe_pbuf_ring(&rx->ring);
  /* Multishot recvmsg has no probe bit: assume it with buffer rings and
   * fall back per socket if the kernel answers EINVAL (see udp.c). */
  rx->multishot_recvmsg = rx->pbuf_ring && rx->ops[ION_OP_RECVMSG];
  return 0;
fail:
  ion_reactor_destroy(rx);
  return rc;
}

void ion_reactor_destroy(ion_reactor *rx) {
  ion_ring_close(&rx->ring);
  if (rx->efd >= 0) close(rx->efd);
  free(rx->objs);
  rx->objs = NULL;
  rx->efd = -1;
}

int ion_reactor_add(ion_reactor *rx, ion_obj *o, const ion_obj_ops *ops) {
  /* ids start at 1 so that 0 never names an object */
  uint32_t id = rx->free_id;
  if (id == 0) {
    if (rx->objs_cap >= ION_MAX_OBJS) return -EMFILE;
    uint32_t ncap = rx->objs_cap ? rx->objs_cap * 2 : 64;
    ion_obj **n = realloc(rx->objs, ncap * sizeof(*n));
    if (!n) return -ENOMEM;
    /* New slots join the free list, lowest id first. */
    for (uint32_t i = ncap; i-- > (rx->objs_cap ? rx->objs_cap : 1);) {
      n[i] = (ion_obj *)(uintptr_t)(((uintptr_t)rx->free_id << 1) | 1);
      rx->free_id = i;
    }
    if (!rx->objs_cap) n[0] = NULL;
    rx->objs = n;
    rx->objs_cap = ncap;
    id = rx->free_id;
  }
  /* Free slots hold (next << 1) | 1, which no real pointer does. */
  rx->free_id = (uint32_t)((uintptr_t)rx->objs[id] >> 1);
  memset(o, 0, sizeof(*o));
  o->ops = ops;
  o->id = id;
  rx->objs[id] = o;
  rx->nobjs++;
  return (int)id;
}

ion_obj *ion_reactor_get(ion_reactor *rx, uint32_t id) {
  if (id == 0 || id >= rx->objs_cap) return NULL;
  ion_obj *o = rx->objs[id];
  if ((uintptr_t)o & 1) return NULL;
  return o;
}

static void release_id(ion_reactor *rx, ion_obj *o) {
  uint32_t id = o->id;
  if (rx->release_hook) rx->release_hook(rx, o);
  free(o);
  rx->objs[id] = (ion_obj *)(uintptr_t)(((uintptr_t)rx->free_id << 1) | 1);
  rx->free_id = id;
  rx->nobjs--;
}

struct ion_sqe *ion_reactor_sqe(ion_reactor *rx, ion_obj *o) {
  if (rx->ring.fd < 0) return NULL;
  struct ion_sqe *sqe = ion_ring_get_sqe(&rx->ring);
  if (!sqe) {
    ion_reactor_submit(rx, false);
    sqe = ion_ring_get_sqe(&rx->ring);
  }
  if (sqe) o->inflight++;
  return sqe;
}

int ion_reactor_submit(ion_reactor *rx, bool getevents) {
  if (rx->ring.fd < 0) return 0; /* ring-less: only the poll backends */
  if (!getevents && ion_ring_sq_pending(&rx->ring) == 0) return 0;
  rx->enters++;
  return ion_ring_submit(&rx->ring, 0, getevents);
}

void ion_reactor_notify(ion_reactor *rx, ion_obj *o, uint32_t events) {
  if (o->ctrl && events) o->ctrl[ION_C_EVENTS] |= (int32_t)events;
  if (!o->queued && rx->ready_n < rx->ready_cap) {
    o->queued = true;
    rx->ready[rx->ready_n++] = (int32_t)o->id;
  }
}

void ion_reactor_set_alive(ion_reactor *rx, ion_obj *o, bool alive) {
  if (o->keeps_alive == alive) return;
  o->keeps_alive = alive;
  if (alive)
    rx->alive++;
  else
    rx->alive--;
}

void ion_reactor_maybe_finalize(ion_reactor *rx, ion_obj *o) {
  if (!o->closing || o->inflight || o->finalized) return;
  o->finalized = true;
  ion_reactor_set_alive(rx, o, false);
  o->ops->finalize(o);
  ion_reactor_notify(rx, o, ION_EV_CLOSED);
}

static void deliver(ion_reactor *rx, const struct ion_cqe *cqe) {
  ion_obj *o = ion_reactor_get(rx, ION_UD_ID(cqe->user_data));
  if (!o || o->finalized) return; /* cannot happen: ids outlive requests */
  o->ops->complete(o, ION_UD_KIND(cqe->user_data),
                   ION_UD_IDX(cqe->user_data), cqe->res, cqe->flags);
  if (!(cqe->flags & ION_CQE_F_MORE) && o->inflight) o->inflight--;
  ion_reactor_maybe_finalize(rx, o);
}

unsigned ion_reactor_reap(ion_reactor *rx) {
  struct ion_cqe *batch[256];
  if (rx->ring.fd < 0) return rx->ready_n;
  for (;;) {
    unsigned n = ion_ring_peek_cqes(&rx->ring, batch, 256);
    for (unsigned i = 0; i < n; i++) deliver(rx, batch[i]);
    ion_ring_cq_advance(&rx->ring, n);
    if (n == 256) continue;
    /* Completions that did not fit wait in the kernel's overflow list;
     * entering with GETEVENTS moves them into the CQ. */
    if (!ion_ring_cq_overflowed(&rx->ring)) break;
    rx->overflows++;
    ion_reactor_submit(rx, true);
  }
  return rx->ready_n;
}

void ion_reactor_after_dispatch(ion_reactor *rx, uint32_t n) {
  if (n > rx->ready_n) n = rx->ready_n;
  for (uint32_t i = 0; i < n; i++) {
    ion_obj *o = ion_reactor_get(rx, (uint32_t)rx->ready[i]);
    if (!o) continue;
    o->queued = false;
    /* JS clears the event word when it handles an object; bits set again
     * since (say, JS closed the socket from its own callback) have not been
     * seen, so the object stays listed for the next round. */
    bool unseen = o->ctrl && o->ctrl[ION_C_EVENTS];
    if (o->finalized && !unseen) {
      release_id(rx, o);
      continue;
    }
    if (!o->finalized) o->ops->after_dispatch(o);
    if (unseen) ion_reactor_notify(rx, o, 0);
  }
  /* Objects queued after JS took its snapshot wait for the next round:
   * JS has not seen their events yet. */
  memmove(rx->ready, rx->ready + n, (rx->ready_n - n) * sizeof(*rx->ready));
  rx->ready_n -= n;
}

void ion_reactor_shutdown(ion_reactor *rx) {
  /* The addon has already started close on every object. */
  struct timespec ms = {0, 1000000};
  for (int i = 0; i < 2000; i++) {
    ion_reactor_submit(rx, true);
    ion_reactor_reap(rx);
    bool busy = false;
    for (uint32_t id = 1; id < rx->objs_cap; id++) {
      ion_obj *o = ion_reactor_get(rx, id);
      if (o && !o->finalized) busy = true;
    }
    if (!busy) break;
    nanosleep(&ms, NULL);
  }
  rx->ready_n = 0;
  for (uint32_t id = 1; id < rx->objs_cap; id++) {
    ion_obj *o = ion_reactor_get(rx, id);
    if (o && o->finalized) release_id(rx, o);
  }
}
