/* TUN queues and regular files (see file.h): the lifecycle, which serves
 * both backends, and the requests (TUN writes, file reads and writes at
 * an offset) on the ring. Reading a TUN queue on the ring is in
 * tun/tun_io.c; the poll backend's I/O is in file_poll.c. */
#define _GNU_SOURCE
#include "file/file_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/prep.h"
#include "tun/offload.h"

#define ALIGN64(x) (((x) + 63U) & ~63U)
#define MAX_RSLOTS (1U << 15) /* provided buffer rings hold 32768 at most */
#define MAX_QSLOTS (1U << 16)
#define PI_LEN 4     /* struct tun_pi: u16 flags, be16 proto */
#define PI_STRIP 1   /* TUN_PKT_STRIP: the packet did not fit */

static bool pow2(uint32_t v) { return v && !(v & (v - 1)); }

/* vnet: every read slot holds a whole super-segment with its header, and
 * the split area and its entries stay within what 32-bit offsets hold. */
static bool valid_vnet(const ion_file_config *c) {
  if (!c->vnet)
    return c->split_len == 0 && c->split_entries == 0 && c->gro == 0;
  return c->kind == ION_FILE_TUN && !c->packet_info &&
         c->rslot >= ION_VNET_HDR_LEN + ION_OFFLOAD_MAX_PKT &&
         !(c->gro & ~(unsigned)(ION_GRO_TCP | ION_GRO_UDP)) &&
         /* Room for at least one packet of the largest super-segment on
          * an empty batch, so kept reads always make progress. */
         c->split_len >= 65536 && c->split_len <= (1U << 28) &&
         !(c->split_len & 63) && c->split_entries >= 1 &&
         c->split_entries <= (1U << 20);
}

static bool valid_config(const ion_file_config *c) {
  if (c->kind != ION_FILE_REGULAR && c->kind != ION_FILE_TUN) return false;
  if (!pow2(c->qslots) || c->qslots > MAX_QSLOTS) return false;
  if (c->qdata_len < 1 || c->qdata_len > (1U << 28)) return false;
  if (!valid_vnet(c)) return false;
  if (c->kind == ION_FILE_REGULAR) return c->rslots == 0;
  if (!pow2(c->rslots) || c->rslots > MAX_RSLOTS) return false;
  return c->rslot >= 64 && c->rslot <= 65536 + 64 && !(c->rslot & 7);
}

int ion_file_layout_of(const ion_file_config *cfg, ion_file_layout *out) {
  if (!valid_config(cfg)) return -EINVAL;
  uint64_t o = 0;
  out->ctrl = 0;
  o += ION_C_WORDS * 4;
  out->stats = (uint32_t)o;
  o += ION_FS_WORDS * 8;
  out->rmeta = (uint32_t)o;
  out->rmeta_n = cfg->rslots + cfg->split_entries;
  o += (uint64_t)out->rmeta_n * ION_R_WORDS * 4;
  out->qdesc = (uint32_t)o;
  o += (uint64_t)cfg->qslots * ION_Q_WORDS * 4;
  o = ALIGN64(o);
  out->rpool = (uint32_t)o;
  o += (uint64_t)cfg->rslots * cfg->rslot;
  o = ALIGN64(o);
  out->split = (uint32_t)o;
  o += cfg->split_len;
  out->qdata = (uint32_t)o;
  o += cfg->qdata_len;
  if (o > (1U << 30)) return -EINVAL;
  out->total = (uint32_t)o;
  return 0;
}

void ion_file_update_alive(ion_file *f) {
  /* want_write: writes wait for POLLOUT, not yet taken (dr.next). */
  bool alive = f->obj.closing || ion_dring_busy(&f->dr) ||
               f->want_write || (f->refd && f->reading);
  if (!f->obj.finalized) ion_reactor_set_alive(f->rx, &f->obj, alive);
}

/* ---- reading: delivery ---- */

/* Stop reading after an error: TUN read errors (EBADFD once the interface
 * is gone, EFAULT) do not go away by retrying, and re-arming would spin. */
void ion_file_read_error(ion_file *f, int32_t res) {
  f->stats[ION_FS_READ_ERRORS]++;
  if (!f->reading || f->obj.closing) return;
  f->reading = false;
  ion_reactor_fail(f->rx, &f->obj, res);
  ion_file_update_alive(f);
}

/* Slot i holds res bytes from the kernel: describe the packet for JS. The
 * slot is held until the dispatch, even when nothing valid is in it. */
