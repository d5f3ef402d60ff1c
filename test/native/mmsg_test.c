/*
 * Native tests of the UDP poll backend (mmsg.c: recvmmsg/sendmmsg), the path
 * used when io_uring is refused. The addon drives it from a uv_poll watcher;
 * here each test calls the same entry points directly (on_readable,
 * on_writable, on_error, flush) and plays JS's part on the shared memory
 * (push send descriptors, clear the event word, after_dispatch).
 *
 * Every test runs twice:
 *   (no ring)  a reactor as ion_reactor_init leaves it when io_uring is
 *              refused: no ring (ring.fd == -1), ring_err == -EPERM, the
 *              ready list supplied by us as the addon would;
 *   (ring)     a real reactor with a ring, the mmsg backend forced (it is
 *              chosen per socket); skipped where io_uring is unavailable.
 *
 * TAP output and helpers: test_util.h. Every wait is bounded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/reactor.h"
#include "core/ring.h"
#include "test_util.h"
#include "udp/udp.h"
#include "udp/udp_internal.h" /* want_write; ion_mmsg_poll_ops */

#define READY_CAP 64
#define NO_RING 1 /* mfix_open: io_uring unavailable for the (ring) variant */
#define SENTINEL (-123456)

static const uint8_t LOOPBACK[4] = {127, 0, 0, 1};

/* ---- reactor hooks the addon would install ---- */

static int g_hooks;       /* poll_hook calls */
static int g_hook_events; /* o->poll->events(o) seen by the last call */
static int g_released;    /* release_hook calls */

static void count_poll_hook(ion_reactor *rx, ion_obj *o) {
  (void)rx;
  g_hooks++;
  g_hook_events = o->poll ? o->poll->events(o) : -1;
}

static void count_release(ion_reactor *rx, ion_obj *o) {
  (void)rx, (void)o;
  g_released++;
}

/* ---- fixture: a reactor and one mmsg socket bound to 127.0.0.1 ---- */

typedef struct {
  ion_reactor rx;
  bool rx_up;
  bool ringless;
  ion_udp_config cfg;
  ion_udp_layout lay;
  ion_mem *block; /* our reference, as a JS view holds one */
  uint8_t *mem;
  int32_t *ctrl;
  ion_udp *u;
  int id;
  int port; /* the socket's port */
  int peer; /* a plain socket */
  struct sockaddr_in peer_addr, obj_addr;
} mfix;

static ion_udp_config default_cfg(void) {
  return (ion_udp_config){.family = 4, .rslots = 8, .rslot = 512,
                          .sslots = 16, .sdata_len = 8192, .multishot = 1,
                          .backend = ION_BACKEND_MMSG};
}

/* The reactor only: ring-less as after a refused io_uring_setup, or real. */
static int rx_open(mfix *f, bool ringless) {
  memset(f, 0, sizeof(*f));
  f->peer = -1;
  f->ringless = ringless;
  if (ringless) {
    memset(&f->rx, 0, sizeof(f->rx));
    f->rx.ring.fd = -1;
    f->rx.efd = -1;
    f->rx.ring_err = -EPERM;
  } else {
    int rc = ion_reactor_init(&f->rx, 64);
    if (rc == -EPERM || rc == -ENOSYS) return NO_RING;
    if (rc < 0) return rc;
  }
  f->rx_up = true;
  f->rx.poll_hook = count_poll_hook;
  f->rx.release_hook = count_release;
  g_hooks = g_hook_events = g_released = 0;
  return 0;
}

/* Reactor, socket (cfg), bound to 127.0.0.1:0, started if asked, and a
 * plain peer socket. 0, NO_RING or -errno. */
static int mfix_open(mfix *f, bool ringless, const ion_udp_config *cfg,
                     bool start) {
  int rc = rx_open(f, ringless);
  if (rc != 0) return rc;
  f->cfg = *cfg;
  if ((rc = ion_udp_layout_of(&f->cfg, &f->lay)) < 0) return rc;
  f->id = ion_udp_create(&f->rx, &f->cfg, &f->u);
  if (f->id < 0) return f->u = NULL, f->id;
  /* What JS does: a view of the socket's memory, holding a reference. */
  f->block = ion_udp_mem(f->u);
  ion_mem_ref(f->block);
  f->mem = f->block->base;
  f->ctrl = (int32_t *)(f->mem + f->lay.ctrl);
  f->u->obj.poll = &ion_mmsg_poll_ops; /* as the addon does */
  if (cfg->family == 6) return 0;      /* the v6 test binds itself */
  if ((rc = ion_udp_bind(f->u, 4, LOOPBACK, 0, 0, 0)) < 0) return rc;
  int32_t w[ION_M_WORDS];
  if ((rc = ion_udp_name(f->u, 0, w)) < 0) return rc;
  f->port = w[ION_M_PORT];
  f->obj_addr = (struct sockaddr_in){.sin_family = AF_INET,
                                     .sin_port = htons((uint16_t)f->port)};
  f->obj_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if ((f->peer = udp_bound(&f->peer_addr)) < 0) return -errno;
  return start ? ion_udp_start(f->u) : 0;
}

/* Always safe: closes what is still open (also after a failed check). */
static void mfix_teardown(mfix *f) {
  if (f->rx_up) {
    if (f->u) ion_udp_close(f->u); /* no-op if already closing */
    ion_reactor_shutdown(&f->rx);
    ion_reactor_destroy(&f->rx);
  }
  ion_mem_unref(f->block);
  if (f->peer >= 0) close(f->peer);
}

/* What the addon does around a JS call: hand the queued objects' events
 * over in ready entries, then let them recycle (after_dispatch). */
static void dispatch(mfix *f) {
  int32_t e[READY_CAP * ION_E_WORDS];
  uint32_t n = f->rx.queue_n < READY_CAP ? f->rx.queue_n : READY_CAP;
  ion_reactor_entries(&f->rx, n, e);
  ion_reactor_after_dispatch(&f->rx, n);
}

