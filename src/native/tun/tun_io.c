/* Reading a TUN queue on the ring (file/file.h explains the two modes).
 * Completions only fill shared memory and mark the object ready; JS sees
 * the packets in one batch per drain, and the slots go back to the kernel
 * after JS returns (ion_tun_io_recycle). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "core/prep.h"
#include "file/file_internal.h"

#define CHAIN_MAX 32 /* single mode: reads per hard-linked chain */
/* IOSQE_IO_HARDLINK: the link holds even when a request fails or is short. */
#define SQE_IO_HARDLINK (1U << 3)

static uint32_t sq_room(const ion_ring *r) {
  uint32_t head = __atomic_load_n(r->sq_khead, __ATOMIC_ACQUIRE);
  return r->sq_entries - (r->sqe_tail - head);
}

/* ---- single mode: a hard-linked chain of plain reads ---- */

/* Start a chain over the free slots unless one is still running: a second
 * chain would put a second read in flight. */
static void arm_chain(ion_file *f) {
  if (!f->reading || f->obj.closing || f->chain_left || !f->nfree) return;
  ion_ring *r = &f->rx->ring;
  if (r->fd < 0) return;
  uint32_t n = f->nfree < CHAIN_MAX ? f->nfree : CHAIN_MAX;
  /* The chain must reach the kernel in one submission: one cut in two
   * would be two chains, two reads in flight. */
  if (sq_room(r) < n) ion_reactor_submit(f->rx, false);
  if (sq_room(r) < n) n = sq_room(r);
  for (uint32_t i = 0; i < n; i++) {
    struct ion_sqe *sqe = ion_reactor_sqe(f->rx, &f->obj);
    if (!sqe) break; /* the previous link then just ends the chain */
    uint32_t slot = f->free_slots[--f->nfree];
    ion_prep_read(sqe, f->fd, ion_file_slot(f, slot), f->cfg.rslot, 0,
                  ION_UD(f->obj.id, K_READ_SINGLE, slot));
    if (i + 1 < n) sqe->flags |= SQE_IO_HARDLINK;
    f->chain_left++;
  }
  if (f->chain_left) f->stats[ION_FS_REARMS]++;
  /* No SQE at all: resume() starts the chain once there is room. */
  if (!f->chain_left) ion_reactor_starve(f->rx, &f->obj);
}

/* Closing a single-mode reader: a hard link survives the cancel of the read
 * before it, so the kernel then starts the next read of the chain. Cancel
 * again (one cancel in flight at a time) until every link has come back;
 * a cancel that found nothing (the next read was not started yet) is
 * simply repeated. Converges in about two enters per link. */
void ion_tun_io_cancelled(ion_file *f) {
  if (f->obj.closing && f->chain_left) ion_file_queue_cancel(f);
}

static void on_read_single(ion_file *f, uint32_t slot, int32_t res) {
  if (slot >= f->cfg.rslots || !f->free_slots) return;
  if (f->chain_left) f->chain_left--;
  if (f->obj.closing) {
    f->free_slots[f->nfree++] = slot;
    if (f->chain_left) ion_file_queue_cancel(f); /* see cancelled() */
    return;
  }
  if (res < 0) {
    f->free_slots[f->nfree++] = slot;
    if (res != -ECANCELED) ion_file_read_error(f, res);
  } else {
    ion_file_deliver(f, slot, (uint32_t)res);
  }
  /* Keep reading with the slots still free; JS returns the rest later. */
  if (f->chain_left == 0) arm_chain(f);
}

/* Every slot free, lowest first. */
static int free_all(ion_file *f) {
  if (!f->free_slots) f->free_slots = calloc(f->cfg.rslots, sizeof(uint32_t));
  if (!f->free_slots) return -ENOMEM;
  f->nfree = 0;
  for (uint32_t i = f->cfg.rslots; i-- > 0;) f->free_slots[f->nfree++] = i;
  return 0;
}

static int use_single(ion_file *f) {
  int rc = free_all(f);
  if (rc < 0) return rc;
  f->multishot = false;
  f->ms_armed = false;
  ion_bufring_free(&f->rx->ring, &f->pool.br);
  return 0;
}

/* The poll backend keeps a free list too: a vnet device may keep a slot
 * past the dispatch (a super-segment not yet split, tun_vread.c). */
int ion_tun_io_alloc(ion_file *f) {
  bool poll = f->cfg.backend == ION_FILE_BACKEND_POLL;
  if (poll) return free_all(f);
  return f->multishot ? 0 : use_single(f);
}

