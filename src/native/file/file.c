/* TUN queues and regular files on the ring (see file.h). Completions only
 * fill shared memory and mark the object ready; JS sees them in one batch
 * per drain, and read buffers go back to the kernel after JS returns. The
 * lifecycle here serves both backends; the poll backend's I/O is in
 * file_poll.c. */
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

#define ALIGN64(x) (((x) + 63U) & ~63U)
#define MAX_RSLOTS (1U << 15) /* provided buffer rings hold 32768 at most */
#define MAX_QSLOTS (1U << 16)
#define CHAIN_MAX 32 /* single mode: reads per hard-linked chain */
#define PI_LEN 4     /* struct tun_pi: u16 flags, be16 proto */
#define PI_STRIP 1   /* TUN_PKT_STRIP: the packet did not fit */
/* IOSQE_IO_HARDLINK: the link holds even when a request fails or is short. */
#define SQE_IO_HARDLINK (1U << 3)

/* Operation kinds in user_data (reactor.h). */
enum { K_READ_MULTI = 1, K_READ_SINGLE = 2, K_REQ = 3, K_CANCEL = 4 };

static bool pow2(uint32_t v) { return v && !(v & (v - 1)); }

static bool valid_config(const ion_file_config *c) {
  if (c->kind != ION_FILE_REGULAR && c->kind != ION_FILE_TUN) return false;
  if (!pow2(c->qslots) || c->qslots > MAX_QSLOTS) return false;
  if (c->qdata_len < 1 || c->qdata_len > (1U << 28)) return false;
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
  o += (uint64_t)cfg->rslots * ION_R_WORDS * 4;
  out->qdesc = (uint32_t)o;
  o += (uint64_t)cfg->qslots * ION_Q_WORDS * 4;
  o = ALIGN64(o);
  out->rpool = (uint32_t)o;
  o += (uint64_t)cfg->rslots * cfg->rslot;
  o = ALIGN64(o);
  out->qdata = (uint32_t)o;
  o += cfg->qdata_len;
  if (o > (1U << 30)) return -EINVAL;
  out->total = (uint32_t)o;
  return 0;
}

uint8_t *ion_file_slot(ion_file *f, uint32_t i) {
  return f->rpool + (size_t)i * f->cfg.rslot;
}

void ion_file_update_alive(ion_file *f) {
  /* want_write: writes wait for POLLOUT, not yet taken (q_next). */
  bool alive = f->obj.closing || f->q_next != f->q_frontier ||
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
  f->ctrl[ION_C_RERR] = res;
  ion_reactor_notify(f->rx, &f->obj, ION_EV_ERROR);
  ion_file_update_alive(f);
}

/* Slot i holds res bytes from the kernel: describe the packet for JS. The
 * slot is held until the dispatch, even when nothing valid is in it. */
void ion_file_deliver(ion_file *f, uint32_t i, uint32_t res) {
  if (f->held_n >= f->cfg.rslots) return; /* cannot happen: one per slot */
  f->held[f->held_n++] = i;
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
  int32_t *m = &f->rmeta[(size_t)f->rcount * ION_R_WORDS];
  m[ION_R_OFF] = (int32_t)(p - f->mem);
  m[ION_R_LEN] = (int32_t)len;
  m[ION_R_FLAGS] = trunc ? ION_RF_TRUNC : 0;
  m[ION_R_PROTO] = proto;
  f->rcount++;
  f->ctrl[ION_C_RCOUNT] = (int32_t)f->rcount;
  f->stats[ION_FS_PKTS_IN]++;
  f->stats[ION_FS_BYTES_IN] += len;
  if (trunc) f->stats[ION_FS_TRUNC]++;
  ion_reactor_notify(f->rx, &f->obj, ION_EV_RECV);
}

/* ---- reading: single mode (a hard-linked chain of plain reads) ---- */

static uint32_t sq_room(const ion_ring *r) {
  uint32_t head = __atomic_load_n(r->sq_khead, __ATOMIC_ACQUIRE);
  return r->sq_entries - (r->sqe_tail - head);
}

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
}

static void queue_cancel(ion_file *f) {
  if (f->cancelling || f->rx->ring.fd < 0) return;
  struct ion_sqe *sqe = ion_reactor_sqe(f->rx, &f->obj);
  if (!sqe) return;
  ion_prep_cancel_fd(sqe, f->fd, ION_UD(f->obj.id, K_CANCEL, 0));
  f->cancelling = true;
}

/* Closing a single-mode reader: a hard link survives the cancel of the read
 * before it, so the kernel then starts the next read of the chain. Cancel
 * again (one cancel in flight at a time) until every link has come back;
 * a cancel that found nothing (the next read was not started yet) is
 * simply repeated. Converges in about two enters per link. */
static void on_cancel(ion_file *f) {
  f->cancelling = false;
  if (f->obj.closing && f->chain_left) queue_cancel(f);
}