static int32_t *rmeta(mfix *f, unsigned i) {
  return (int32_t *)(f->mem + f->lay.rmeta) + (size_t)i * ION_M_WORDS;
}
static int32_t *sdesc(mfix *f, unsigned slot) {
  return (int32_t *)(f->mem + f->lay.sdesc) + (size_t)slot * ION_M_WORDS;
}
static double stat_of(mfix *f, int s) {
  return ((double *)(f->mem + f->lay.stats))[s];
}
static uint32_t room_of(mfix *f) { return f->cfg.rslot - ION_UDP_SLOT_HDR; }

/* Datagram bytes still queued on the socket (SIOCINQ: 0 if none). */
static int queued_bytes(mfix *f) {
  int n = -1;
  return ioctl(ion_udp_fd(f->u), SIOCINQ, &n) == 0 ? n : -1;
}

/* Received entry i of the batch (mmsg: slot i holds the i-th datagram):
 * its offset is slot i's payload, the peer is our plain socket, the bytes
 * are pattern `seed` cut to the delivered length. */
static bool check_entry(mfix *f, unsigned i, size_t sent, unsigned seed,
                        uint32_t cap) {
  const int32_t *m = rmeta(f, i);
  size_t len = sent > cap ? cap : sent;
  uint32_t want_off =
      f->lay.rpool + i * f->cfg.rslot + (uint32_t)ION_UDP_SLOT_HDR;
  static const uint8_t rest[12];
  if ((uint32_t)m[ION_M_OFF] != want_off || (size_t)m[ION_M_LEN] != len)
    return false;
  if (m[ION_M_FLAGS] != (sent > cap ? ION_MF_TRUNC : 0)) return false;
  if (m[ION_M_FAMILY] != 4 || m[ION_M_PORT] != ntohs(f->peer_addr.sin_port) ||
      m[ION_M_SCOPE] != 0)
    return false;
  const uint8_t *addr = (const uint8_t *)&m[ION_M_ADDR];
  if (memcmp(addr, LOOPBACK, 4) != 0 || memcmp(addr + 4, rest, 12) != 0)
    return false;
  return same(f->mem + want_off, len, seed);
}

/* Write send descriptor `slot` as JS does: payload offset and length in
 * mem, then the destination (IPv4 words), or family 0 (the connected peer)
 * when `to` is NULL. The result word starts as a sentinel. */
static void put_sdesc(mfix *f, unsigned slot, uint32_t off, int32_t len,
                      const struct sockaddr_in *to) {
  int32_t *d = sdesc(f, slot & (f->cfg.sslots - 1));
  memset(d, 0, ION_M_WORDS * sizeof(int32_t));
  d[ION_M_OFF] = (int32_t)off;
  d[ION_M_LEN] = len;
  d[ION_M_FLAGS] = SENTINEL;
  if (to) {
    d[ION_M_FAMILY] = 4;
    d[ION_M_PORT] = ntohs(to->sin_port);
    memcpy(&d[ION_M_ADDR], &to->sin_addr, 4);
  }
}
static int32_t result_of(mfix *f, unsigned n) {
  return sdesc(f, n & (f->cfg.sslots - 1))[ION_M_FLAGS];
}

/* Close: a mmsg socket has nothing in flight, so it finalizes at once and
 * reports ION_EV_CLOSED; the dispatch that JS saw it in frees the id. */
static bool mfix_close_checked(mfix *f) {
  ion_udp_close(f->u);
  ion_obj *o = ion_reactor_get(&f->rx, (uint32_t)f->id);
  if (!o || !o->finalized || o->inflight || f->rx.alive != 0) return false;
  if (!((int32_t)f->u->obj.events & ION_EV_CLOSED)) return false;
  int released = g_released;
  dispatch(f);
  f->u = NULL; /* freed by the reactor with its id */
  return ion_reactor_get(&f->rx, (uint32_t)f->id) == NULL &&
         f->rx.nobjs == 0 && f->rx.queue_n == 0 &&
         g_released == released + 1;
}

/* Wait (bounded) for POLLERR, a pending socket error, on fd. */
static bool wait_pollerr(int fd) {
  struct pollfd p = {.fd = fd, .events = 0};
  for (int i = 0; i < 2000; i++)
    if (poll(&p, 1, 1) == 1 && (p.revents & POLLERR)) return true;
  return false;
}

/* A 127.0.0.1 port nobody listens on (bound, then released). */
static int closed_port(void) {
  struct sockaddr_in a;
  int fd = udp_bound(&a);
  if (fd < 0) return -1;
  close(fd);
  return ntohs(a.sin_port);
}

#define OPEN_OR_SKIP(f, ringless, cfg, start)                               \
  do {                                                                      \
    rc = mfix_open(f, ringless, cfg, start);                                \
    SKIP_IF(rc == NO_RING, "io_uring unavailable (the no-ring run covers " \
                           "this)");                                       \
    CHECKF(rc == 0, "open=%d", rc);                                         \
  } while (0)

/* ---- create ---- */

/* A mmsg socket is non-blocking, close-on-exec, asks for the drop counter,
 * never multishot; it wants POLLIN only once started. An io_uring socket
 * on a ring-less reactor is refused with the ring's error. */
