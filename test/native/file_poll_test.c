/*
 * Native tests of the poll backend for TUN devices and files (file_poll.c,
 * with file.c and reactor.c), without Node and without any ring: the
 * reactor is set up the way the addon leaves it when io_uring_setup is
 * refused (ring.fd == -1). The test plays the addon (it calls o->poll's
 * callbacks when it decides the fd is ready) and JS (it pushes request
 * descriptors and clears events after each "dispatch").
 *
 * A TUN fd is stood in for by one end of an AF_UNIX SOCK_DGRAM socketpair:
 * like a TUN queue it keeps packet boundaries, cuts a packet longer than
 * the read buffer, and says EAGAIN when empty (non-blocking) or full.
 *
 * TAP output and CHECK: test_util.h. Never skips (no io_uring needed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "file/file_internal.h"
#include "core/reactor.h"
#include "test_util.h"

#define READY_CAP 16
#define QSLOTS 8

/* A ring-less reactor, one object, its shared memory, and a peer fd. */
typedef struct {
  ion_reactor rx;
  ion_file_config cfg;
  ion_file_layout lay;
  ion_mem *block; /* our reference, as a JS view holds one */
  uint8_t *mem;
  int32_t *ctrl;
  ion_file *f;
  ion_obj *o;
  int fd;   /* given to the object */
  int peer; /* the other end (TUN: the "kernel side") */
  int hooks; /* poll_hook calls */
} pfix;

static void count_hook(ion_reactor *rx, ion_obj *o) {
  (void)o;
  ((pfix *)rx->hook_data)->hooks++;
}

static void rx_init(pfix *p) {
  memset(p, 0, sizeof(*p));
  p->fd = p->peer = -1;
  /* What the addon holds when io_uring_setup failed. */
  p->rx.ring.fd = -1;
  p->rx.efd = -1;
  p->rx.ring_err = -EPERM;
  p->rx.poll_hook = count_hook;
  p->rx.hook_data = p;
}

/* Make the object over p->fd (owned by it from then on). 0 or -errno. */
static int obj_open(pfix *p, int kind, int packet_info) {
  p->cfg = (ion_file_config){.kind = kind,
                             .rslots = kind == ION_FILE_TUN ? 4 : 0,
                             .rslot = kind == ION_FILE_TUN ? 64 : 0,
                             .qslots = QSLOTS,
                             .qdata_len = 1 << 16,
                             .packet_info = packet_info,
                             .max_packet = 56,
                             .backend = ION_FILE_BACKEND_POLL};
  int rc = ion_file_layout_of(&p->cfg, &p->lay);
  if (rc < 0) return rc;
  rc = ion_file_create(&p->rx, &p->cfg, p->fd, &p->f);
  if (rc < 0) return rc;
  p->fd = -1; /* the object's now */
  /* What JS does: a view of the object's memory, holding a reference. */
  p->block = ion_file_mem(p->f);
  ion_mem_ref(p->block);
  p->mem = p->block->base;
  p->ctrl = (int32_t *)(p->mem + p->lay.ctrl);
  p->o = ion_file_obj(p->f);
  return 0;
}

static void teardown(pfix *p) {
  if (p->f) ion_file_close(p->f); /* no-op if closing */
  ion_reactor_shutdown(&p->rx);
  ion_reactor_destroy(&p->rx);
  ion_mem_unref(p->block);
  if (p->fd >= 0) close(p->fd);
  if (p->peer >= 0) close(p->peer);
}

/* What the addon does around a JS call: hand the events over in ready
 * entries, then let the objects recycle. */
static void dispatch(pfix *p) {
  int32_t e[READY_CAP * ION_E_WORDS];
  uint32_t n = p->rx.queue_n < READY_CAP ? p->rx.queue_n : READY_CAP;
  ion_reactor_entries(&p->rx, n, e);
  ion_reactor_after_dispatch(&p->rx, n);
}