void ion_file_deliver(ion_file *f, uint32_t i, uint32_t res) {
  if (f->vr) {
    ion_tun_vnet_deliver(f, i, res);
    return;
  }
  if (!ion_rpool_hold(&f->pool, i)) return; /* cannot happen: one per slot */
  /* Even an empty slot must come back: ask for the after-dispatch pass. */
  ion_reactor_notify(f->rx, &f->obj, 0);
  uint8_t *p = ion_file_slot(f, i);
  uint32_t len = res < f->cfg.rslot ? res : f->cfg.rslot;
  int32_t proto = 0;
  bool trunc = false;
  if (f->cfg.packet_info) {
    uint16_t pflags, pproto;
    if (len < PI_LEN) return; /* no header: nothing to deliver */
    memcpy(&pflags, p, 2);
    memcpy(&pproto, p + 2, 2);
    trunc = (pflags & PI_STRIP) != 0;
    proto = ntohs(pproto);
    p += PI_LEN;
    len -= PI_LEN;
  }
  if (len > f->cfg.max_packet) {
    len = f->cfg.max_packet;
    trunc = true;
  }
  int32_t *m = &f->rmeta[(size_t)f->obj.rcount * ION_R_WORDS];
  m[ION_R_OFF] = (int32_t)(p - f->mem);
  m[ION_R_LEN] = (int32_t)len;
  m[ION_R_FLAGS] = trunc ? ION_RF_TRUNC : 0;
  m[ION_R_PROTO] = proto;
  f->obj.rcount++;
  f->stats[ION_FS_PKTS_IN]++;
  f->stats[ION_FS_BYTES_IN] += len;
  if (trunc) f->stats[ION_FS_TRUNC]++;
  ion_reactor_notify(f->rx, &f->obj, ION_EV_RECV);
}

void ion_file_queue_cancel(ion_file *f) {
  if (f->cancelling || f->rx->ring.fd < 0) return;
  struct ion_sqe *sqe = ion_reactor_sqe(f->rx, &f->obj);
  if (!sqe) return; /* resume() asks again */
  ion_prep_cancel_fd(sqe, f->fd, ION_UD(f->obj.id, K_CANCEL, 0));
  f->cancelling = true;
}

int ion_file_start(ion_file *f) {
  if (f->obj.closing) return -EBADF;
  if (f->cfg.kind != ION_FILE_TUN) return -EINVAL;
  if (f->reading) return 0;
  f->reading = true;
  /* The poll backend reads when the addon's uv_poll fires. */
  int rc = f->obj.poll ? 0 : ion_tun_io_arm(f);
  if (rc < 0) f->reading = false;
  ion_file_update_alive(f);
  return rc;
}

/* ---- requests (TUN writes; file reads and writes at an offset) ---- */

int ion_file_tail(ion_file *f, uint32_t *tail) {
  int rc = ion_dring_tail(&f->dr, tail);
  /* Reported once: the ring stays poisoned and takes nothing more. */
  if (rc < 0 && f->obj.rerr != -EPROTO)
    ion_reactor_fail(f->rx, &f->obj, -EPROTO);
  return rc;
}

void ion_file_req_done(ion_file *f, uint32_t slot, int32_t res) {
  if (slot >= f->cfg.qslots) return;
  ion_dring_done(&f->dr, slot, res);
  if (res >= 0) {
    f->stats[ION_FS_PKTS_OUT]++;
    f->stats[ION_FS_BYTES_OUT] += res;
  } else {
    f->stats[ION_FS_WRITE_ERRORS]++;
  }
  ion_dring_report(&f->dr, f->rx, &f->obj, res < 0);
  ion_file_update_alive(f);
}

int ion_file_check_req(ion_file *f, const int32_t *d, ion_file_req *out) {
  uint32_t off = (uint32_t)d[ION_Q_OFF], len = (uint32_t)d[ION_Q_LEN];
  uint32_t lo = f->lay.qdata, span = f->cfg.qdata_len;
  if (d[ION_Q_OFF] < 0 || d[ION_Q_LEN] < 0 || off < lo || len > span ||
      off - lo > span - len)
    return -EFAULT;
  int op = d[ION_Q_OP];
  if (op != ION_QOP_WRITE && op != ION_QOP_READ) return -EINVAL;
  /* Packets come from reads; a TUN fd has no position. */
  if (f->cfg.kind == ION_FILE_TUN && op != ION_QOP_WRITE) return -EINVAL;
  out->buf = f->mem + off;
  out->len = len;
  out->op = op;
  out->pos = ((uint64_t)(uint32_t)d[ION_Q_POS_HI] << 32) |
             (uint32_t)d[ION_Q_POS_LO];
  /* -1/-1 is "the file position", as offset -1 is for io_uring. */
  out->at_pos = f->cfg.kind != ION_FILE_TUN && out->pos != UINT64_MAX;
  return 0;
}