static int t_create(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp *u2 = NULL;
  ion_udp_config cfg = default_cfg();
  OPEN_OR_SKIP(&f, ringless, &cfg, false);
  int fd = ion_udp_fd(f.u), on = 0;
  socklen_t olen = sizeof(on);
  CHECK(fd >= 0);
  CHECKF(fcntl(fd, F_GETFL) & O_NONBLOCK, "flags=0x%x", fcntl(fd, F_GETFL));
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  CHECK(getsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, &olen) == 0 && on == 1);
  CHECK(!ion_udp_is_multishot(f.u)); /* cfg asked for it: not on mmsg */
  CHECKF(f.u->cfg.max_payload == room_of(&f), "%u", f.u->cfg.max_payload);
  CHECK(f.rx.nobjs == 1 && f.id >= 1);
  /* What the addon's watcher asks: nothing until started, then POLLIN. */
  ion_obj *o = &f.u->obj;
  CHECK(o->poll->fd(o) == fd);
  CHECK(o->poll->events(o) == 0 && ion_mmsg_poll_events(f.u) == 0);
  CHECK(f.rx.alive == 0);
  CHECK(ion_udp_start(f.u) == 0 && ion_udp_start(f.u) == 0);
  CHECK(ion_mmsg_poll_events(f.u) == POLLIN && f.rx.alive == 1);
  ion_udp_set_ref(f.u, 0);
  CHECK(f.rx.alive == 0);
  ion_udp_set_ref(f.u, 1);
  CHECK(f.rx.alive == 1);
  if (!ringless) CHECK(ion_ring_sq_pending(&f.rx.ring) == 0); /* no SQE */
  CHECK(g_hooks == 0);
  /* Backend refused / unknown. */
  ion_udp_config c2 = cfg;
  c2.backend = 7;
  rc = ion_udp_create(&f.rx, &c2, &u2);
  CHECKF(rc == -EINVAL, "rc=%d", rc);
  if (ringless) {
    c2.backend = ION_BACKEND_URING;
    rc = ion_udp_create(&f.rx, &c2, &u2);
    CHECKF(rc == -EPERM, "rc=%d", rc);
    f.rx.ring_err = 0; /* no recorded error: still refused */
    rc = ion_udp_create(&f.rx, &c2, &u2);
    f.rx.ring_err = -EPERM;
    CHECKF(rc == -ENOSYS, "rc=%d", rc);
  }
  CHECK(u2 == NULL && f.rx.nobjs == 1);
  CHECK(mfix_close_checked(&f));
  st = PASS;
out:
  mfix_teardown(&f);
  return st;
}

/* ---- receive ---- */

/* Five datagrams (one empty, one filling the slot) arrive as one batch in
 * slot order with their peer address; a second readable with nothing
 * queued changes nothing; the dispatch ends the batch. */
static int t_recv(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp_config cfg = default_cfg();
  /* The last fills the slot: rslot 512 less the slot header. */
  const size_t lens[5] = {0, 1, 64, 300, 512 - ION_UDP_SLOT_HDR};
  double bytes = 0;
  OPEN_OR_SKIP(&f, ringless, &cfg, true);
  for (unsigned k = 0; k < 5; k++) {
    CHECK(send_pattern(f.peer, &f.obj_addr, lens[k], k));
    bytes += (double)lens[k];
  }
  ion_obj *o = &f.u->obj;
  o->poll->readable(o); /* the addon's path; same as ion_mmsg_on_readable */
  CHECKF((int32_t)f.u->obj.rcount == 5, "rcount=%d", (int32_t)f.u->obj.rcount);
  CHECK((int32_t)f.u->obj.events == ION_EV_RECV && f.u->obj.rerr == 0);
  CHECK(f.rx.queue_n == 1 && f.rx.queue[0] == (uint32_t)f.id);
  for (unsigned i = 0; i < 5; i++)
    CHECKF(check_entry(&f, i, lens[i], i, room_of(&f)),
           "entry %u: off=%d len=%d flags=%d port=%d fam=%d", i,
           rmeta(&f, i)[ION_M_OFF], rmeta(&f, i)[ION_M_LEN],
           rmeta(&f, i)[ION_M_FLAGS], rmeta(&f, i)[ION_M_PORT],
           rmeta(&f, i)[ION_M_FAMILY]);
  CHECK(stat_of(&f, ION_S_PKTS_IN) == 5 && stat_of(&f, ION_S_BYTES_IN) == bytes);
  CHECK(stat_of(&f, ION_S_TRUNC) == 0 && stat_of(&f, ION_S_DROPS) == 0);
  ion_mmsg_on_readable(f.u); /* EAGAIN: not an error */
  CHECK((int32_t)f.u->obj.rcount == 5 && f.u->obj.rerr == 0);
  CHECK(stat_of(&f, ION_S_RECV_ERRORS) == 0 && f.rx.queue_n == 1);
  dispatch(&f);
  CHECK((int32_t)f.u->obj.rcount == 0 && f.rx.queue_n == 0);
  CHECK(stat_of(&f, ION_S_BATCHES) == 1);
  CHECK(g_hooks == 0);
  CHECK(mfix_close_checked(&f));
  st = PASS;
out:
  mfix_teardown(&f);
  return st;
}

/* Four slots, ten datagrams: each readable fills at most the four slots;
 * the rest stay queued (and are not written over the batch JS has not
 * seen) until the dispatch frees the slots. Order is kept throughout. */
static int t_recv_batch_limit(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp_config cfg = default_cfg();
  cfg.rslots = 4;
  unsigned got = 0;
  OPEN_OR_SKIP(&f, ringless, &cfg, true);
  for (unsigned k = 0; k < 10; k++)
    CHECK(send_pattern(f.peer, &f.obj_addr, 20 + k, k));
  ion_mmsg_on_readable(f.u);
  CHECKF((int32_t)f.u->obj.rcount == 4, "rcount=%d", (int32_t)f.u->obj.rcount);
  CHECK(queued_bytes(&f) > 0);
  ion_mmsg_on_readable(f.u); /* slots full: must not read */
  CHECK((int32_t)f.u->obj.rcount == 4 && stat_of(&f, ION_S_PKTS_IN) == 4);
  for (int round = 0; round < 3; round++) {
    unsigned want = round < 2 ? 4 : 2;
    if (round > 0) {
      CHECK((int32_t)f.u->obj.rcount == 0);
      ion_mmsg_on_readable(f.u);
    }
    CHECKF((int32_t)f.u->obj.rcount == (int32_t)want, "round %d rcount=%d",
           round, (int32_t)f.u->obj.rcount);
    CHECK((int32_t)f.u->obj.events & ION_EV_RECV);
    for (unsigned i = 0; i < want; i++, got++)
      CHECKF(check_entry(&f, i, 20 + got, got, room_of(&f)), "datagram %u",
             got);
    dispatch(&f);
  }
  CHECK(got == 10 && queued_bytes(&f) == 0);
  CHECK(stat_of(&f, ION_S_PKTS_IN) == 10 && stat_of(&f, ION_S_BATCHES) == 3);
  CHECK(mfix_close_checked(&f));
  st = PASS;
out:
  mfix_teardown(&f);
  return st;
}

