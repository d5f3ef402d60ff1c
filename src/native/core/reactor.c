/* The per-thread reactor (see reactor.h). */
#define _GNU_SOURCE
#include "core/reactor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/prep.h"

#define ION_MAX_OBJS (1U << 20)
#define ION_CQ_ENTRIES 8192
/* A reap takes at most this many CQ batches (and task-work enters), so a
 * ring that keeps filling cannot hold the loop thread forever. */
#define REAP_MAX_ROUNDS 64
/* Recovery after dropped CQEs: this many cancels that found nothing, with
 * a GETEVENTS between them, prove the object has nothing left in flight. */
#define RECOVER_EMPTY_CANCELS 2

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
  free(rx->queue);
  rx->objs = NULL;
  rx->queue = NULL;
  rx->queue_cap = rx->queue_n = 0;
  rx->efd = -1;
}

/* Room for every object in the table and in the ready queue. */
static int grow(ion_reactor *rx) {
  if (rx->objs_cap >= ION_MAX_OBJS) return -EMFILE;
  uint32_t ncap = rx->objs_cap ? rx->objs_cap * 2 : 64;
  uint32_t *q = realloc(rx->queue, ncap * sizeof(*q));
  if (!q) return -ENOMEM;
  rx->queue = q;
  rx->queue_cap = ncap;
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
  return 0;
}

int ion_reactor_add(ion_reactor *rx, ion_obj *o, const ion_obj_ops *ops) {
  /* ids start at 1 so that 0 never names an object */
  if (rx->free_id == 0) {
    int rc = grow(rx);
    if (rc < 0) return rc;
  }
  uint32_t id = rx->free_id;
  /* Free slots hold (next << 1) | 1, which no real pointer does. */
  rx->free_id = (uint32_t)((uintptr_t)rx->objs[id] >> 1);
  memset(o, 0, sizeof(*o));
  o->ops = ops;
  o->id = id;
  o->loss_seen = rx->lost_cqes; /* earlier losses were not its requests */
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
  if (o->starved && rx->starved_n) rx->starved_n--;
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
  if (sqe)
    o->inflight++;
  else
    ion_reactor_starve(rx, o);
  return sqe;
}

void ion_reactor_starve(ion_reactor *rx, ion_obj *o) {
  if (o->starved) return;
  o->starved = true;
  rx->starved_n++;
  rx->retry = true;
}

static void count_enter_error(ion_reactor *rx, int rc) {
  int kind = rc == -EAGAIN  ? ION_ENTER_EAGAIN
             : rc == -EBUSY ? ION_ENTER_EBUSY
             : rc == -EBADR ? ION_ENTER_EBADR
                            : ION_ENTER_OTHER;
  rx->enter_errors[kind]++;
  if (rc == -EBADR) {
    /* The kernel could not keep some completions (it had no memory for
     * its overflow list). Which ones is unknown: closes recover below. */
    rx->lost_cqes++;
    rx->cqes_lost = true;
  }
  rx->retry = true;
}

int ion_reactor_submit(ion_reactor *rx, bool getevents) {
  if (rx->ring.fd < 0) return 0; /* ring-less: only the poll backends */
  if (!getevents && ion_ring_sq_pending(&rx->ring) == 0) return 0;
  rx->enters++;
  int rc = ion_ring_submit(&rx->ring, 0, getevents);
  if (rc < 0) count_enter_error(rx, rc);
  return rc;
}

bool ion_reactor_retry(ion_reactor *rx) {
  rx->retry = false;
  ion_reactor_submit(rx, false);
  if (rx->starved_n && !rx->retry) {
    /* Room may be back: let every starved object ask again, once. */
    rx->starved_n = 0;
    for (uint32_t id = 1; id < rx->objs_cap; id++) {
      ion_obj *o = ion_reactor_get(rx, id);
      if (!o || !o->starved) continue;
      o->starved = false;
      if (!o->finalized && o->ops->resume) o->ops->resume(o);
    }
    ion_reactor_submit(rx, false);
  }
  return rx->retry;
}

void ion_reactor_notify(ion_reactor *rx, ion_obj *o, uint32_t events) {
  o->events |= events;
  /* queue_cap >= objs_cap and an object is queued at most once. */
  if (!o->queued && rx->queue_n < rx->queue_cap) {
    o->queued = true;
    rx->queue[rx->queue_n++] = o->id;
  }
}