static int32_t *qdesc(pfix *p, uint32_t slot) {
  return (int32_t *)(p->mem + p->lay.qdesc) + slot * ION_Q_WORDS;
}

static int32_t *rmeta(pfix *p, uint32_t i) {
  return (int32_t *)(p->mem + p->lay.rmeta) + i * ION_R_WORDS;
}

/* Push request n (slot n % QSLOTS) with its payload at qdata + at. pos < 0:
 * the fd's position. Returns the payload pointer. */
static uint8_t *push(pfix *p, uint32_t n, uint32_t at, uint32_t len, int op,
                     int64_t pos) {
  int32_t *d = qdesc(p, n % QSLOTS);
  d[ION_Q_OFF] = (int32_t)(p->lay.qdata + at);
  d[ION_Q_LEN] = (int32_t)len;
  d[ION_Q_RES] = 0;
  d[ION_Q_OP] = op;
  d[ION_Q_POS_LO] = pos < 0 ? -1 : (int32_t)(uint32_t)pos;
  d[ION_Q_POS_HI] = pos < 0 ? -1 : (int32_t)(pos >> 32);
  p->ctrl[ION_C_STAIL] = (int32_t)(n + 1);
  return p->mem + p->lay.qdata + at;
}

static int tun_pair(pfix *p) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
    return -errno;
  p->fd = sv[0];
  p->peer = sv[1];
  return 0;
}

/* ---- regular files ---- */

/* pwrite/pread at positions and at the file position, at flush, with the
 * results in the descriptors and SDONE moved; never a watcher. */
static int t_file_rw(void) {
  int st = FAIL;
  pfix p;
  rx_init(&p);
  char path[] = "/tmp/ionet-poll-test-XXXXXX";
  p.fd = mkstemp(path);
  CHECK(p.fd >= 0);
  unlink(path);
  CHECK(obj_open(&p, ION_FILE_REGULAR, 0) == 0);
  CHECK(p.o->poll && p.o->poll->events(p.o) == 0);
  memcpy(push(&p, 0, 0, 5, ION_QOP_WRITE, 100), "hello", 5);
  memcpy(push(&p, 1, 8, 3, ION_QOP_WRITE, -1), "abc", 3);
  push(&p, 2, 16, 5, ION_QOP_READ, 100);
  push(&p, 3, 24, 10, ION_QOP_READ, 200); /* past the end: 0 bytes */
  CHECK((int32_t)p.o->sdone == 0); /* nothing runs before the flush */
  ion_file_flush(p.f);
  CHECK((int32_t)p.o->sdone == 4 && (int32_t)p.f->dr.next == 4);
  CHECK(qdesc(&p, 0)[ION_Q_RES] == 5 && qdesc(&p, 1)[ION_Q_RES] == 3);
  CHECK(qdesc(&p, 2)[ION_Q_RES] == 5 && qdesc(&p, 3)[ION_Q_RES] == 0);
  CHECK(memcmp(p.mem + p.lay.qdata + 16, "hello", 5) == 0);
  char head[3];
  CHECK(pread(ion_file_fd(p.f), head, 3, 0) == 3 && !memcmp(head, "abc", 3));
  CHECK(p.rx.alive == 0); /* nothing in flight */
  st = PASS;
out:
  teardown(&p);
  return st;
}