/* More slots than one recvmmsg batch (ION_MMSG_BATCH): one readable takes
 * everything queued, over several calls, in order. */
static int t_recv_many(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp_config cfg = default_cfg();
  cfg.rslots = 256;
  const unsigned n = ION_MMSG_BATCH * 2 + 36;
  OPEN_OR_SKIP(&f, ringless, &cfg, true);
  CHECK(ion_udp_setopt(f.u, ION_OPT_RCVBUF, 1 << 20) == 0);
  for (unsigned k = 0; k < n; k++)
    CHECK(send_pattern(f.peer, &f.obj_addr, 32, k));
  ion_mmsg_on_readable(f.u);
  CHECKF((int32_t)f.u->obj.rcount == (int32_t)n, "rcount=%d drops=%g",
         (int32_t)f.u->obj.rcount, stat_of(&f, ION_S_DROPS));
  for (unsigned i = 0; i < n; i++)
    CHECKF(check_entry(&f, i, 32, i, room_of(&f)), "entry %u", i);
  dispatch(&f);
  CHECK(mfix_close_checked(&f));
  st = PASS;
out:
  mfix_teardown(&f);
  return st;
}

/* max_payload 100: a longer datagram is cut to 100 bytes and flagged; one
 * of exactly 100 is not. */
static int t_recv_trunc(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp_config cfg = default_cfg();
  cfg.max_payload = 100;
  OPEN_OR_SKIP(&f, ringless, &cfg, true);
  CHECK(send_pattern(f.peer, &f.obj_addr, 150, 0));
  CHECK(send_pattern(f.peer, &f.obj_addr, 100, 1));
  CHECK(send_pattern(f.peer, &f.obj_addr, 50, 2));
  ion_mmsg_on_readable(f.u);
  CHECKF((int32_t)f.u->obj.rcount == 3, "rcount=%d", (int32_t)f.u->obj.rcount);
  CHECKF(check_entry(&f, 0, 150, 0, 100), "len=%d flags=%d",
         rmeta(&f, 0)[ION_M_LEN], rmeta(&f, 0)[ION_M_FLAGS]);
  CHECK(rmeta(&f, 0)[ION_M_FLAGS] == ION_MF_TRUNC);
  CHECK(check_entry(&f, 1, 100, 1, 100) && rmeta(&f, 1)[ION_M_FLAGS] == 0);
  CHECK(check_entry(&f, 2, 50, 2, 100));
  CHECK(stat_of(&f, ION_S_TRUNC) == 1 && stat_of(&f, ION_S_BYTES_IN) == 250);
  dispatch(&f);
  CHECK(mfix_close_checked(&f));
  st = PASS;
out:
  mfix_teardown(&f);
  return st;
}

/* The kernel's drop counter (SO_RXQ_OVFL) reaches stats[ION_S_DROPS]: a
 * tiny receive buffer overflows, we drain it, then a marker datagram
 * carries the drop count in its control message. */
static int t_recv_drops(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp_config cfg = default_cfg();
  bool marker = false;
  OPEN_OR_SKIP(&f, ringless, &cfg, true);
  int one = 1;
  CHECK(setsockopt(ion_udp_fd(f.u), SOL_SOCKET, SO_RCVBUF, &one,
                   sizeof(one)) == 0); /* the kernel's minimum */
  for (unsigned k = 0; k < 64; k++)
    CHECK(send_pattern(f.peer, &f.obj_addr, 1000, k));
  for (int i = 0; i < 100 && queued_bytes(&f) != 0; i++) {
    ion_mmsg_on_readable(f.u);
    dispatch(&f);
  }
  CHECK(queued_bytes(&f) == 0);
  CHECK(stat_of(&f, ION_S_PKTS_IN) < 64);
  CHECK(send_pattern(f.peer, &f.obj_addr, 77, 5));
  ion_mmsg_on_readable(f.u);
  for (int i = 0; i < (int32_t)f.u->obj.rcount; i++)
    if (rmeta(&f, (unsigned)i)[ION_M_LEN] == 77) marker = true;
  CHECK(marker);
  CHECKF(stat_of(&f, ION_S_DROPS) > 0, "drops=%g in=%g",
         stat_of(&f, ION_S_DROPS), stat_of(&f, ION_S_PKTS_IN));
  CHECKF(stat_of(&f, ION_S_DROPS) + stat_of(&f, ION_S_PKTS_IN) == 65,
         "drops=%g in=%g", stat_of(&f, ION_S_DROPS),
         stat_of(&f, ION_S_PKTS_IN));
  dispatch(&f);
  CHECK(mfix_close_checked(&f));
  st = PASS;
out:
  mfix_teardown(&f);
  return st;
}

/* An IPv6 socket on ::1: the peer's address words are family 6, 16 bytes;
 * a family-6 descriptor goes out to the v6 peer. */