void ion_reactor_fail(ion_reactor *rx, ion_obj *o, int32_t err) {
  o->rerr = err;
  ion_reactor_notify(rx, o, ION_EV_ERROR);
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

/* After dropped CQEs, a closing object may wait for completions that will
 * never come. Cancel everything on its fd: once the kernel has twice found
 * nothing (with task work run in between, since each answer needs an enter
 * with GETEVENTS), what inflight still counts was lost. One recovery cancel
 * per object at a time (RECOVER_SENT); the low bits count empty answers. */
#define RECOVER_SENT 0x80

static bool send_recovery(ion_reactor *rx, ion_obj *o) {
  int fd = o->ops->fd ? o->ops->fd(o) : -1;
  struct ion_sqe *sqe = fd >= 0 ? ion_reactor_sqe(rx, o) : NULL;
  if (!sqe) return false; /* starved: resume() and the next reap retry */
  ion_prep_cancel_fd(sqe, fd, ION_UD(o->id, ION_K_RECOVER, 0));
  return true;
}

static void on_recovery(ion_reactor *rx, ion_obj *o, int32_t res) {
  uint8_t empty = o->recover & (uint8_t)~RECOVER_SENT;
  /* With CANCEL_ALL the result is how many were cancelled (0: none);
   * -ENOENT from kernels that answer so. */
  empty = res == 0 || res == -ENOENT ? (uint8_t)(empty + 1) : 0;
  o->recover = empty;
  if (empty < RECOVER_EMPTY_CANCELS || !o->inflight) return;
  rx->recoveries++;
  o->inflight = 0;
}

bool ion_reactor_check_standing(ion_reactor *rx, ion_obj *o, bool armed,
                                unsigned kind, unsigned check_kind) {
  if (!armed || o->closing) return true;
  struct ion_sqe *sqe = ion_reactor_sqe(rx, o);
  if (!sqe) return false;
  ion_prep_cancel_ud(sqe, ION_UD(o->id, kind, 0),
                     ION_UD(o->id, check_kind, 0));
  return true;
}

void ion_reactor_standing_answer(ion_reactor *rx, ion_obj *o, int32_t res,
                                 bool *armed) {
  if (res != -ENOENT || !*armed || o->closing) return;
  *armed = false;
  if (o->inflight) o->inflight--;
  rx->rearms_after_loss++;
  ion_reactor_notify(rx, o, 0);
}

static void recover(ion_reactor *rx) {
  for (uint32_t id = 1; id < rx->objs_cap; id++) {
    ion_obj *o = ion_reactor_get(rx, id);
    if (!o || o->finalized) continue;
    if (o->closing) {
      if (o->inflight && !(o->recover & RECOVER_SENT) && send_recovery(rx, o))
        o->recover |= RECOVER_SENT;
    } else if (o->loss_seen != rx->lost_cqes) {
      /* Live: once per loss, its standing receive is checked. */
      if (!o->ops->lost || o->ops->lost(o)) o->loss_seen = rx->lost_cqes;
    }
  }
}

static void deliver(ion_reactor *rx, const struct ion_cqe *cqe) {
  ion_obj *o = ion_reactor_get(rx, ION_UD_ID(cqe->user_data));
  if (!o || o->finalized) return; /* cannot happen: ids outlive requests */
  unsigned kind = ION_UD_KIND(cqe->user_data);
  if (o->inflight) o->inflight--;
  if (kind == ION_K_RECOVER) {
    on_recovery(rx, o, cqe->res);
  } else {
    if (cqe->flags & ION_CQE_F_MORE) o->inflight++; /* not the final CQE */
    o->ops->complete(o, kind, ION_UD_IDX(cqe->user_data), cqe->res,
                     cqe->flags);
  }
  ion_reactor_maybe_finalize(rx, o);
}

unsigned ion_reactor_reap(ion_reactor *rx) {
  struct ion_cqe *batch[256];
  if (rx->ring.fd < 0) return rx->queue_n;
  for (int round = 0; round < REAP_MAX_ROUNDS; round++) {
    unsigned n = ion_ring_peek_cqes(&rx->ring, batch, 256);
    for (unsigned i = 0; i < n; i++) deliver(rx, batch[i]);
    ion_ring_cq_advance(&rx->ring, n);
    if (n == 256) continue;
    /* Completions that did not fit wait in the kernel's overflow list, and
     * task work may have been queued since our enter (IORING_SQ_TASKRUN):
     * entering with GETEVENTS posts both. */
    if (ion_ring_cq_overflowed(&rx->ring)) {
      rx->overflows++;
    } else if (ion_ring_taskrun_pending(&rx->ring)) {
      rx->taskruns++;
    } else {
      break;
    }
    ion_reactor_submit(rx, true);
  }
  if (rx->cqes_lost) recover(rx);
  return rx->queue_n;
}

uint32_t ion_reactor_entries(ion_reactor *rx, uint32_t n, int32_t *out) {
  uint32_t with_events = 0;
  if (n > rx->queue_n) n = rx->queue_n;
  for (uint32_t i = 0; i < n; i++) {
    int32_t *e = out + (size_t)i * ION_E_WORDS;
    ion_obj *o = ion_reactor_get(rx, rx->queue[i]);
    memset(e, 0, ION_E_WORDS * sizeof(*e));
    if (!o) continue;
    e[ION_E_ID] = (int32_t)o->id;
    e[ION_E_EVENTS] = (int32_t)o->events;
    e[ION_E_RCOUNT] = (int32_t)o->rcount;
    e[ION_E_SDONE] = (int32_t)o->sdone;
    e[ION_E_RERR] = o->rerr;
    if (o->events & ION_EV_CLOSED) o->closed_told = true;
    if (o->events) with_events++;
    o->events = 0; /* handed over: JS owns them now */
  }
  return with_events;
}

void ion_reactor_after_dispatch(ion_reactor *rx, uint32_t n) {
  if (n > rx->queue_n) n = rx->queue_n;
  for (uint32_t i = 0; i < n; i++) {
    ion_obj *o = ion_reactor_get(rx, rx->queue[i]);
    if (!o) continue;
    o->queued = false;
    if (o->finalized && o->closed_told) {
      release_id(rx, o);
      continue;
    }
    if (!o->finalized) o->ops->after_dispatch(o);
    /* Events raised while JS ran (a close from a callback) are for the
     * next round: JS has not seen them. */
    if (o->events) ion_reactor_notify(rx, o, 0);
  }
  /* Objects queued after JS took its snapshot wait for the next round. */
  uint32_t left = rx->queue_n - n;
  memmove(rx->queue, rx->queue + n, left * sizeof(*rx->queue));
  rx->queue_n = left;
}

void ion_reactor_shutdown(ion_reactor *rx) {
  /* The addon has already started close on every object. */
  struct timespec ms = {0, 1000000};
  for (int i = 0; i < 2000; i++) {
    ion_reactor_retry(rx);
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
  rx->queue_n = 0;
  for (uint32_t id = 1; id < rx->objs_cap; id++) {
    ion_obj *o = ion_reactor_get(rx, id);
    if (o && o->finalized) release_id(rx, o);
  }
}