/* A bad descriptor (a JS bug) fails alone, the next one still runs. */
static int t_file_bad_desc(void) {
  int st = FAIL;
  pfix p;
  rx_init(&p);
  char path[] = "/tmp/ionet-poll-test-XXXXXX";
  p.fd = mkstemp(path);
  CHECK(p.fd >= 0);
  unlink(path);
  CHECK(obj_open(&p, ION_FILE_REGULAR, 0) == 0);
  push(&p, 0, 0, 4, ION_QOP_WRITE, 0);
  qdesc(&p, 0)[ION_Q_OFF] = 8; /* inside the control words */
  push(&p, 1, 0, 4, 99, 0);    /* no such operation */
  push(&p, 2, 0, 1u << 20, ION_QOP_WRITE, 0); /* past the end */
  memcpy(push(&p, 3, 0, 4, ION_QOP_WRITE, 0), "good", 4);
  ion_file_flush(p.f);
  CHECK(qdesc(&p, 0)[ION_Q_RES] == -EFAULT);
  CHECK(qdesc(&p, 1)[ION_Q_RES] == -EINVAL);
  CHECK(qdesc(&p, 2)[ION_Q_RES] == -EFAULT);
  CHECK(qdesc(&p, 3)[ION_Q_RES] == 4);
  CHECK((int32_t)p.o->sdone == 4 && ((int32_t)p.o->events & ION_EV_SENT));
  st = PASS;
out:
  teardown(&p);
  return st;
}

/* What could block the loop thread is refused; without a ring, so is the
 * io_uring backend (with the ring's error). The caller keeps the fd. */
static int t_file_refused(void) {
  int st = FAIL;
  pfix p;
  rx_init(&p);
  int pipefd[2] = {-1, -1};
  CHECK(pipe(pipefd) == 0);
  p.fd = pipefd[0];
  CHECK(obj_open(&p, ION_FILE_REGULAR, 0) == -ESPIPE);
  CHECK(p.fd == pipefd[0] && fcntl(p.fd, F_GETFD) >= 0);
  p.cfg.backend = ION_FILE_BACKEND_URING;
  CHECK(ion_file_create(&p.rx, &p.cfg, -1, &p.f) == -EBADF);
  CHECK(ion_file_create(&p.rx, &p.cfg, p.fd, &p.f) == -EPERM);
  p.f = NULL;
  st = PASS;
out:
  if (pipefd[1] >= 0) close(pipefd[1]);
  teardown(&p);
  return st;
}

/* ---- TUN ---- */

/* Readable: packets land in free slots (at most rslots per dispatch), the
 * packet information header is parsed and stripped, TUN_PKT_STRIP and
 * over-long packets are flagged; after the dispatch reading goes on. */
static int t_tun_read(void) {
  int st = FAIL;
  pfix p;
  rx_init(&p);
  CHECK(tun_pair(&p) == 0);
  CHECK(obj_open(&p, ION_FILE_TUN, 1) == 0);
  CHECK(p.o->poll->events(p.o) == 0); /* not reading yet */
  CHECK(ion_file_start(p.f) == 0);
  CHECK(p.o->poll->events(p.o) == POLLIN && p.rx.alive == 1);
  uint8_t pkt[100];
  for (int i = 0; i < 6; i++) {
    memset(pkt, 0x45, sizeof(pkt));
    uint16_t flags = i == 1 ? 1 : 0; /* TUN_PKT_STRIP on #1, host order */
    memcpy(pkt, &flags, 2);
    pkt[2] = 0x08, pkt[3] = 0x00; /* ETH_P_IP, big-endian */
    pkt[4] = (uint8_t)i;
    size_t len = i == 2 ? sizeof(pkt) : 24; /* #2: longer than the slot */
    CHECK(send(p.peer, pkt, len, 0) == (ssize_t)len);
  }
  p.o->poll->readable(p.o);
  CHECK((int32_t)p.o->rcount == 4 && ((int32_t)p.o->events & ION_EV_RECV));
  for (uint32_t i = 0; i < 4; i++) {
    int32_t *m = rmeta(&p, i);
    CHECK(m[ION_R_PROTO] == 0x0800);
    CHECK(p.mem[m[ION_R_OFF]] == (uint8_t)i); /* the header is stripped */
    CHECK(m[ION_R_LEN] == (i == 2 ? 56 : 20));
    CHECK((m[ION_R_FLAGS] & ION_RF_TRUNC) == (i == 1 || i == 2 ? 1 : 0));
  }
  dispatch(&p);
  CHECK((int32_t)p.o->rcount == 0);
  p.o->poll->readable(p.o);
  CHECK((int32_t)p.o->rcount == 2 && p.mem[rmeta(&p, 1)[ION_R_OFF]] == 5);
  dispatch(&p);
  p.o->poll->readable(p.o); /* nothing left: EAGAIN, no event */
  CHECK((int32_t)p.o->rcount == 0 && (int32_t)p.o->events == 0);
  st = PASS;
out:
  teardown(&p);
  return st;
}