/* Check one descriptor from JS and queue its SQE. 0, -EAGAIN (no SQE: try
 * again later) or another -errno that fails this request only. */
static int prep_req(ion_file *f, uint32_t slot, const int32_t *d) {
  ion_file_req r;
  int rc = ion_file_check_req(f, d, &r);
  if (rc < 0) return rc;
  struct ion_sqe *sqe = ion_reactor_sqe(f->rx, &f->obj);
  if (!sqe) return -EAGAIN;
  uint64_t ud = ION_UD(f->obj.id, K_REQ, slot);
  uint64_t pos = r.at_pos ? r.pos : f->cfg.kind == ION_FILE_TUN ? 0 : UINT64_MAX;
  if (r.op == ION_QOP_WRITE)
    ion_prep_write(sqe, f->fd, r.buf, r.len, pos, ud);
  else
    ion_prep_read(sqe, f->fd, r.buf, r.len, pos, ud);
  return 0;
}

void ion_file_flush(ion_file *f) {
  if (f->obj.closing) return;
  if (f->obj.poll) {
    ion_fpoll_flush(f);
    return;
  }
  if (f->vw) {
    ion_tun_vnet_flush(f);
    return;
  }
  uint32_t tail;
  if (ion_file_tail(f, &tail) < 0) return;
  bool failed = false;
  /* Bounded: the tail is at most qslots past the frontier (dring.h). */
  while (f->dr.next != tail) {
    uint32_t slot = ion_dring_slot(&f->dr, f->dr.next);
    int rc = prep_req(f, slot, ion_dring_desc(&f->dr, slot));
    if (rc == -EAGAIN) break; /* resume() goes on */
    f->dr.next++;
    if (rc < 0) {
      ion_dring_done(&f->dr, slot, rc);
      f->stats[ION_FS_WRITE_ERRORS]++;
      failed = true;
    }
  }
  if (failed) ion_dring_report(&f->dr, f->rx, &f->obj, true);
  ion_file_update_alive(f);
}

/* ---- the reactor's callbacks ---- */

static void file_complete(void *obj, unsigned kind, uint32_t idx, int32_t res,
                          uint32_t flags) {
  ion_file *f = obj;
  if (kind == K_REQ) {
    ion_file_req_done(f, idx, res);
  } else if (kind == K_VWRITE) {
    ion_tun_vnet_complete(f, idx, res);
  } else if (kind == K_CANCEL) {
    f->cancelling = false;
    ion_tun_io_cancelled(f);
  } else {
    ion_tun_io_complete(f, kind, idx, res, flags);
  }
}

static void file_after_dispatch(void *obj) {
  ion_file *f = obj;
  if (f->obj.closing) return;
  ion_tun_io_recycle(f);
  if (f->obj.rcount) f->stats[ION_FS_BATCHES]++;
  f->obj.rcount = 0;
  /* Packets kept back for lack of room make the next batch. */
  if (f->vr) ion_tun_vnet_after_dispatch(f);
  ion_file_flush(f);
}

static void file_resume(void *obj) {
  ion_file *f = obj;
  if (f->obj.closing) {
    if (!f->cancelling) ion_file_queue_cancel(f);
    return;
  }
  if (f->obj.poll) return;
  ion_tun_io_resume(f);
  ion_file_flush(f);
}

static bool file_lost(void *obj) {
  ion_file *f = obj;
  return f->obj.poll || ion_tun_io_lost(f);
}

static void file_close_op(void *obj) { ion_file_close(obj); }

static void release(ion_file *f) {
  ion_rpool_free(&f->pool, &f->rx->ring);
  ion_dring_free(&f->dr);
  free(f->free_slots);
  f->free_slots = NULL;
  ion_tun_vnet_free(f);
}

static void file_finalize(void *obj) {
  ion_file *f = obj;
  release(f);
  /* Only now: the kernel has returned every request that used the fd. */
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  ion_mem_unref(f->block);
  f->block = NULL;
}

static int file_start_op(void *obj) { return ion_file_start(obj); }
static void file_flush_op(void *obj) { ion_file_flush(obj); }
static void file_ref_op(void *obj, int ref) { ion_file_set_ref(obj, ref); }
static int file_fd_op(const void *obj) { return ((const ion_file *)obj)->fd; }

const ion_obj_ops ion_file_ops = {
    .complete = file_complete,
    .after_dispatch = file_after_dispatch,
    .close = file_close_op,
    .finalize = file_finalize,
    .start = file_start_op,
    .flush = file_flush_op,
    .set_ref = file_ref_op,
    .resume = file_resume,
    .fd = file_fd_op,
    .lost = file_lost,
};

ion_file *ion_file_of(ion_obj *o) {
  return o && o->ops == &ion_file_ops ? (ion_file *)o : NULL;
}