static int t_ipv6(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp_config cfg = default_cfg();
  cfg.family = 6;
  int p6 = -1;
  struct sockaddr_in6 pa = {.sin6_family = AF_INET6}, oa;
  socklen_t alen = sizeof(pa);
  uint8_t buf[256];
  OPEN_OR_SKIP(&f, ringless, &cfg, false);
  pa.sin6_addr = in6addr_loopback;
  p6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK(p6 >= 0);
  SKIP_IF(bind(p6, (struct sockaddr *)&pa, sizeof(pa)) < 0, "no ::1 (%s)",
          strerror(errno));
  CHECK(getsockname(p6, (struct sockaddr *)&pa, &alen) == 0);
  rc = ion_udp_bind(f.u, 6, (const uint8_t *)&in6addr_loopback, 0, 0, 0);
  CHECKF(rc == 0, "bind=%d", rc);
  int32_t w[ION_M_WORDS];
  CHECK(ion_udp_name(f.u, 0, w) == 0 && w[ION_M_FAMILY] == 6);
  oa = pa;
  oa.sin6_port = htons((uint16_t)w[ION_M_PORT]);
  CHECK(ion_udp_start(f.u) == 0);
  fill(buf, 40, 9);
  CHECK(sendto(p6, buf, 40, 0, (struct sockaddr *)&oa, sizeof(oa)) == 40);
  ion_mmsg_on_readable(f.u);
  CHECK((int32_t)f.u->obj.rcount == 1);
  int32_t *m = rmeta(&f, 0);
  CHECK(m[ION_M_FAMILY] == 6 && m[ION_M_PORT] == ntohs(pa.sin6_port));
  CHECK(m[ION_M_SCOPE] == 0 && m[ION_M_LEN] == 40);
  CHECK(memcmp(&m[ION_M_ADDR], &in6addr_loopback, 16) == 0);
  CHECK(same(f.mem + m[ION_M_OFF], 40, 9));
  dispatch(&f);
  /* And back: a family-6 descriptor. */
  int32_t *d = sdesc(&f, 0);
  fill(f.mem + f.lay.sdata, 33, 4);
  memset(d, 0, ION_M_WORDS * sizeof(int32_t));
  d[ION_M_OFF] = (int32_t)f.lay.sdata;
  d[ION_M_LEN] = 33;
  d[ION_M_FAMILY] = 6;
  d[ION_M_PORT] = ntohs(pa.sin6_port);
  memcpy(&d[ION_M_ADDR], &in6addr_loopback, 16);
  f.ctrl[ION_C_STAIL] = 1;
  ion_udp_flush(f.u);
  CHECKF((int32_t)f.u->obj.sdone == 1 && d[ION_M_FLAGS] == 33, "res=%d",
         d[ION_M_FLAGS]);
  CHECK(recv(p6, buf, sizeof(buf), MSG_DONTWAIT) == 33 && same(buf, 33, 4));
  CHECK(mfix_close_checked(&f));
  st = PASS;
out:
  if (p6 >= 0) close(p6);
  mfix_teardown(&f);
  return st;
}

/* ---- send ---- */

/* Three rounds of eight descriptors (so the 16-slot ring wraps), each
 * flushed at once: every one completes with its length, SDONE/SSUB follow,
 * the peer gets them in order from the socket's port; with SWANT 0 and no
 * failure JS is not woken, with SWANT 1 it is. */
static int t_send(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp_config cfg = default_cfg();
  uint8_t in[2048];
  double bytes = 0;
  OPEN_OR_SKIP(&f, ringless, &cfg, true);
  unsigned n = 0;
  for (int round = 0; round < 3; round++) {
    if (round == 2) f.ctrl[ION_C_SWANT] = 1;
    unsigned first = n;
    for (unsigned i = 0; i < 8; i++, n++) {
      uint32_t off = f.lay.sdata + i * 1024;
      int32_t len = i == 3 ? 0 : (int32_t)(100 + n * 7);
      fill(f.mem + off, (size_t)len, n);
      put_sdesc(&f, n, off, len, &f.peer_addr);
      bytes += len;
    }
    f.ctrl[ION_C_STAIL] = (int32_t)n;
    ion_udp_flush(f.u);
    CHECKF((int32_t)f.u->obj.sdone == (int32_t)n, "round %d sdone=%d", round,
           (int32_t)f.u->obj.sdone);
    CHECK((int32_t)f.u->dr.next == (int32_t)n);
    for (unsigned k = first; k < n; k++) {
      int32_t want = (k - first) == 3 ? 0 : (int32_t)(100 + k * 7);
      struct sockaddr_in from;
      socklen_t alen = sizeof(from);
      CHECKF(result_of(&f, k) == want, "send %u res=%d", k, result_of(&f, k));
      ssize_t r =
          recvfrom(f.peer, in, sizeof(in), 0, (struct sockaddr *)&from, &alen);
      CHECKF(r == want && same(in, (size_t)r, k), "send %u recv=%zd", k, r);
      CHECK(ntohs(from.sin_port) == f.port);
    }
    if (round < 2) {
      CHECK(f.rx.queue_n == 0 && (int32_t)f.u->obj.events == 0);
    } else {
      CHECK((int32_t)f.u->obj.events == ION_EV_SENT && f.rx.queue_n == 1);
      dispatch(&f);
    }
  }
  CHECK(recv(f.peer, in, sizeof(in), MSG_DONTWAIT) < 0 && errno == EAGAIN);
  CHECK(stat_of(&f, ION_S_PKTS_OUT) == 24 && stat_of(&f, ION_S_BYTES_OUT) == bytes);
  CHECK(stat_of(&f, ION_S_SEND_ERRORS) == 0);
  CHECK(!f.u->want_write && g_hooks == 0);
  CHECK(mfix_close_checked(&f));
  st = PASS;
out:
  mfix_teardown(&f);
  return st;
}

/* GSO and GRO on loopback: eleven sends to the socket's own address (ten
 * of 1000 bytes, one of 500) leave in one sendmsg; they come back as one
 * GRO receive, split into eleven entries in slot 0, each with its bytes. */
static int t_gso_gro(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp_config cfg = default_cfg();
  cfg.rslots = 4;
  cfg.rslot = (ION_UDP_SLOT_HDR + ION_UDP_GRO_PAYLOAD + 7) & ~7U;
  cfg.sdata_len = 65536;
  cfg.gso = 1;
  cfg.gro = 1;
  OPEN_OR_SKIP(&f, ringless, &cfg, true);
  CHECK(ion_udp_gso_on(f.u) && ion_udp_gro_on(f.u));
  CHECK(f.lay.rmeta_n == 4 * ION_UDP_GRO_SEGS);
  for (unsigned k = 0; k < 11; k++) {
    uint32_t off = f.lay.sdata + k * 1000;
    int32_t len = k == 10 ? 500 : 1000;
    fill(f.mem + off, (size_t)len, k);
    put_sdesc(&f, k, off, len, &f.obj_addr);
  }
  f.ctrl[ION_C_STAIL] = 11;
  ion_udp_flush(f.u);
  CHECKF((int32_t)f.u->obj.sdone == 11, "sdone=%d", (int32_t)f.u->obj.sdone);
  for (unsigned k = 0; k < 11; k++)
    CHECKF(result_of(&f, k) == (k == 10 ? 500 : 1000), "send %u res=%d", k,
           result_of(&f, k));
  CHECK(stat_of(&f, ION_S_GSO_SENDS) == 1 && stat_of(&f, ION_S_PKTS_OUT) == 11);
  ion_mmsg_on_readable(f.u);
  CHECKF((int32_t)f.u->obj.rcount == 11, "rcount=%d", (int32_t)f.u->obj.rcount);
  CHECK(stat_of(&f, ION_S_GRO_RECVS) == 1 && stat_of(&f, ION_S_PKTS_IN) == 11);
  uint32_t base = f.lay.rpool + ION_UDP_SLOT_HDR;
  for (unsigned k = 0; k < 11; k++) {
    const int32_t *m = rmeta(&f, k);
    int32_t len = k == 10 ? 500 : 1000;
    CHECKF(m[ION_M_OFF] == (int32_t)(base + k * 1000) && m[ION_M_LEN] == len &&
               m[ION_M_FLAGS] == 0 && m[ION_M_PORT] == f.port,
           "entry %u off=%d len=%d", k, m[ION_M_OFF], m[ION_M_LEN]);
    CHECK(same(f.mem + m[ION_M_OFF], (size_t)len, k));
  }
  dispatch(&f);
  CHECK((int32_t)f.u->obj.rcount == 0 && f.u->mm_used == 0);
  CHECK(mfix_close_checked(&f));
  st = PASS;
out:
  mfix_teardown(&f);
  return st;
}