/* Write until the socket is full: the rest waits for POLLOUT (the hook
 * asks the addon for it) and keeps the loop alive; writable sends it. */
/* Native code in another object (WireGuard, forwarders) reads the batch
 * through ion_file_batch_get (entries checked against the read pool) and
 * writes packets through a window of the write ring. */
static int t_tun_cross_object(void) {
  int st = FAIL;
  pfix p;
  rx_init(&p);
  CHECK(tun_pair(&p) == 0);
  CHECK(obj_open(&p, ION_FILE_TUN, 0) == 0);
  CHECK(ion_file_start(p.f) == 0);
  uint8_t pkt[40], in[64];
  for (int i = 0; i < 3; i++) {
    memset(pkt, 0x45 + i, sizeof(pkt));
    CHECK(send(p.peer, pkt, 20 + (size_t)i, 0) == 20 + i);
  }
  p.o->poll->readable(p.o);
  CHECK(p.o->rcount == 3);
  uint8_t *data;
  uint32_t len;
  CHECK(ion_file_batch_get(p.f, 1, &data, &len) == 0 && len == 21);
  CHECK(data[0] == 0x46 && data >= p.mem + p.lay.rpool);
  CHECK(ion_file_batch_get(p.f, 3, &data, &len) == -EINVAL); /* past count */
  rmeta(&p, 2)[ION_R_OFF] = (int32_t)p.lay.qdata; /* tampered: not the pool */
  CHECK(ion_file_batch_get(p.f, 2, &data, &len) == -EINVAL);
  rmeta(&p, 2)[ION_R_LEN] = -1;
  CHECK(ion_file_batch_get(p.f, 2, &data, &len) == -EINVAL);
  /* A window of the write ring: two packets, then JS's tail moves. */
  ion_dring_window w;
  uint32_t at = p.lay.qdata + 64;
  CHECK(ion_file_window_open(p.f, &w, 1, 2, at, 256) == -EINVAL); /* tail 0 */
  CHECK(ion_file_window_open(p.f, &w, 0, 2, at, 256) == 0);
  uint8_t *a = ion_file_window_next(p.f, &w, 30);
  uint8_t *b = ion_file_window_next(p.f, &w, 25);
  CHECK(a && b && !ion_file_window_next(p.f, &w, 1));
  memset(a, 0x61, 30);
  memset(b, 0x62, 25);
  CHECK(qdesc(&p, 0)[ION_Q_OP] == ION_QOP_WRITE && qdesc(&p, 1)[ION_Q_LEN] == 25);
  p.ctrl[ION_C_STAIL] = 2; /* what JS's commitWindow does */
  ion_file_flush(p.f);
  CHECK(p.o->sdone == 2 && qdesc(&p, 0)[ION_Q_RES] == 30);
  CHECK(recv(p.peer, in, sizeof(in), 0) == 30 && in[0] == 0x61);
  CHECK(recv(p.peer, in, sizeof(in), 0) == 25 && in[24] == 0x62);
  st = PASS;
out:
  teardown(&p);
  return st;
}

