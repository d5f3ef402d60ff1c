/* The reactor + ion_udp fixture the native tests share (ring_test.c,
 * reactor_test.c): a reactor, one UDP object bound to 127.0.0.1, its
 * memory held as JS holds it, and a plain peer socket. */
#ifndef ION_UDP_FIXTURE_H
#define ION_UDP_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "core/reactor.h"
#include "test_util.h"
#include "udp/udp_internal.h"

#define READY_CAP 256

/* A reactor with one UDP object bound to 127.0.0.1 and a plain peer. */
typedef struct {
  ion_reactor rx;
  bool rx_up;
  ion_udp_config cfg;
  ion_udp_layout lay;
  ion_mem *block; /* our reference, as a JS view holds one */
  uint8_t *mem;
  int32_t *ctrl;
  ion_udp *u;
  int id;
  int port; /* the object's port */
  int peer;
  struct sockaddr_in peer_addr, obj_addr;
} rfix;

static const uint8_t LOOPBACK[4] = {127, 0, 0, 1};

static inline int rfix_open(rfix *f, int multishot, uint32_t rslots) {
  memset(f, 0, sizeof(*f));
  f->peer = -1;
  int rc = ion_reactor_init(&f->rx, 64);
  if (rc < 0) return rc;
  f->rx_up = true;
  f->cfg = (ion_udp_config){.family = 4, .rslots = rslots, .rslot = 512,
                            .sslots = 8, .sdata_len = 4096,
                            .multishot = multishot};
  if ((rc = ion_udp_layout_of(&f->cfg, &f->lay)) < 0) return rc;
  f->id = ion_udp_create(&f->rx, &f->cfg, &f->u);
  if (f->id < 0) return f->u = NULL, f->id;
  /* What JS does: a view of the socket's memory, holding a reference. */
  f->block = ion_udp_mem(f->u);
  ion_mem_ref(f->block);
  f->mem = f->block->base;
  f->ctrl = (int32_t *)(f->mem + f->lay.ctrl);
  if ((rc = ion_udp_bind(f->u, 4, LOOPBACK, 0, 0, 0)) < 0) return rc;
  int32_t w[ION_M_WORDS];
  if ((rc = ion_udp_name(f->u, 0, w)) < 0) return rc;
  f->port = w[ION_M_PORT];
  f->obj_addr = (struct sockaddr_in){.sin_family = AF_INET,
                                     .sin_port = htons((uint16_t)f->port)};
  f->obj_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if ((f->peer = udp_bound(&f->peer_addr)) < 0) return -errno;
  return ion_udp_start(f->u);
}

/* Always safe: closes what is still open (also after a failed check). */
static inline void rfix_teardown(rfix *f) {
  if (f->rx_up) {
    if (f->u) ion_udp_close(f->u); /* no-op if already closing */
    ion_reactor_shutdown(&f->rx);
    ion_reactor_destroy(&f->rx);
  }
  ion_mem_unref(f->block);
  if (f->peer >= 0) close(f->peer);
}

/* What native reports to JS about the object (its ready entry's words). */
enum { W_EVENTS, W_RCOUNT, W_SDONE };
static inline int32_t reported(rfix *f, int word) {
  ion_obj *o = &f->u->obj;
  return (int32_t)(word == W_EVENTS ? o->events
                   : word == W_RCOUNT ? o->rcount
                                      : o->sdone);
}

/* Enter + reap until the reported word has all bits of want (bits) or is
 * >= want, or ~2 s pass. */
static inline bool rfix_pump(rfix *f, int word, int32_t want, bool bits) {
  for (int i = 0; i < 2000; i++) {
    ion_reactor_submit(&f->rx, true);
    ion_reactor_reap(&f->rx);
    int32_t v = reported(f, word);
    if (bits ? (v & want) == want : v >= want) return true;
    sleep_ms(1);
  }
  return false;
}

/* What the addon does around a JS call: hand the queued objects' events
 * over in ready entries, then let them recycle (after_dispatch). */