/* Bad descriptors between good ones fail alone (-EFAULT outside the send
 * region or negative, -EINVAL for a wrong family or port); the good ones
 * go out in order; JS hears ION_EV_SENT because something failed. */
static int t_send_bad_desc(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp_config cfg = default_cfg();
  uint8_t in[256];
  OPEN_OR_SKIP(&f, ringless, &cfg, true);
  uint32_t sd = f.lay.sdata;
  fill(f.mem + sd, 10, 1);
  fill(f.mem + sd + 100, 20, 2);
  put_sdesc(&f, 0, sd, 10, &f.peer_addr);                        /* ok */
  put_sdesc(&f, 1, 0, 16, &f.peer_addr);                         /* ctrl */
  put_sdesc(&f, 2, sd + f.cfg.sdata_len - 8, 16, &f.peer_addr);  /* past */
  put_sdesc(&f, 3, sd, -1, &f.peer_addr);                        /* len<0 */
  put_sdesc(&f, 4, sd, 10, &f.peer_addr);
  sdesc(&f, 4)[ION_M_FAMILY] = 6;                                /* family */
  put_sdesc(&f, 5, sd, 10, &f.peer_addr);
  sdesc(&f, 5)[ION_M_PORT] = 70000;                              /* port */
  put_sdesc(&f, 6, sd + 100, 20, &f.peer_addr);                  /* ok */
  f.ctrl[ION_C_STAIL] = 7;
  ion_udp_flush(f.u);
  CHECKF((int32_t)f.u->obj.sdone == 7, "sdone=%d", (int32_t)f.u->obj.sdone);
  const int32_t want[7] = {10, -EFAULT, -EFAULT, -EFAULT, -EINVAL, -EINVAL, 20};
  for (unsigned k = 0; k < 7; k++)
    CHECKF(result_of(&f, k) == want[k], "desc %u res=%d", k, result_of(&f, k));
  CHECK(stat_of(&f, ION_S_SEND_ERRORS) == 5 && stat_of(&f, ION_S_PKTS_OUT) == 2);
  CHECK(((int32_t)f.u->obj.events & ION_EV_SENT) && f.rx.queue_n == 1);
  CHECK(recv(f.peer, in, sizeof(in), 0) == 10 && same(in, 10, 1));
  CHECK(recv(f.peer, in, sizeof(in), 0) == 20 && same(in, 20, 2));
  CHECK(recv(f.peer, in, sizeof(in), MSG_DONTWAIT) < 0 && errno == EAGAIN);
  dispatch(&f);
  CHECK(mfix_close_checked(&f));
  st = PASS;
out:
  mfix_teardown(&f);
  return st;
}

/* Connected to a port nobody listens on: the datagram goes out, the ICMP
 * answer leaves a socket error (POLLERR), and on_error (what libuv's
 * UV_EBADF turns into) reports the real one, ECONNREFUSED, once; without
 * a pending error it reports the fallback. A pending error also fails the
 * next send alone, and a receive. */
static int t_econnrefused(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp_config cfg = default_cfg();
  OPEN_OR_SKIP(&f, ringless, &cfg, true);
  int port = closed_port();
  CHECK(port > 0);
  rc = ion_udp_connect(f.u, 4, LOOPBACK, 0, port);
  CHECKF(rc == 0, "connect=%d", rc);
  int fd = ion_udp_fd(f.u);
  fill(f.mem + f.lay.sdata, 12, 0);
  put_sdesc(&f, 0, f.lay.sdata, 12, NULL); /* family 0: the connected peer */
  f.ctrl[ION_C_STAIL] = 1;
  ion_udp_flush(f.u);
  CHECKF(result_of(&f, 0) == 12, "res=%d", result_of(&f, 0));
  CHECK(wait_pollerr(fd));
  ion_obj *o = &f.u->obj;
  o->poll->error(o, -EBADF); /* the addon's path to ion_mmsg_on_error */
  CHECKF(f.u->obj.rerr == -ECONNREFUSED, "rerr=%d", f.u->obj.rerr);
  CHECK((int32_t)f.u->obj.events == ION_EV_ERROR && f.rx.queue_n == 1);
  CHECK(stat_of(&f, ION_S_RECV_ERRORS) == 1);
  int err = -1;
  socklen_t elen = sizeof(err);
  CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0);
  dispatch(&f);
  ion_mmsg_on_error(f.u, -EBADF); /* nothing pending: the fallback */
  CHECKF(f.u->obj.rerr == -EBADF, "rerr=%d", f.u->obj.rerr);
  dispatch(&f);
  /* Pending error, then a flush of two: the first fails with it (the
   * kernel hands the error to that sendmmsg), the second goes out. */
  put_sdesc(&f, 1, f.lay.sdata, 12, NULL);
  f.ctrl[ION_C_STAIL] = 2;
  ion_udp_flush(f.u);
  CHECK(result_of(&f, 1) == 12 && wait_pollerr(fd));
  put_sdesc(&f, 2, f.lay.sdata, 12, NULL);
  put_sdesc(&f, 3, f.lay.sdata, 12, NULL);
  f.ctrl[ION_C_STAIL] = 4;
  ion_udp_flush(f.u);
  CHECKF((int32_t)f.u->obj.sdone == 4, "sdone=%d", (int32_t)f.u->obj.sdone);
  CHECKF(result_of(&f, 2) == -ECONNREFUSED, "res=%d", result_of(&f, 2));
  CHECKF(result_of(&f, 3) == 12, "res=%d", result_of(&f, 3));
  CHECK((int32_t)f.u->obj.events == ION_EV_SENT);
  CHECK(stat_of(&f, ION_S_SEND_ERRORS) == 1);
  dispatch(&f);
  /* The last one is refused too: a readable now gets the error. */
  CHECK(wait_pollerr(fd));
  ion_mmsg_on_readable(f.u);
  CHECKF(f.u->obj.rerr == -ECONNREFUSED, "rerr=%d", f.u->obj.rerr);
  CHECK((int32_t)f.u->obj.events == ION_EV_ERROR && (int32_t)f.u->obj.rcount == 0);
  CHECK(stat_of(&f, ION_S_RECV_ERRORS) == 3);
  dispatch(&f);
  CHECK(mfix_close_checked(&f));
  st = PASS;