ion_obj *ion_file_obj(ion_file *f) { return &f->obj; }

/* ---- lifecycle ---- */

/* The block JS will see, laid out by ion_file_layout_of, and the native
 * state over it. */
static int alloc_state(ion_file *f) {
  const ion_file_config *c = &f->cfg;
  f->block = ion_mem_new(f->lay.total);
  if (!f->block) return -ENOMEM;
  uint8_t *mem = f->mem = f->block->base;
  f->ctrl = (int32_t *)(mem + f->lay.ctrl);
  f->stats = (double *)(mem + f->lay.stats);
  f->rmeta = (int32_t *)(mem + f->lay.rmeta);
  int rc = ion_dring_init(&f->dr, (int32_t *)(mem + f->lay.qdesc), f->ctrl,
                          c->qslots);
  if (rc == 0)
    rc = ion_rpool_init(&f->pool, mem + f->lay.rpool, c->rslots, c->rslot);
  if (rc == 0 && c->kind == ION_FILE_TUN) rc = ion_tun_io_alloc(f);
  if (rc == 0 && c->vnet) rc = ion_tun_vnet_alloc(f);
  return rc;
}

/* Can this backend serve fd? The poll backend reads and writes a regular
 * file with plain syscalls on the loop thread, where a pipe, socket or
 * terminal could block it: those are refused (-ESPIPE). */
static int check_backend(const ion_reactor *rx, const ion_file_config *c,
                         int fd) {
  if (c->backend == ION_FILE_BACKEND_URING)
    return rx->ring.fd >= 0 ? 0 : rx->ring_err ? rx->ring_err : -ENOSYS;
  if (c->backend != ION_FILE_BACKEND_POLL) return -EINVAL;
  if (c->kind == ION_FILE_TUN) return 0; /* non-blocking, and pollable */
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode))
    return -ESPIPE;
  return 0;
}

int ion_file_create(ion_reactor *rx, const ion_file_config *cfg, int fd,
                    ion_file **out) {
  ion_file_layout lay;
  int rc = ion_file_layout_of(cfg, &lay);
  if (rc < 0) return rc;
  if (fd < 0) return -EBADF;
  if ((rc = check_backend(rx, cfg, fd)) < 0) return rc;
  ion_file *f = calloc(1, sizeof(*f));
  if (!f) return -ENOMEM;
  f->cfg = *cfg;
  uint32_t room = cfg->rslot > PI_LEN ? cfg->rslot - PI_LEN : 0;
  if (f->cfg.max_packet == 0 || f->cfg.max_packet > room)
    f->cfg.max_packet = room;
  f->lay = lay;
  f->rx = rx;
  f->fd = -1;
  f->refd = true;
  /* Fall back for this feature only when the kernel lacks it. */
  f->multishot = cfg->kind == ION_FILE_TUN && cfg->multishot &&
                 cfg->backend == ION_FILE_BACKEND_URING && rx->pbuf_ring &&
                 rx->ops[ION_OP_READ_MULTISHOT];
  rc = alloc_state(f);
  if (rc == 0) rc = ion_reactor_add(rx, &f->obj, &ion_file_ops);
  if (rc < 0) {
    release(f);
    ion_mem_unref(f->block);
    free(f);
    return rc;
  }
  f->fd = fd;
  if (cfg->backend == ION_FILE_BACKEND_POLL) f->obj.poll = &ion_fpoll_ops;
  *out = f;
  return rc;
}

void ion_file_set_ref(ion_file *f, int ref) {
  f->refd = ref != 0;
  ion_file_update_alive(f);
}

void ion_file_close(ion_file *f) {
  if (f->obj.closing) return;
  f->obj.closing = true;
  f->reading = false;
  f->want_write = false;
  if (f->vw) ion_tun_vnet_close(f); /* taken, not yet submitted */
  if (ion_dring_fail_pending(&f->dr, -ECANCELED))
    ion_dring_report(&f->dr, f->rx, &f->obj, true);
  /* One cancel for everything on the fd; it also gives us a completion to
   * finish the close on when nothing else was in flight. The poll backend
   * has nothing in the kernel: it finishes now. */
  if (!f->obj.poll) ion_file_queue_cancel(f);
  ion_file_update_alive(f);
  ion_reactor_maybe_finalize(f->rx, &f->obj);
}

int ion_file_fd(const ion_file *f) { return f->fd; }
int ion_file_is_multishot(const ion_file *f) { return f->multishot; }
unsigned ion_file_gro(const ion_file *f) {
  return f->vw ? ion_tun_vnet_gro(f) : 0;
}

struct ion_mem *ion_file_mem(ion_file *f) { return f->block; }