static inline void rfix_dispatch(rfix *f) {
  int32_t e[READY_CAP * ION_E_WORDS];
  uint32_t n = f->rx.queue_n < READY_CAP ? f->rx.queue_n : READY_CAP;
  ion_reactor_entries(&f->rx, n, e);
  ion_reactor_after_dispatch(&f->rx, n);
}

static inline int32_t *rmeta(rfix *f, unsigned i) {
  return (int32_t *)(f->mem + f->lay.rmeta) + i * ION_M_WORDS;
}
static inline int32_t *sdesc(rfix *f, unsigned i) {
  return (int32_t *)(f->mem + f->lay.sdesc) + i * ION_M_WORDS;
}
static inline double stat_of(rfix *f, int s) {
  return ((double *)(f->mem + f->lay.stats))[s];
}

/* One received entry: payload inside the receive pool, peer = our plain
 * socket, bytes = pattern `seed` truncated to the slot's payload room. */
static inline bool check_rmeta(rfix *f, const int32_t *m, size_t sent, unsigned seed) {
  uint32_t cap = f->cfg.rslot - ION_UDP_SLOT_HDR;
  size_t len = sent > cap ? cap : sent;
  uint32_t off = (uint32_t)m[ION_M_OFF];
  if (off < f->lay.rpool || off + (uint32_t)m[ION_M_LEN] > f->lay.sdata)
    return false;
  if ((size_t)m[ION_M_LEN] != len) return false;
  if (m[ION_M_FLAGS] != (sent > cap ? ION_MF_TRUNC : 0)) return false;
  if (m[ION_M_FAMILY] != 4 || m[ION_M_PORT] != ntohs(f->peer_addr.sin_port))
    return false;
  if (memcmp(&m[ION_M_ADDR], LOOPBACK, 4) != 0) return false;
  return same(f->mem + off, len, seed);
}

/* Close, run until ION_EV_CLOSED, then the dispatch frees the id. */
static inline bool rfix_close_checked(rfix *f) {
  ion_udp_close(f->u);
  if (!rfix_pump(f, W_EVENTS, ION_EV_CLOSED, true)) return false;
  ion_obj *o = ion_reactor_get(&f->rx, (uint32_t)f->id);
  if (!o || !o->finalized || f->rx.alive != 0) return false;
  rfix_dispatch(f);
  f->u = NULL; /* freed by the reactor with its id */
  return ion_reactor_get(&f->rx, (uint32_t)f->id) == NULL &&
         f->rx.nobjs == 0 && f->rx.queue_n == 0;
}

/* Write send descriptor `slot` as JS does: payload offset and length in
 * mem, then the destination (IPv4 words). */
static inline void put_sdesc(rfix *f, unsigned slot, uint32_t off, int32_t len,
                      const struct sockaddr_in *to) {
  int32_t *d = sdesc(f, slot);
  memset(d, 0, ION_M_WORDS * sizeof(int32_t));
  d[ION_M_OFF] = (int32_t)off;
  d[ION_M_LEN] = len;
  d[ION_M_FAMILY] = 4;
  d[ION_M_PORT] = ntohs(to->sin_port);
  memcpy(&d[ION_M_ADDR], &to->sin_addr, 4);
}

/* main() of a test file that needs io_uring: with none at all (seccomp,
 * io_uring_disabled, an old kernel) every test skips, saying why. */
static inline int run_ring_tests(const test_case *tests, size_t ntests) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  ion_ring probe;
  int rc = ion_ring_init(&probe, 8, 16, 0);
  if (rc == -EPERM || rc == -ENOSYS) {
    printf("1..0 # SKIP io_uring_setup: %s\n", strerror(-rc));
    printf("# skipped: all %zu tests: io_uring_setup returned %d (%s)\n",
           ntests, rc, strerror(-rc));
    printf("0 passed, 0 failed\n");
    return 0;
  }
  if (rc == 0) ion_ring_close(&probe);
  return run_tests(tests, ntests);
}

#endif