out:
  mfix_teardown(&f);
  return st;
}

/* Drain every datagram the peer has; each must be the next one in order,
 * 1000 bytes of its pattern. Returns how many, or -1 on a wrong one. */
static int drain_in_order(int fd, unsigned *next) {
  uint8_t in[2048];
  int n = 0;
  for (;;) {
    ssize_t r = recv(fd, in, sizeof(in), MSG_DONTWAIT);
    if (r < 0) return errno == EAGAIN ? n : -1;
    if (r != 1000 || !same(in, 1000, *next)) return -1;
    (*next)++;
    n++;
  }
}

/* sendmmsg meets a full send buffer (EAGAIN): the socket wants POLLOUT
 * (the poll hook is told), keeps the event loop alive even unref'd, and
 * retrying before the peer drains changes nothing; after each drain
 * on_writable sends more; in the end every descriptor completed exactly
 * once, in order, and POLLOUT is dropped (the hook told again).
 *
 * A UDP socket's send buffer never fills on loopback (loopback_xmit orphans
 * each skb as it sends it), so the socket's fd is swapped (dup2) for one
 * end of a connected AF_UNIX datagram pair with the minimum SO_SNDBUF,
 * whose buffer stays charged until the peer reads: sendmmsg on that fd
 * returns EAGAIN like a full UDP socket does. Descriptors use family 0
 * (the connected peer). */
static int t_send_eagain(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp_config cfg = default_cfg();
  cfg.sslots = 64;
  cfg.sdata_len = 65536;
  const unsigned total = 40;
  int sv[2] = {-1, -1};
  unsigned next = 0;
  OPEN_OR_SKIP(&f, ringless, &cfg, true);
  int fd = ion_udp_fd(f.u);
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) == 0);
  CHECK(dup2(sv[0], fd) == fd);
  close(sv[0]);
  sv[0] = -1;
  int one = 1;
  CHECK(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)) == 0);
  ion_udp_set_ref(f.u, 0); /* only pending sends may keep the loop alive */
  CHECK(f.rx.alive == 0);
  for (unsigned k = 0; k < total; k++) {
    uint32_t off = f.lay.sdata + k * 1000;
    fill(f.mem + off, 1000, k);
    put_sdesc(&f, k, off, 1000, NULL);
  }
  f.ctrl[ION_C_STAIL] = (int32_t)total;
  ion_udp_flush(f.u);
  int32_t done = (int32_t)f.u->obj.sdone;
  CHECKF(done > 0 && done < (int32_t)total, "sdone=%d", done);
  CHECK((int32_t)f.u->dr.next == done);
  CHECK(f.u->want_write);
  CHECK(ion_mmsg_poll_events(f.u) == (POLLIN | POLLOUT));
  CHECKF(g_hooks == 1 && g_hook_events == (POLLIN | POLLOUT),
         "hooks=%d events=0x%x", g_hooks, g_hook_events);
  CHECKF(f.rx.alive == 1, "alive=%u (sends wait for POLLOUT)", f.rx.alive);
  CHECK(result_of(&f, (unsigned)done) == SENTINEL);
  CHECK(f.rx.queue_n == 0); /* nothing failed, SWANT 0 */
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  CHECK(poll(&p, 1, 0) == 0); /* really not writable */
  /* A retry (after_dispatch flushes) while still full: no change. */
  ion_udp_flush(f.u);
  CHECK((int32_t)f.u->obj.sdone == done && f.u->want_write && g_hooks == 1);
  for (int round = 0; round < 200 && f.u->want_write; round++) {
    int32_t before = (int32_t)f.u->obj.sdone;
    int got = drain_in_order(sv[1], &next);
    CHECKF(got > 0, "round %d: got %d after %u", round, got, next);
    CHECK(ion_mmsg_poll_events(f.u) & POLLOUT);
    f.u->obj.poll->writable(&f.u->obj); /* the watcher saw POLLOUT */
    CHECKF((int32_t)f.u->obj.sdone > before, "round %d: sdone=%d", round,
           (int32_t)f.u->obj.sdone);
    CHECK((int32_t)f.u->dr.next == (int32_t)f.u->obj.sdone);
    CHECK(f.rx.alive == (f.u->want_write ? 1u : 0u));
  }
  CHECKF((int32_t)f.u->obj.sdone == (int32_t)total, "sdone=%d",
         (int32_t)f.u->obj.sdone);
  CHECK(drain_in_order(sv[1], &next) >= 0 && next == total);
  for (unsigned k = 0; k < total; k++)
    CHECKF(result_of(&f, k) == 1000, "desc %u res=%d", k, result_of(&f, k));
  CHECK(stat_of(&f, ION_S_PKTS_OUT) == total);
  CHECK(stat_of(&f, ION_S_BYTES_OUT) == total * 1000.0);
  CHECK(stat_of(&f, ION_S_SEND_ERRORS) == 0);
  CHECK(!f.u->want_write && ion_mmsg_poll_events(f.u) == POLLIN);
  CHECKF(g_hooks == 2 && g_hook_events == POLLIN,
         "hooks=%d events=0x%x", g_hooks, g_hook_events);
  CHECK(f.rx.alive == 0);
  CHECK(mfix_close_checked(&f));
  st = PASS;
