/* The poll backend for TUN devices and files, used when io_uring is refused
 * (seccomp, io_uring_disabled, old kernels) or not wanted. The addon
 * watches a TUN fd with uv_poll and calls in here; packets and request
 * results land in the same shared memory, with the same events, as on the
 * ring path (file.c, tun/tun_io.c), so JS only sees the difference in
 * device.backend.
 *
 * Regular files cannot be polled (they are always "ready"): their requests
 * run with pread/pwrite at flush, synchronously on the loop thread. Never
 * libuv's fs thread pool: a request stuck there would hold up process exit.
 * file.c refuses pipes, sockets and terminals here, which could block. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "file/file_internal.h"

/* Reads per wake-up at most: a busy device must not starve the loop. The
 * watcher is level-triggered, so what is left is read on the next turn. */
#define READ_BUDGET 256

/* read() one packet into a free slot (slots come back after each
 * dispatch). 0, or -errno (-EAGAIN: nothing queued; -ENOBUFS: no slot). */
static int read_packet(ion_file *f) {
  uint32_t slot;
  int rc = ion_tun_io_poll_slot(f, &slot);
  if (rc < 0) return rc;
  ssize_t n;
  do {
    n = read(f->fd, ion_file_slot(f, slot), f->cfg.rslot);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    rc = -errno;
    f->free_slots[f->nfree++] = slot; /* taken just above: room for it */
    return rc;
  }
  ion_file_deliver(f, slot, (uint32_t)n);
  return 0;
}

static void fpoll_readable(void *obj) {
  ion_file *f = obj;
  for (unsigned k = 0; k < READ_BUDGET; k++) {
    if (f->obj.closing || !f->reading || !f->nfree) return;
    int rc = read_packet(f);
    if (rc == -EAGAIN || rc == -EWOULDBLOCK) return;
    if (rc < 0) ion_file_read_error(f, rc); /* also stops reading */
  }
}

/* One request now: bytes, or -errno. */
static int32_t run_req(ion_file *f, const ion_file_req *r) {
  ssize_t n;
  do {
    if (r->op == ION_QOP_WRITE)
      n = r->at_pos ? pwrite(f->fd, r->buf, r->len, (off_t)r->pos)
                    : write(f->fd, r->buf, r->len);
    else
      n = r->at_pos ? pread(f->fd, r->buf, r->len, (off_t)r->pos)
                    : read(f->fd, r->buf, r->len);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : (int32_t)n;
}

void ion_fpoll_flush(ion_file *f) {
  bool wanted = f->want_write;
  if (f->vw) {
    f->want_write = false;
    ion_tun_vnet_flush(f); /* sets want_write again on EAGAIN */
    goto out;
  }
  uint32_t tail;
  if (ion_file_tail(f, &tail) < 0) return;
  f->want_write = false;
  /* Bounded: the tail is at most qslots past the frontier (dring.h). */
  while (f->dr.next != tail) {
    uint32_t slot = ion_dring_slot(&f->dr, f->dr.next);
    ion_file_req r;
    int32_t res = ion_file_check_req(f, ion_dring_desc(&f->dr, slot), &r);
    if (res == 0) res = run_req(f, &r);
    /* A full TUN queue: the addon polls for POLLOUT, then this retries.
     * (A regular file never says EAGAIN; if one did, fail rather than
     * wait for a POLLOUT that cannot be watched.) */
    if ((res == -EAGAIN || res == -EWOULDBLOCK) &&
        f->cfg.kind == ION_FILE_TUN) {
      f->want_write = true;
      break;
    }
    f->dr.next++;
    ion_file_req_done(f, slot, res);
  }
out:
  ion_file_update_alive(f);
  if (wanted != f->want_write && f->rx->poll_hook)
    f->rx->poll_hook(f->rx, &f->obj);
}

static void fpoll_writable(void *obj) {
  ion_file *f = obj;
  if (!f->obj.closing) ion_fpoll_flush(f);
}

/* libuv reports POLLERR as an error and stops watching. A TUN fd says
 * POLLERR once its interface is gone; a read names the real error
 * (EBADFD), as the ring path reports it. Pending writes then fail with
 * theirs. */
static void fpoll_error(void *obj, int fallback) {
  ion_file *f = obj;
  if (f->obj.closing) return;
  if (f->reading && f->nfree) {
    int rc = read_packet(f);
    /* Nothing to read, yet an error: report libuv's, or it would spin. */
    if (rc == -EAGAIN || rc == -EWOULDBLOCK) rc = fallback;
    if (rc < 0) ion_file_read_error(f, rc);
  }
  if (f->want_write) ion_fpoll_flush(f);
}

static int fpoll_events(const void *obj) {
  const ion_file *f = obj;
  /* Regular files are always ready: no watcher, requests run at flush. */
  if (f->obj.closing || f->cfg.kind != ION_FILE_TUN) return 0;
  return (f->reading ? POLLIN : 0) | (f->want_write ? POLLOUT : 0);
}

static int fpoll_fd(const void *obj) { return ((const ion_file *)obj)->fd; }

const ion_poll_ops ion_fpoll_ops = {
    .fd = fpoll_fd,
    .events = fpoll_events,
    .readable = fpoll_readable,
    .writable = fpoll_writable,
    .error = fpoll_error,
};