static int t_tun_write_eagain(void) {
  int st = FAIL;
  pfix p;
  rx_init(&p);
  CHECK(tun_pair(&p) == 0);
  int small = 4096;
  setsockopt(p.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  CHECK(obj_open(&p, ION_FILE_TUN, 0) == 0);
  uint32_t n = 0;
  while ((int32_t)p.o->sdone == (int32_t)n && n < 4096) {
    push(&p, n, (n % QSLOTS) * 512, 512, ION_QOP_WRITE, -1)[0] = (uint8_t)n;
    n++;
    ion_file_flush(p.f);
  }
  uint32_t done = (uint32_t)(int32_t)p.o->sdone;
  CHECK(done == n - 1 && n > 1); /* the last one is waiting */
  CHECK(p.o->poll->events(p.o) == POLLOUT && p.hooks == 1);
  CHECK(p.rx.alive == 1);
  uint8_t buf[600];
  while (recv(p.peer, buf, sizeof(buf), 0) > 0) {
  }
  p.o->poll->writable(p.o);
  CHECK((int32_t)p.o->sdone == (int32_t)n);
  CHECK(qdesc(&p, (n - 1) % QSLOTS)[ION_Q_RES] == 512);
  CHECK(p.o->poll->events(p.o) == 0 && p.hooks == 2 && p.rx.alive == 0);
  CHECK(recv(p.peer, buf, sizeof(buf), 0) == 512 && buf[0] == (uint8_t)(n - 1));
  st = PASS;
out:
  teardown(&p);
  return st;
}

/* Close with a write waiting for POLLOUT and one not flushed yet: both
 * complete (ECANCELED) before ION_EV_CLOSED, at once, and the fd is
 * closed then. */
static int t_tun_close(void) {
  int st = FAIL;
  pfix p;
  rx_init(&p);
  CHECK(tun_pair(&p) == 0);
  int small = 4096;
  setsockopt(p.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  CHECK(obj_open(&p, ION_FILE_TUN, 0) == 0);
  CHECK(ion_file_start(p.f) == 0);
  uint32_t n = 0;
  while ((int32_t)p.o->sdone == (int32_t)n && n < 4096) {
    push(&p, n++, 0, 512, ION_QOP_WRITE, -1)[0] = 0x45;
    ion_file_flush(p.f);
  }
  push(&p, n++, 0, 512, ION_QOP_WRITE, -1); /* pushed, never flushed */
  int fd = ion_file_fd(p.f);
  ion_file_close(p.f);
  CHECK((int32_t)p.o->sdone == (int32_t)n);
  CHECK(qdesc(&p, (n - 1) % QSLOTS)[ION_Q_RES] == -ECANCELED);
  CHECK(qdesc(&p, (n - 2) % QSLOTS)[ION_Q_RES] == -ECANCELED);
  CHECK((int32_t)p.o->events & ION_EV_CLOSED);
  CHECK(p.o->finalized && fcntl(fd, F_GETFD) < 0 && errno == EBADF);
  CHECK(p.rx.alive == 0);
  dispatch(&p); /* JS saw 'close': the id goes, and the object with it */
  p.f = NULL;
  CHECK(p.rx.nobjs == 0);
  st = PASS;
out:
  teardown(&p);
  return st;
}

/* A poll error with nothing to read reports the error libuv gave, once,
 * and reading stops (the watcher then asks for nothing: no spinning). */
static int t_tun_poll_error(void) {
  int st = FAIL;
  pfix p;
  rx_init(&p);
  CHECK(tun_pair(&p) == 0);
  CHECK(obj_open(&p, ION_FILE_TUN, 0) == 0);
  CHECK(ion_file_start(p.f) == 0);
  p.o->poll->error(p.o, -EBADF);
  CHECK((int32_t)p.o->events & ION_EV_ERROR);
  CHECK(p.o->rerr == -EBADF);
  CHECK(p.o->poll->events(p.o) == 0 && p.rx.alive == 0);
  st = PASS;
out:
  teardown(&p);
  return st;
}

static const test_case tests[] = {
    {"file_pread_pwrite_at_flush", t_file_rw},
    {"file_bad_descriptor", t_file_bad_desc},
    {"file_refused", t_file_refused},
    {"tun_read_packets", t_tun_read},
    {"tun_cross_object", t_tun_cross_object},
    {"tun_write_eagain_pollout", t_tun_write_eagain},
    {"tun_close_contract", t_tun_close},
    {"tun_poll_error", t_tun_poll_error},
};

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  return run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