int ion_tun_io_poll_slot(ion_file *f, uint32_t *slot) {
  if (!f->free_slots || !f->nfree) return -ENOBUFS;
  *slot = f->free_slots[--f->nfree];
  return 0;
}

/* ---- multishot mode ---- */

/* man io_uring_prep_read_multishot: len 0 = the whole provided buffer. */
static void arm_multishot(ion_file *f) {
  struct ion_sqe *sqe = ion_reactor_sqe(f->rx, &f->obj);
  if (!sqe) return; /* resume() arms it once there is room */
  ion_prep_rw(sqe, ION_OP_READ_MULTISHOT, f->fd, NULL, 0, 0,
              ION_UD(f->obj.id, K_READ_MULTI, 0));
  sqe->flags = ION_SQE_BUFFER_SELECT;
  sqe->buf_group = f->pool.br.bgid;
  f->ms_armed = true;
}

static void on_read_multi(ion_file *f, int32_t res, uint32_t flags) {
  if (!(flags & ION_CQE_F_MORE)) {
    f->ms_armed = false;
    /* Re-arm after JS returns buffers, unless closing. */
    if (!f->obj.closing) ion_reactor_notify(f->rx, &f->obj, 0);
  }
  if (res < 0) {
    if (res == -ENOBUFS) {
      f->stats[ION_FS_ENOBUFS]++;
    } else if (!f->ms_delivered && !f->obj.closing &&
               (res == -EINVAL || res == -EOPNOTSUPP)) {
      /* (Not EBADFD: a TUN read says that once the interface is gone.) */
      /* This kernel or fd cannot do it after all: read single. */
      if (use_single(f) < 0) ion_file_read_error(f, -ENOMEM);
      arm_chain(f);
    } else if (res != -ECANCELED) {
      ion_file_read_error(f, res);
    }
    return;
  }
  if (!(flags & ION_CQE_F_BUFFER)) return;
  uint32_t bid = flags >> ION_CQE_BUFFER_SHIFT;
  if (bid >= f->cfg.rslots) return;
  f->ms_delivered = true;
  if (f->obj.closing) return; /* the buffer ring goes away with us */
  ion_file_deliver(f, bid, (uint32_t)res);
}

int ion_tun_io_arm(ion_file *f) {
  if (f->multishot) {
    if (!f->pool.br.registered &&
        ion_rpool_ring_setup(&f->pool, &f->rx->ring, f->obj.id) < 0) {
      int rc = use_single(f);
      if (rc < 0) return rc;
      arm_chain(f);
      return 0;
    }
    arm_multishot(f);
    return 0;
  }
  arm_chain(f);
  return 0;
}

/* The kernel dropped completions: was the multishot read's end among
 * them? */
bool ion_tun_io_lost(ion_file *f) {
  return ion_reactor_check_standing(f->rx, &f->obj, f->multishot && f->ms_armed,
                                    K_READ_MULTI, K_LOST_CHECK);
}

void ion_tun_io_complete(ion_file *f, unsigned kind, uint32_t slot,
                         int32_t res, uint32_t flags) {
  if (kind == K_READ_MULTI)
    on_read_multi(f, res, flags);
  else if (kind == K_LOST_CHECK) /* re-armed by the recycle if lost */
    ion_reactor_standing_answer(f->rx, &f->obj, res, &f->ms_armed);
  else if (kind == K_READ_SINGLE)
    on_read_single(f, slot, res);
}

void ion_tun_io_recycle(ion_file *f) {
  if (f->obj.poll) {
    for (uint32_t i = 0; i < f->pool.held_n && f->free_slots; i++)
      f->free_slots[f->nfree++] = f->pool.held[i];
    f->pool.held_n = 0;
  } else if (f->multishot) {
    ion_rpool_recycle_ring(&f->pool);
    if (f->reading && !f->ms_armed) {
      f->stats[ION_FS_REARMS]++;
      arm_multishot(f);
    }
  } else if (f->free_slots) {
    for (uint32_t i = 0; i < f->pool.held_n; i++)
      f->free_slots[f->nfree++] = f->pool.held[i];
    f->pool.held_n = 0;
    arm_chain(f);
  }
}

void ion_tun_io_resume(ion_file *f) {
  if (!f->reading || f->obj.closing) return;
  if (f->multishot) {
    if (!f->ms_armed && f->pool.br.registered) arm_multishot(f);
  } else {
    arm_chain(f);
  }
}