out:
  if (sv[0] >= 0) close(sv[0]);
  if (sv[1] >= 0) close(sv[1]);
  mfix_teardown(&f);
  return st;
}

/* ---- close ---- */

/* Close with a receive batch JS has not seen and two descriptors pushed
 * but not flushed: the close finishes at once (nothing is in the kernel),
 * the sends fail with -ECANCELED, the fd is closed, no watcher is wanted,
 * ION_EV_CLOSED is set. The id outlives a dispatch whose events JS did not
 * clear, and is released by the first one that saw them. */
static int t_close_pending(bool ringless) {
  int st = FAIL, rc;
  mfix f;
  ion_udp_config cfg = default_cfg();
  OPEN_OR_SKIP(&f, ringless, &cfg, true);
  int fd = ion_udp_fd(f.u);
  CHECK(send_pattern(f.peer, &f.obj_addr, 10, 0));
  ion_mmsg_on_readable(f.u);
  CHECK((int32_t)f.u->obj.rcount == 1 && f.rx.queue_n == 1);
  put_sdesc(&f, 0, f.lay.sdata, 8, &f.peer_addr);
  put_sdesc(&f, 1, f.lay.sdata, 8, &f.peer_addr);
  f.ctrl[ION_C_STAIL] = 2; /* no flush */
  ion_obj *o = &f.u->obj;
  ion_udp_close(f.u);
  CHECK(o->closing && o->finalized && o->inflight == 0);
  CHECK(f.u->fd == -1 && fcntl(fd, F_GETFD) < 0 && errno == EBADF);
  if (!ringless) CHECK(ion_ring_sq_pending(&f.rx.ring) == 0); /* no cancel */
  CHECKF((int32_t)f.u->obj.sdone == 2 && (int32_t)f.u->dr.next == 2, "sdone=%d",
         (int32_t)f.u->obj.sdone);
  CHECK(result_of(&f, 0) == -ECANCELED && result_of(&f, 1) == -ECANCELED);
  CHECK(stat_of(&f, ION_S_PKTS_OUT) == 0);
  CHECKF((int32_t)f.u->obj.events == (ION_EV_RECV | ION_EV_SENT | ION_EV_CLOSED),
         "events=0x%x", (int32_t)f.u->obj.events);
  CHECK(f.rx.queue_n == 1 && f.rx.queue[0] == (uint32_t)f.id); /* listed once */
  CHECK(f.rx.alive == 0 && ion_mmsg_poll_events(f.u) == 0);
  CHECK(o->poll->events(o) == 0);
  /* Everything after the close is a no-op. */
  int32_t ev = (int32_t)f.u->obj.events;
  ion_mmsg_on_readable(f.u);
  ion_mmsg_on_writable(f.u);
  ion_mmsg_on_error(f.u, -EBADF);
  ion_udp_flush(f.u);
  ion_udp_close(f.u);
  CHECK((int32_t)f.u->obj.events == ev && f.u->obj.rerr == 0);
  CHECK(ion_udp_start(f.u) == -EBADF);
  CHECK(g_hooks == 0);
  /* JS has not seen the events (word not cleared): the id stays. */
  ion_reactor_after_dispatch(&f.rx, f.rx.queue_n);
  CHECK(ion_reactor_get(&f.rx, (uint32_t)f.id) == o);
  CHECK(f.rx.queue_n == 1 && f.rx.nobjs == 1 && g_released == 0);
  /* Seen now: released, once. */
  dispatch(&f);
  f.u = NULL;
  CHECK(ion_reactor_get(&f.rx, (uint32_t)f.id) == NULL);
  CHECK(f.rx.queue_n == 0 && f.rx.nobjs == 0 && g_released == 1);
  ion_reactor_after_dispatch(&f.rx, 1); /* nothing listed: nothing happens */
  CHECK(g_released == 1);
  st = PASS;
out:
  mfix_teardown(&f);
  return st;
}

/* ---- main ---- */

#define BOTH(fn)                                         \
  static int fn##_noring(void) { return fn(true); }      \
  static int fn##_ring(void) { return fn(false); }
BOTH(t_create)
BOTH(t_recv)
BOTH(t_recv_batch_limit)
BOTH(t_recv_many)
BOTH(t_recv_trunc)
BOTH(t_recv_drops)
BOTH(t_ipv6)
BOTH(t_send)
BOTH(t_gso_gro)
BOTH(t_send_bad_desc)
BOTH(t_econnrefused)
BOTH(t_send_eagain)
BOTH(t_close_pending)

#define ENTRIES(name, fn)                   \
  {"mmsg_" name " (no ring)", fn##_noring}, \
  {"mmsg_" name " (ring)", fn##_ring}

static const test_case tests[] = {
    ENTRIES("create", t_create),
    ENTRIES("recv", t_recv),
    ENTRIES("recv_batch_stops_at_rslots", t_recv_batch_limit),
    ENTRIES("recv_more_than_one_recvmmsg", t_recv_many),
    ENTRIES("recv_truncation", t_recv_trunc),
    ENTRIES("recv_drops_rxq_ovfl", t_recv_drops),
    ENTRIES("ipv6", t_ipv6),
    ENTRIES("send", t_send),
    ENTRIES("gso_gro_loopback", t_gso_gro),
    ENTRIES("send_bad_descriptor", t_send_bad_desc),
    ENTRIES("econnrefused", t_econnrefused),
    ENTRIES("send_eagain_pollout", t_send_eagain),
    ENTRIES("close_pending", t_close_pending),
};

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  /* No global skip: the poll backend is what runs where io_uring is
   * refused; only the (ring) variants skip then. */
  return run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