static void on_read_single(ion_file *f, uint32_t slot, int32_t res) {
  if (slot >= f->cfg.rslots || !f->free_slots) return;
  if (f->chain_left) f->chain_left--;
  if (f->obj.closing) {
    f->free_slots[f->nfree++] = slot;
    if (f->chain_left) queue_cancel(f); /* see on_cancel */
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

static int use_single(ion_file *f) {
  if (!f->free_slots) f->free_slots = calloc(f->cfg.rslots, sizeof(uint32_t));
  if (!f->free_slots) return -ENOMEM;
  f->multishot = false;
  f->ms_armed = false;
  ion_bufring_free(&f->rx->ring, &f->br);
  f->nfree = 0;
  for (uint32_t i = f->cfg.rslots; i-- > 0;) f->free_slots[f->nfree++] = i;
  return 0;
}

/* ---- reading: multishot mode ---- */

static int setup_bufring(ion_file *f) {
  /* Group ids are 16 bits; objects with very high ids read single. */
  if (f->obj.id >= 0xfff0) return -ENOSPC;
  int rc = ion_bufring_setup(&f->rx->ring, &f->br, f->cfg.rslots,
                             (uint16_t)f->obj.id);
  if (rc < 0) return rc;
  for (uint32_t i = 0; i < f->cfg.rslots; i++)
    ion_bufring_add(&f->br, ion_file_slot(f, i), f->cfg.rslot, (uint16_t)i);
  ion_bufring_publish(&f->br);
  return 0;
}

/* man io_uring_prep_read_multishot: len 0 = the whole provided buffer. */
static void arm_multishot(ion_file *f) {
  struct ion_sqe *sqe = ion_reactor_sqe(f->rx, &f->obj);
  if (!sqe) return;
  ion_prep_rw(sqe, ION_OP_READ_MULTISHOT, f->fd, NULL, 0, 0,
              ION_UD(f->obj.id, K_READ_MULTI, 0));
  sqe->flags = ION_SQE_BUFFER_SELECT;
  sqe->buf_group = f->br.bgid;
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

static int arm_reads(ion_file *f) {
  if (f->multishot) {
    if (!f->br.registered && setup_bufring(f) < 0) {
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

int ion_file_start(ion_file *f) {
  if (f->obj.closing) return -EBADF;
  if (f->cfg.kind != ION_FILE_TUN) return -EINVAL;
  if (f->reading) return 0;
  f->reading = true;
  /* The poll backend reads when the addon's uv_poll fires. */
  int rc = f->obj.poll ? 0 : arm_reads(f);
  if (rc < 0) f->reading = false;
  ion_file_update_alive(f);
  return rc;
}

/* ---- requests (TUN writes; file reads and writes at an offset) ---- */

static void advance_frontier(ion_file *f, bool tell) {
  uint32_t mask = f->cfg.qslots - 1;
  while (f->q_frontier != f->q_next && f->qdone[f->q_frontier & mask]) {
    f->qdone[f->q_frontier & mask] = 0;
    f->q_frontier++;
  }
  f->ctrl[ION_C_SDONE] = (int32_t)f->q_frontier;
  if (tell || f->ctrl[ION_C_SWANT])
    ion_reactor_notify(f->rx, &f->obj, ION_EV_SENT);
}

void ion_file_req_done(ion_file *f, uint32_t slot, int32_t res) {
  if (slot >= f->cfg.qslots) return;
  f->qdesc[(size_t)slot * ION_Q_WORDS + ION_Q_RES] = res;
  f->qdone[slot] = 1;
  if (res >= 0) {
    f->stats[ION_FS_PKTS_OUT]++;
    f->stats[ION_FS_BYTES_OUT] += res;
  } else {
    f->stats[ION_FS_WRITE_ERRORS]++;
  }
  advance_frontier(f, res < 0);
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
  uint32_t tail = (uint32_t)f->ctrl[ION_C_STAIL], mask = f->cfg.qslots - 1;
  bool failed = false;
  /* The second test stops a JS bug from pushing past the ring. */
  while (f->q_next != tail && f->q_next - f->q_frontier < f->cfg.qslots) {
    uint32_t slot = f->q_next & mask;
    int32_t *d = &f->qdesc[(size_t)slot * ION_Q_WORDS];
    int rc = prep_req(f, slot, d);
    if (rc == -EAGAIN) break;
    f->q_next++;
    if (rc < 0) {
      d[ION_Q_RES] = rc;
      f->qdone[slot] = 1;
      f->stats[ION_FS_WRITE_ERRORS]++;
      failed = true;
    }
  }
  f->ctrl[ION_C_SSUB] = (int32_t)f->q_next;
  if (failed) advance_frontier(f, true);
  ion_file_update_alive(f);
}

/* Fail every descriptor JS pushed that native has not taken yet. */
static void fail_pending(ion_file *f, int32_t err) {
  uint32_t tail = (uint32_t)f->ctrl[ION_C_STAIL], mask = f->cfg.qslots - 1;
  bool any = false;
  while (f->q_next != tail && f->q_next - f->q_frontier < f->cfg.qslots) {
    uint32_t slot = f->q_next & mask;
    f->qdesc[(size_t)slot * ION_Q_WORDS + ION_Q_RES] = err;
    f->qdone[slot] = 1;
    f->q_next++;
    any = true;
  }
  f->ctrl[ION_C_SSUB] = (int32_t)f->q_next;
  if (any) advance_frontier(f, true);
}

/* ---- the reactor's callbacks ---- */

static void file_complete(void *obj, unsigned kind, uint32_t idx, int32_t res,
                          uint32_t flags) {
  ion_file *f = obj;
  if (kind == K_READ_MULTI)
    on_read_multi(f, res, flags);
  else if (kind == K_READ_SINGLE)
    on_read_single(f, idx, res);
  else if (kind == K_REQ)
    ion_file_req_done(f, idx, res);
  else if (kind == K_CANCEL)
    on_cancel(f);
}

static void file_after_dispatch(void *obj) {
  ion_file *f = obj;
  if (f->obj.closing) return;
  if (f->obj.poll) {
    /* Nothing to hand back: the next read() starts again at slot 0. */
  } else if (f->multishot) {
    for (uint32_t i = 0; i < f->held_n; i++)
      ion_bufring_add(&f->br, ion_file_slot(f, f->held[i]), f->cfg.rslot,
                      (uint16_t)f->held[i]);
    if (f->held_n) ion_bufring_publish(&f->br);
    if (f->reading && !f->ms_armed) {
      f->stats[ION_FS_REARMS]++;
      arm_multishot(f);
    }
  } else if (f->free_slots) {
    for (uint32_t i = 0; i < f->held_n; i++)
      f->free_slots[f->nfree++] = f->held[i];
    arm_chain(f);
  }
  if (f->rcount) f->stats[ION_FS_BATCHES]++;
  f->held_n = 0;
  f->rcount = 0;
  f->ctrl[ION_C_RCOUNT] = 0;
  ion_file_flush(f);
}

static void file_close_op(void *obj) { ion_file_close(obj); }

static void release(ion_file *f) {
  ion_bufring_free(&f->rx->ring, &f->br);
  free(f->free_slots);
  free(f->held);
  free(f->qdone);
  f->free_slots = NULL;
  f->held = NULL;
  f->qdone = NULL;
}

static void file_finalize(void *obj) {
  ion_file *f = obj;
  release(f);
  /* Only now: the kernel has returned every request that used the fd. */
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
}

static int file_start_op(void *obj) { return ion_file_start(obj); }
static void file_flush_op(void *obj) { ion_file_flush(obj); }
static void file_ref_op(void *obj, int ref) { ion_file_set_ref(obj, ref); }

const ion_obj_ops ion_file_ops = {
    .complete = file_complete,
    .after_dispatch = file_after_dispatch,
    .close = file_close_op,
    .finalize = file_finalize,
    .start = file_start_op,
    .flush = file_flush_op,
    .set_ref = file_ref_op,
};

ion_file *ion_file_of(ion_obj *o) {
  return o && o->ops == &ion_file_ops ? (ion_file *)o : NULL;
}

ion_obj *ion_file_obj(ion_file *f) { return &f->obj; }

/* ---- lifecycle ---- */

static int alloc_state(ion_file *f) {
  const ion_file_config *c = &f->cfg;
  f->qdone = calloc(c->qslots, 1);
  if (!f->qdone) return -ENOMEM;
  if (c->kind != ION_FILE_TUN) return 0;
  f->held = calloc(c->rslots, sizeof(*f->held));
  if (!f->held) return -ENOMEM;
  bool poll = c->backend == ION_FILE_BACKEND_POLL;
  return f->multishot || poll ? 0 : use_single(f);
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
                    uint8_t *mem, uint32_t mem_len, ion_file **out) {
  ion_file_layout lay;
  int rc = ion_file_layout_of(cfg, &lay);
  if (rc < 0) return rc;
  if (fd < 0 || mem_len < lay.total || ((uintptr_t)mem & 7)) return -EINVAL;
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
    free(f);
    return rc;
  }
  f->fd = fd;
  f->mem = mem;
  f->ctrl = (int32_t *)(mem + lay.ctrl);
  f->stats = (double *)(mem + lay.stats);
  f->rmeta = (int32_t *)(mem + lay.rmeta);
  f->qdesc = (int32_t *)(mem + lay.qdesc);
  f->rpool = mem + lay.rpool;
  memset(mem, 0, lay.rpool);
  f->obj.ctrl = f->ctrl;
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
  fail_pending(f, -ECANCELED);
  /* One cancel for everything on the fd; it also gives us a completion to
   * finish the close on when nothing else was in flight. The poll backend
   * has nothing in the kernel: it finishes now. */
  if (!f->obj.poll) queue_cancel(f);
  ion_file_update_alive(f);
  ion_reactor_maybe_finalize(f->rx, &f->obj);
}

int ion_file_fd(const ion_file *f) { return f->fd; }
int ion_file_is_multishot(const ion_file *f) { return f->multishot; }
