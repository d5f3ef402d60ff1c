/*
 * Native tests of the ring layer (ring.c, prep.h) and of the reactor with
 * its UDP object (reactor.c, udp.c, udp_io.c), without Node.
 *
 * Output is TAP: "ok N - name", "not ok N - name: reason", or
 * "ok N - name # SKIP reason" when the kernel lacks a feature; then one
 * "# skipped: ..." line per skipped test and a last line "N passed, M failed".
 * Exit status is 0 only when nothing failed.
 *
 * Every wait is a bounded poll (enter with GETEVENTS, reap, sleep 1 ms), so a
 * missing completion fails a test instead of hanging the run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/prep.h"
#include "core/reactor.h"
#include "core/ring.h"
#include "test_util.h"
#include "udp/udp_internal.h"
#include "udp_fixture.h"

/* ---- ring helpers ---- */

/* With DEFER_TASKRUN completions are posted only when we enter with
 * GETEVENTS, so poll that way until n CQEs are ready or ~2 s pass. */
static unsigned wait_cqes(ion_ring *r, unsigned n) {
  for (int i = 0; i < 2000 && ion_ring_cq_ready(r) < n; i++) {
    ion_ring_submit(r, 0, true);
    if (ion_ring_cq_ready(r) < n) sleep_ms(1);
  }
  return ion_ring_cq_ready(r);
}

/* Copy the next CQE out and consume it. */
static bool pop_cqe(ion_ring *r, struct ion_cqe *out) {
  struct ion_cqe *c;
  if (ion_ring_peek_cqes(r, &c, 1) != 1) return false;
  *out = *c;
  ion_ring_cq_advance(r, 1);
  return true;
}

/* Queue n NOPs with user_data first, first+1, ... (n <= free SQ slots). */
static bool queue_nops(ion_ring *r, unsigned n, uint64_t first) {
  for (unsigned i = 0; i < n; i++) {
    struct ion_sqe *sqe = ion_ring_get_sqe(r);
    if (!sqe) return false;
    ion_prep_nop(sqe, first + i);
  }
  return true;
}

/* ---- ring layer ---- */

/* The flags we ask for by default are all known to 6.x kernels; whatever
 * the kernel accepted must be a subset of what we asked for. */
static int t_init_flags(void) {
  int st = FAIL;
  ion_ring r;
  int rc = ion_ring_init(&r, 8, 16, ION_RING_WANT_FLAGS);
  CHECKF(rc == 0, "rc=%d", rc);
  printf("# setup_flags=0x%x (asked 0x%x) features=0x%x sq=%u cq=%u\n",
         r.setup_flags, ION_RING_WANT_FLAGS, r.features, r.sq_entries,
         r.cq_entries);
  CHECKF((r.setup_flags & ~ION_RING_WANT_FLAGS) == 0, "0x%x", r.setup_flags);
  CHECKF(r.sq_entries >= 8, "%u", r.sq_entries);
  if (r.setup_flags & ION_SETUP_CQSIZE)
    CHECKF(r.cq_entries >= 16, "%u", r.cq_entries);
  /* The SQ index array exists exactly when NO_SQARRAY was not accepted. */
  CHECK((r.sq_array == NULL) == ((r.setup_flags & ION_SETUP_NO_SQARRAY) != 0));
  CHECK(ion_ring_sq_pending(&r) == 0 && ion_ring_cq_ready(&r) == 0);
  st = PASS;
out:
  if (rc == 0) ion_ring_close(&r);
  return st;
}

/* Fallback: DEFER_TASKRUN without SINGLE_ISSUER is invalid, so init must
 * drop it (and nothing the kernel would take) and still succeed; a flag no
 * kernel knows can never be dropped, so init must end with -EINVAL and
 * leave the ring closed. */
static int t_init_fallback(void) {
  int st = FAIL;
  ion_ring r;
  uint32_t ask = ION_SETUP_DEFER_TASKRUN | ION_SETUP_CQSIZE;
  int rc = ion_ring_init(&r, 8, 32, ask);
  CHECKF(rc == 0, "rc=%d", rc);
  CHECKF((r.setup_flags & ~ask) == 0, "0x%x", r.setup_flags);
  CHECKF(!(r.setup_flags & ION_SETUP_DEFER_TASKRUN), "0x%x", r.setup_flags);
  CHECKF(r.setup_flags & ION_SETUP_CQSIZE, "0x%x", r.setup_flags);
  CHECKF(r.cq_entries == 32, "%u", r.cq_entries);
  ion_ring_close(&r);
  rc = -1;
  int bad = ion_ring_init(&r, 8, 16, ION_RING_WANT_FLAGS | (1U << 31));
  if (bad == 0) ion_ring_close(&r);
  CHECKF(bad == -EINVAL, "rc=%d", bad);
  CHECKF(r.fd == -1 && r.sq_map == NULL, "fd=%d", r.fd);
  st = PASS;
out:
  if (rc == 0) ion_ring_close(&r);
  return st;
}

static int t_nop(void) {
  int st = FAIL;
  ion_ring r;
  struct ion_cqe c;
  int rc = ion_ring_init(&r, 8, 16, ION_RING_WANT_FLAGS);
  CHECKF(rc == 0, "rc=%d", rc);
  struct ion_sqe *sqe = ion_ring_get_sqe(&r);
  CHECK(sqe != NULL);
  ion_prep_nop(sqe, 0x1234567890abcdefULL);
  CHECK(ion_ring_sq_pending(&r) == 1);
  int n = ion_ring_submit(&r, 0, true);
  CHECKF(n == 1, "submit=%d", n);
  CHECK(ion_ring_sq_pending(&r) == 0);
  CHECK(wait_cqes(&r, 1) == 1);
  CHECK(pop_cqe(&r, &c));
  CHECKF(c.user_data == 0x1234567890abcdefULL, "ud=%llx",
         (unsigned long long)c.user_data);
  CHECKF(c.res == 0 && c.flags == 0, "res=%d flags=%x", c.res, c.flags);
  CHECK(ion_ring_cq_ready(&r) == 0);
  st = PASS;
out:
  if (rc == 0) ion_ring_close(&r);
  return st;
}

/* get_sqe must refuse once every SQ slot is handed out, and hand out again
 * after the kernel consumed them. */
static int t_sq_full(void) {
  int st = FAIL;
  ion_ring r;
  int rc = ion_ring_init(&r, 8, 16, ION_RING_WANT_FLAGS);
  CHECKF(rc == 0, "rc=%d", rc);
  CHECK(queue_nops(&r, r.sq_entries, 0));
  CHECK(ion_ring_get_sqe(&r) == NULL);
  CHECK(ion_ring_sq_pending(&r) == r.sq_entries);
  int n = ion_ring_submit(&r, 0, false);
  CHECKF(n == (int)r.sq_entries, "submit=%d", n);
  CHECK(queue_nops(&r, 1, 100));
  CHECK(ion_ring_submit(&r, 0, true) == 1);
  CHECK(wait_cqes(&r, r.sq_entries + 1) == r.sq_entries + 1);
  ion_ring_cq_advance(&r, r.sq_entries + 1);
  st = PASS;
out:
  if (rc == 0) ion_ring_close(&r);
  return st;
}

/* Far more completions than CQ entries over many rounds, never letting the
 * CQ overflow: every NOP comes back exactly once, in submission order. */
static int t_many_completions(void) {
  int st = FAIL;
  ion_ring r;
  const uint64_t total = 200;
  uint64_t next_sub = 0, next_reap = 0;
  int rc = ion_ring_init(&r, 8, 16, ION_RING_WANT_FLAGS);
  CHECKF(rc == 0, "rc=%d", rc);
  for (int round = 0; next_reap < total; round++) {
    unsigned room = r.cq_entries - (unsigned)(next_sub - next_reap);
    unsigned n = r.sq_entries < room ? r.sq_entries : room;
    if (n > total - next_sub) n = (unsigned)(total - next_sub);
    CHECK(queue_nops(&r, n, next_sub));
    CHECK(ion_ring_submit(&r, 0, true) == (int)n);
    next_sub += n;
    if (round % 2 == 0 && next_sub < total) continue; /* reap every other */
    struct ion_cqe *cq[64];
    unsigned got = ion_ring_peek_cqes(&r, cq, 64);
    CHECKF(got == next_sub - next_reap, "got %u", got);
    for (unsigned i = 0; i < got; i++, next_reap++)
      CHECKF(cq[i]->user_data == next_reap && cq[i]->res == 0, "ud=%llu",
             (unsigned long long)cq[i]->user_data);
    ion_ring_cq_advance(&r, got);
  }
  CHECK(!ion_ring_cq_overflowed(&r));
  st = PASS;
out:
  if (rc == 0) ion_ring_close(&r);
  return st;
}

/* A tiny CQ (8) and 64 NOPs submitted without reaping: the kernel parks the
 * surplus in its overflow list (FEAT_NODROP) and flags the SQ ring; entering
 * with GETEVENTS while reaping must recover every completion, in order. */
static int t_cq_overflow(void) {
  int st = FAIL;
  ion_ring r;
  const unsigned total = 64;
  unsigned seen = 0;
  int rc = ion_ring_init(&r, 4, 8, ION_RING_WANT_FLAGS);
  CHECKF(rc == 0, "rc=%d", rc);
  SKIP_IF(!(r.features & ION_FEAT_NODROP), "kernel lacks IORING_FEAT_NODROP");
  CHECKF(r.cq_entries == 8, "cq=%u", r.cq_entries);
  for (unsigned sub = 0; sub < total; sub += r.sq_entries) {
    CHECK(queue_nops(&r, r.sq_entries, sub));
    CHECK(ion_ring_submit(&r, 0, false) == (int)r.sq_entries);
  }
  CHECK(ion_ring_cq_overflowed(&r));
  CHECKF(ion_ring_cq_ready(&r) == r.cq_entries, "%u", ion_ring_cq_ready(&r));
  for (int guard = 0; seen < total && guard < 100; guard++) {
    struct ion_cqe *cq[16];
    unsigned got = ion_ring_peek_cqes(&r, cq, 16);
    for (unsigned i = 0; i < got; i++, seen++)
      CHECKF(cq[i]->user_data == seen && cq[i]->res == 0, "ud=%llu want %u",
             (unsigned long long)cq[i]->user_data, seen);
    ion_ring_cq_advance(&r, got);
    if (ion_ring_cq_overflowed(&r)) ion_ring_submit(&r, 0, true);
    else if (got == 0) break;
  }
  CHECKF(seen == total, "recovered %u of %u", seen, total);
  CHECK(!ion_ring_cq_overflowed(&r));
  CHECKF(*r.cq_koverflow == 0, "dropped %u", *r.cq_koverflow);
  st = PASS;
out:
  if (rc == 0) ion_ring_close(&r);
  return st;
}

/* A registered eventfd becomes readable when a CQE is posted. */
static int t_eventfd(void) {
  int st = FAIL;
  ion_ring r;
  struct ion_cqe c;
  int efd = -1;
  int rc = ion_ring_init(&r, 8, 16, ION_RING_WANT_FLAGS);
  CHECKF(rc == 0, "rc=%d", rc);
  efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  CHECK(efd >= 0);
  int reg = ion_ring_register_eventfd(&r, efd);
  CHECKF(reg == 0, "register=%d", reg);
  struct pollfd p = {.fd = efd, .events = POLLIN};
  CHECK(poll(&p, 1, 0) == 0); /* nothing posted yet */
  CHECK(queue_nops(&r, 1, 7));
  CHECK(ion_ring_submit(&r, 0, true) == 1);
  CHECK(poll(&p, 1, 1000) == 1 && (p.revents & POLLIN));
  uint64_t count = 0;
  CHECK(read(efd, &count, sizeof(count)) == sizeof(count) && count >= 1);
  CHECK(wait_cqes(&r, 1) == 1 && pop_cqe(&r, &c) && c.user_data == 7);
  st = PASS;
out:
  if (efd >= 0) close(efd);
  if (rc == 0) ion_ring_close(&r);
  return st;
}

static int t_probe(void) {
  int st = FAIL;
  ion_ring r;
  uint8_t ops[ION_OP_LAST_KNOWN];
  int rc = ion_ring_init(&r, 8, 16, ION_RING_WANT_FLAGS);
  CHECKF(rc == 0, "rc=%d", rc);
  int n = ion_ring_probe_ops(&r, ops, sizeof(ops));
  CHECKF(n > ION_OP_READ_MULTISHOT, "probe=%d", n);
  printf("# probe: kernel knows %d opcodes\n", n);
  CHECK(ops[ION_OP_NOP]);
  CHECK(ops[ION_OP_RECVMSG]);
  CHECK(ops[ION_OP_SENDMSG]);
  CHECK(ops[ION_OP_ASYNC_CANCEL]);
  st = PASS;
out:
  if (rc == 0) ion_ring_close(&r);
  return st;
}

/* ---- provided buffer ring + multishot recvmsg ---- */

#define BUF_SZ 512
#define NAME_SZ 32 /* sockaddr_in6 rounded up, as udp.h does */

/* Ring, buffer ring of `nbufs` x BUF_SZ and a receiving socket. */
typedef struct {
  ion_ring r;
  ion_bufring br;
  uint8_t *pool;
  int rxfd, txfd;
  struct sockaddr_in rxa, txa;
  bool up;
} msfix;

/* 0, a -errno from the ring, or 1 when a socket call failed. */
static int msfix_open(msfix *f, unsigned nbufs) {
  memset(f, 0, sizeof(*f));
  f->rxfd = f->txfd = -1;
  int rc = ion_ring_init(&f->r, 8, 64, ION_RING_WANT_FLAGS);
  if (rc < 0) return rc;
  f->up = true;
  rc = ion_bufring_setup(&f->r, &f->br, nbufs, 5);
  if (rc < 0) return rc;
  f->pool = calloc(nbufs, BUF_SZ);
  if (!f->pool) return -ENOMEM;
  for (unsigned i = 0; i < nbufs; i++)
    ion_bufring_add(&f->br, f->pool + i * BUF_SZ, BUF_SZ, (uint16_t)i);
  ion_bufring_publish(&f->br);
  f->rxfd = udp_bound(&f->rxa);
  f->txfd = udp_bound(&f->txa);
  return f->rxfd < 0 || f->txfd < 0 ? 1 : 0;
}

static void msfix_close(msfix *f) {
  if (f->up) {
    ion_bufring_free(&f->r, &f->br);
    ion_bufring_free(&f->r, &f->br); /* documented as safe twice */
    ion_ring_close(&f->r);
  }
  if (f->rxfd >= 0) close(f->rxfd);
  if (f->txfd >= 0) close(f->txfd);
  free(f->pool);
}

static bool arm_multishot(msfix *f, struct msghdr *msg, uint32_t ctl) {
  memset(msg, 0, sizeof(*msg));
  msg->msg_namelen = NAME_SZ;
  msg->msg_controllen = ctl;
  struct ion_sqe *sqe = ion_ring_get_sqe(&f->r);
  if (!sqe) return false;
  ion_prep_recvmsg_multishot(sqe, f->rxfd, msg, f->br.bgid, 0x55);
  return ion_ring_submit(&f->r, 0, true) == 1;
}

/* The IP_TTL control message IP_RECVTTL asks for (CMSG_SPACE(4) == 24). */
static bool ttl_cmsg_ok(const uint8_t *ctl, uint32_t len) {
  struct cmsghdr h;
  int ttl;
  if (len != CMSG_SPACE(sizeof(int))) return false;
  memcpy(&h, ctl, sizeof(h));
  memcpy(&ttl, ctl + CMSG_LEN(0), sizeof(ttl));
  return h.cmsg_level == IPPROTO_IP && h.cmsg_type == IP_TTL &&
         h.cmsg_len == CMSG_LEN(sizeof(int)) && ttl > 0 && ttl < 256;
}

/* One multishot CQE for datagram k: buffer k of a fresh ring, laid out as
 * recvmsg_out | name (NAME_SZ) | control (ctl) | payload. */
static bool check_ms_cqe(msfix *f, const struct ion_cqe *c, unsigned k,
                         size_t len, uint32_t ctl) {
  const uint32_t need = ION_CQE_F_BUFFER | ION_CQE_F_MORE;
  if (c->user_data != 0x55 || (c->flags & need) != need) return false;
  unsigned bid = c->flags >> ION_CQE_BUFFER_SHIFT;
  if (bid != k || c->res != (int32_t)(16 + NAME_SZ + ctl + len)) return false;
  const uint8_t *b = f->pool + bid * BUF_SZ;
  struct ion_recvmsg_out o;
  struct sockaddr_in sin;
  memcpy(&o, b, sizeof(o));
  memcpy(&sin, b + 16, sizeof(sin));
  if (o.namelen != sizeof(sin) || o.payloadlen != len || (o.flags & MSG_TRUNC))
    return false;
  if (sin.sin_family != AF_INET || sin.sin_port != f->txa.sin_port ||
      sin.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
    return false;
  if (ctl && !ttl_cmsg_ok(b + 16 + NAME_SZ, o.controllen)) return false;
  if (!ctl && o.controllen != 0) return false;
  return same(b + 16 + NAME_SZ + ctl, len, k);
}

/* Three datagrams through one multishot recvmsg, then cancel by fd: the
 * cancel reports one request, the recvmsg ends with -ECANCELED. */
static int ms_recv_case(uint32_t ctl) {
  int st = FAIL;
  msfix f;
  struct msghdr msg;
  struct ion_cqe c;
  const size_t lens[3] = {1, 100, 300};
  int rc = msfix_open(&f, 8);
  SKIP_IF(rc == -EINVAL || rc == -ENOENT, "no provided buffer rings (%d)", rc);
  CHECKF(rc == 0, "open=%d", rc);
  int one = 1;
  if (ctl) CHECK(setsockopt(f.rxfd, IPPROTO_IP, IP_RECVTTL, &one, 4) == 0);
  for (unsigned k = 0; k < 3; k++)
    CHECK(send_pattern(f.txfd, &f.rxa, lens[k], k));
  CHECK(arm_multishot(&f, &msg, ctl));
  CHECKF(wait_cqes(&f.r, 3) == 3, "ready %u", ion_ring_cq_ready(&f.r));
  for (unsigned k = 0; k < 3; k++) {
    CHECK(pop_cqe(&f.r, &c));
    SKIP_IF(k == 0 && c.res == -EINVAL, "no multishot recvmsg");
    CHECKF(check_ms_cqe(&f, &c, k, lens[k], ctl), "k=%u res=%d flags=%x", k,
           c.res, c.flags);
  }
  struct ion_sqe *sqe = ion_ring_get_sqe(&f.r);
  CHECK(sqe != NULL);
  ion_prep_cancel_fd(sqe, f.rxfd, 0xca);
  CHECK(ion_ring_submit(&f.r, 0, true) == 1);
  CHECK(wait_cqes(&f.r, 2) == 2);
  for (int i = 0; i < 2; i++) {
    CHECK(pop_cqe(&f.r, &c));
    if (c.user_data == 0xca) CHECKF(c.res == 1, "cancel res=%d", c.res);
    else CHECKF(c.user_data == 0x55 && c.res == -ECANCELED &&
                    !(c.flags & ION_CQE_F_MORE),
                "ud=%llx res=%d flags=%x", (unsigned long long)c.user_data,
                c.res, c.flags);
  }
  ion_ring_submit(&f.r, 0, true);
  CHECK(ion_ring_cq_ready(&f.r) == 0); /* nothing after the final CQE */
  st = PASS;
out:
  msfix_close(&f);
  return st;
}

static int t_multishot_recv(void) { return ms_recv_case(0); }
static int t_multishot_recv_cmsg(void) { return ms_recv_case(24); }

/* Two buffers, three datagrams: two CQEs with data, then -ENOBUFS without
 * F_MORE ends the request; the third datagram stays in the socket. */
static int t_multishot_enobufs(void) {
  int st = FAIL;
  msfix f;
  struct msghdr msg;
  struct ion_cqe c;
  int rc = msfix_open(&f, 2);
  SKIP_IF(rc == -EINVAL || rc == -ENOENT, "no provided buffer rings (%d)", rc);
  CHECKF(rc == 0, "open=%d", rc);
  for (unsigned k = 0; k < 3; k++) CHECK(send_pattern(f.txfd, &f.rxa, 64, k));
  CHECK(arm_multishot(&f, &msg, 0));
  CHECKF(wait_cqes(&f.r, 3) == 3, "ready %u", ion_ring_cq_ready(&f.r));
  for (unsigned k = 0; k < 2; k++) {
    CHECK(pop_cqe(&f.r, &c));
    CHECKF(check_ms_cqe(&f, &c, k, 64, 0), "k=%u res=%d", k, c.res);
  }
  CHECK(pop_cqe(&f.r, &c));
  CHECKF(c.res == -ENOBUFS && !(c.flags & ION_CQE_F_MORE), "res=%d flags=%x",
         c.res, c.flags);
  uint8_t buf[128];
  CHECK(recv(f.rxfd, buf, sizeof(buf), MSG_DONTWAIT) == 64 && same(buf, 64, 2));
  st = PASS;
out:
  msfix_close(&f);
  return st;
}

static int t_bufring_args(void) {
  int st = FAIL;
  ion_ring r;
  ion_bufring br;
  int rc = ion_ring_init(&r, 8, 16, ION_RING_WANT_FLAGS);
  CHECKF(rc == 0, "rc=%d", rc);
  CHECK(ion_bufring_setup(&r, &br, 0, 1) == -EINVAL);
  CHECK(ion_bufring_setup(&r, &br, 3, 1) == -EINVAL);
  CHECK(ion_bufring_setup(&r, &br, 65536, 1) == -EINVAL);
  CHECK(br.bufs == NULL && !br.registered);
  int ok = ion_bufring_setup(&r, &br, 4, 1);
  SKIP_IF(ok == -EINVAL || ok == -ENOENT, "no provided buffer rings (%d)", ok);
  CHECKF(ok == 0, "setup=%d", ok);
  ion_bufring br2;
  int dup = ion_bufring_setup(&r, &br2, 4, 1); /* same group id again */
  ion_bufring_free(&r, &br2);
  ion_bufring_free(&r, &br);
  CHECKF(dup == -EEXIST, "dup=%d", dup);
  st = PASS;
out:
  if (rc == 0) ion_ring_close(&r);
  return st;
}

/* ---- sendmsg ---- */

static bool submit_sendmsg(ion_ring *r, int fd, struct msghdr *msg,
                           uint64_t ud, struct ion_cqe *c) {
  struct ion_sqe *sqe = ion_ring_get_sqe(r);
  if (!sqe) return false;
  ion_prep_sendmsg(sqe, fd, msg, ud);
  if (ion_ring_submit(r, 0, true) != 1 || wait_cqes(r, 1) != 1) return false;
  return pop_cqe(r, c) && c->user_data == ud;
}

/* sendmsg to a bound socket: the bytes and the source port arrive; then a
 * zero-length datagram, which recvfrom reports as 0 (not a timeout). */
static int t_sendmsg(void) {
  int st = FAIL;
  ion_ring r;
  struct ion_cqe c;
  struct sockaddr_in rxa, txa, from;
  socklen_t alen = sizeof(txa);
  uint8_t out[300], in[400];
  int rxfd = -1, txfd = -1;
  int rc = ion_ring_init(&r, 8, 16, ION_RING_WANT_FLAGS);
  CHECKF(rc == 0, "rc=%d", rc);
  rxfd = udp_bound(&rxa);
  txfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK(rxfd >= 0 && txfd >= 0);
  fill(out, sizeof(out), 9);
  struct iovec iov = {out, sizeof(out)};
  struct msghdr msg = {.msg_name = &rxa, .msg_namelen = sizeof(rxa),
                       .msg_iov = &iov, .msg_iovlen = 1};
  CHECK(submit_sendmsg(&r, txfd, &msg, 1, &c));
  CHECKF(c.res == (int)sizeof(out), "res=%d", c.res);
  CHECK(getsockname(txfd, (struct sockaddr *)&txa, &alen) == 0);
  alen = sizeof(from);
  ssize_t n =
      recvfrom(rxfd, in, sizeof(in), 0, (struct sockaddr *)&from, &alen);
  CHECKF(n == (ssize_t)sizeof(out), "recv=%zd", n);
  CHECK(memcmp(in, out, sizeof(out)) == 0 && from.sin_port == txa.sin_port);
  iov.iov_len = 0;
  CHECK(submit_sendmsg(&r, txfd, &msg, 2, &c));
  CHECKF(c.res == 0, "res=%d", c.res);
  n = recv(rxfd, in, sizeof(in), 0);
  CHECKF(n == 0, "recv=%zd errno=%d", n, errno);
  st = PASS;
out:
  if (rxfd >= 0) close(rxfd);
  if (txfd >= 0) close(txfd);
  if (rc == 0) ion_ring_close(&r);
  return st;
}

/* ---- reactor + ion_udp (fixture: udp_fixture.h) ---- */

/* Four datagrams (the last larger than a slot, so truncated) reach the
 * shared memory as one batch; then the object closes cleanly. */
static int reactor_recv_case(int multishot) {
  int st = FAIL;
  rfix f;
  const size_t lens[4] = {1, 64, 300, 600}; /* 600 > the 416-byte room */
  bool seen[4] = {false};
  int rc = rfix_open(&f, multishot, 8);
  CHECKF(rc == 0, "open=%d", rc);
  SKIP_IF(multishot && !f.rx.multishot_recvmsg, "no multishot recvmsg");
  CHECK(ion_udp_is_multishot(f.u) == multishot);
  CHECK(f.rx.alive == 1);
  for (unsigned k = 0; k < 4; k++)
    CHECK(send_pattern(f.peer, &f.obj_addr, lens[k], k));
  CHECKF(rfix_pump(&f, W_RCOUNT, 4, false), "rcount=%d",
         (int32_t)f.u->obj.rcount);
  CHECK((int32_t)f.u->obj.rcount == 4 && ((int32_t)f.u->obj.events & ION_EV_RECV));
  CHECK(f.rx.queue_n == 1 && f.rx.queue[0] == (uint32_t)f.id);
  for (unsigned i = 0; i < 4; i++) {
    /* Datagrams differ in length, which tells us which one each entry is. */
    int32_t *m = rmeta(&f, i);
    unsigned k = 0;
    while (k < 3 && (size_t)m[ION_M_LEN] != lens[k]) k++;
    CHECKF(!seen[k] && check_rmeta(&f, m, lens[k], k), "entry %u len %d", i,
           m[ION_M_LEN]);
    seen[k] = true;
  }
  CHECK(stat_of(&f, ION_S_PKTS_IN) == 4 && stat_of(&f, ION_S_TRUNC) == 1);
  rfix_dispatch(&f);
  CHECK(f.rx.queue_n == 0 && (int32_t)f.u->obj.rcount == 0);
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

static int t_reactor_recv_multishot(void) { return reactor_recv_case(1); }
static int t_reactor_recv_single(void) { return reactor_recv_case(0); }

/* Two receive buffers, five datagrams: the multishot request ends with
 * ENOBUFS, and after each dispatch (buffers returned, request re-armed) the
 * rest arrive; nothing is lost. */
static int t_reactor_rearm(void) {
  int st = FAIL;
  rfix f;
  int got = 0;
  int rc = rfix_open(&f, 1, 2);
  CHECKF(rc == 0, "open=%d", rc);
  SKIP_IF(!f.rx.multishot_recvmsg, "no multishot recvmsg");
  for (unsigned k = 0; k < 5; k++)
    CHECK(send_pattern(f.peer, &f.obj_addr, 32, k));
  for (int round = 0; round < 10 && got < 5; round++) {
    CHECK(rfix_pump(&f, W_RCOUNT, 1, false));
    for (int i = 0; i < (int32_t)f.u->obj.rcount; i++, got++)
      CHECKF(check_rmeta(&f, rmeta(&f, (unsigned)i), 32, (unsigned)got),
             "packet %d", got);
    rfix_dispatch(&f);
  }
  CHECKF(got == 5, "got %d", got);
  CHECK(stat_of(&f, ION_S_ENOBUFS) >= 1 && stat_of(&f, ION_S_REARMS) >= 1);
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* A kernel without multishot recvmsg (5.19 has buffer rings but not it)
 * answers the request with -EINVAL; the object must fall back to
 * single-shot receives. We get that answer from this kernel by setting an
 * ioprio bit no kernel knows on the queued (not yet submitted) SQE. */
static bool poison_multishot_sqe(rfix *f) {
  ion_ring *r = &f->rx.ring;
  if (ion_ring_sq_pending(r) != 1) return false;
  struct ion_sqe *sqe = &r->sqes[*r->sq_ktail & r->sq_mask];
  if (sqe->opcode != ION_OP_RECVMSG || !(sqe->ioprio & ION_RECV_MULTISHOT))
    return false;
  sqe->ioprio |= 1U << 15;
  return true;
}

/* Fallback while open: datagrams then arrive through single-shot recvmsg. */
static int t_reactor_multishot_einval(void) {
  int st = FAIL;
  rfix f;
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  SKIP_IF(!f.rx.multishot_recvmsg, "no multishot recvmsg");
  CHECK(poison_multishot_sqe(&f));
  ion_reactor_submit(&f.rx, true);
  ion_reactor_reap(&f.rx);
  CHECK(!ion_udp_is_multishot(f.u) && !f.rx.multishot_recvmsg);
  rfix_dispatch(&f);
  CHECK(send_pattern(f.peer, &f.obj_addr, 50, 0));
  CHECK(rfix_pump(&f, W_RCOUNT, 1, false));
  CHECK(check_rmeta(&f, rmeta(&f, 0), 50, 0));
  rfix_dispatch(&f);
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* The same -EINVAL reaped after close began (JS opened and closed in one
 * tick): the fallback must not arm new receives, or the close never ends. */
static int t_reactor_einval_while_closing(void) {
  int st = FAIL;
  rfix f;
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  SKIP_IF(!f.rx.multishot_recvmsg, "no multishot recvmsg");
  CHECK(poison_multishot_sqe(&f));
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* Datagrams still queued on the object's socket (SIOCINQ: 0 if none). */
static int queued_bytes(rfix *f) {
  int n = -1;
  return ioctl(ion_udp_fd(f->u), SIOCINQ, &n) == 0 ? n : -1;
}

/* The kernel's drop counter (SO_RXQ_OVFL) reaches stats[ION_S_DROPS]: fill
 * a tiny receive buffer so datagrams are dropped, drain it, then send one
 * marker, which carries the drop count in its control message. */
static int reactor_drops_case(int multishot) {
  int st = FAIL;
  rfix f;
  bool marker = false;
  int rc = rfix_open(&f, multishot, 8);
  CHECKF(rc == 0, "open=%d", rc);
  CHECK(ion_udp_setopt(f.u, ION_OPT_RCVBUF, 1) == 0); /* kernel minimum */
  for (unsigned k = 0; k < 64; k++)
    CHECK(send_pattern(f.peer, &f.obj_addr, 1000, k));
  for (int i = 0; i < 2000 && (f.rx.queue_n || queued_bytes(&f) != 0); i++) {
    ion_reactor_submit(&f.rx, true);
    ion_reactor_reap(&f.rx);
    rfix_dispatch(&f);
    sleep_ms(1);
  }
  CHECK(queued_bytes(&f) == 0);
  CHECK(send_pattern(f.peer, &f.obj_addr, 77, 5));
  for (int round = 0; round < 10 && !marker; round++) {
    CHECK(rfix_pump(&f, W_RCOUNT, 1, false));
    for (int i = 0; i < (int32_t)f.u->obj.rcount; i++)
      if (rmeta(&f, (unsigned)i)[ION_M_LEN] == 77) marker = true;
    rfix_dispatch(&f);
  }
  CHECK(marker);
  CHECKF(stat_of(&f, ION_S_DROPS) > 0, "drops=%g in=%g",
         stat_of(&f, ION_S_DROPS), stat_of(&f, ION_S_PKTS_IN));
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

static int t_reactor_drops_multishot(void) { return reactor_drops_case(1); }
static int t_reactor_drops_single(void) { return reactor_drops_case(0); }


/* One send descriptor is flushed, completes with its length, and reaches
 * the plain socket from the object's port. */
static int t_reactor_send(void) {
  int st = FAIL;
  rfix f;
  uint8_t in[512];
  struct sockaddr_in from;
  socklen_t alen = sizeof(from);
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  fill(f.mem + f.lay.sdata + 128, 200, 42);
  put_sdesc(&f, 0, f.lay.sdata + 128, 200, &f.peer_addr);
  f.ctrl[ION_C_STAIL] = 1;
  ion_udp_flush(f.u);
  CHECK((int32_t)f.u->dr.next == 1);
  CHECKF(rfix_pump(&f, W_SDONE, 1, false), "sdone=%d", (int32_t)f.u->obj.sdone);
  CHECKF(sdesc(&f, 0)[ION_M_FLAGS] == 200, "res=%d", sdesc(&f, 0)[ION_M_FLAGS]);
  ssize_t n =
      recvfrom(f.peer, in, sizeof(in), 0, (struct sockaddr *)&from, &alen);
  CHECKF(n == 200 && same(in, 200, 42), "recv=%zd", n);
  CHECK(ntohs(from.sin_port) == f.port);
  CHECK(stat_of(&f, ION_S_PKTS_OUT) == 1);
  CHECK(stat_of(&f, ION_S_BYTES_OUT) == 200);
  CHECK(f.rx.queue_n == 0); /* SWANT is 0 and the send succeeded */
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* Descriptors pointing outside the send region (before it; straddling its
 * end) fail with -EFAULT at flush time, reported as ION_EV_SENT; nothing is
 * sent and the object keeps working. */
static int t_reactor_bad_desc(void) {
  int st = FAIL;
  rfix f;
  uint8_t in[64];
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  put_sdesc(&f, 0, 0, 16, &f.peer_addr); /* the control words */
  put_sdesc(&f, 1, f.lay.sdata + f.cfg.sdata_len - 8, 16, &f.peer_addr);
  f.ctrl[ION_C_STAIL] = 2;
  ion_udp_flush(f.u);
  CHECKF((int32_t)f.u->obj.sdone == 2, "sdone=%d", (int32_t)f.u->obj.sdone);
  CHECK(sdesc(&f, 0)[ION_M_FLAGS] == -EFAULT);
  CHECK(sdesc(&f, 1)[ION_M_FLAGS] == -EFAULT);
  CHECK(stat_of(&f, ION_S_SEND_ERRORS) == 2);
  CHECK(((int32_t)f.u->obj.events & ION_EV_SENT) && f.rx.queue_n == 1);
  rfix_dispatch(&f);
  CHECK(recv(f.peer, in, sizeof(in), MSG_DONTWAIT) < 0 && errno == EAGAIN);
  /* A good descriptor after the bad ones still goes out. */
  fill(f.mem + f.lay.sdata, 10, 3);
  put_sdesc(&f, 2, f.lay.sdata, 10, &f.peer_addr);
  f.ctrl[ION_C_STAIL] = 3;
  ion_udp_flush(f.u);
  CHECK(rfix_pump(&f, W_SDONE, 3, false));
  CHECK(sdesc(&f, 2)[ION_M_FLAGS] == 10);
  CHECK(recv(f.peer, in, sizeof(in), 0) == 10 && same(in, 10, 3));
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* Close with descriptors JS pushed but native never took: they fail with
 * -ECANCELED and the frontier still covers them. */
static int t_reactor_close_pending(void) {
  int st = FAIL;
  rfix f;
  int rc = rfix_open(&f, 0, 4);
  CHECKF(rc == 0, "open=%d", rc);
  put_sdesc(&f, 0, f.lay.sdata, 8, &f.peer_addr);
  put_sdesc(&f, 1, f.lay.sdata, 8, &f.peer_addr);
  f.ctrl[ION_C_STAIL] = 2; /* no flush */
  ion_udp_close(f.u);
  CHECKF((int32_t)f.u->obj.sdone == 2, "sdone=%d", (int32_t)f.u->obj.sdone);
  CHECK(sdesc(&f, 0)[ION_M_FLAGS] == -ECANCELED);
  CHECK(sdesc(&f, 1)[ION_M_FLAGS] == -ECANCELED);
  CHECK(rfix_close_checked(&f)); /* second close is a no-op */
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* A minimal object kind: only counts finalizations. */
static int g_finalized;
static void dummy_complete(void *o, unsigned kind, uint32_t idx, int32_t res,
                           uint32_t flags) {
  (void)o, (void)kind, (void)idx, (void)res, (void)flags;
}
static void dummy_nop(void *o) { (void)o; }
static void dummy_finalize(void *o) {
  (void)o;
  g_finalized++;
}
static int dummy_start(void *o) { return (void)o, 0; }
static void dummy_ref(void *o, int ref) { (void)o, (void)ref; }
static const ion_obj_ops dummy_ops = {
    .complete = dummy_complete,
    .after_dispatch = dummy_nop,
    .close = dummy_nop,
    .finalize = dummy_finalize,
    .start = dummy_start,
    .flush = dummy_nop,
    .set_ref = dummy_ref,
};

/* Object ids: lowest first, unique across a table growth (64 -> 128),
 * packed into user_data losslessly, and reused only after the dispatch
 * that reported ION_EV_CLOSED has freed them. */
static int t_reactor_ids(void) {
  int st = FAIL;
  rfix f; /* only its reactor and ready list */
  memset(&f, 0, sizeof(f));
  f.peer = -1;
  g_finalized = 0;
  int rc = ion_reactor_init(&f.rx, 8);
  CHECKF(rc == 0, "init=%d", rc);
  f.rx_up = true;
  for (int i = 1; i <= 100; i++) {
    ion_obj *o = malloc(sizeof(*o)); /* the reactor frees it */
    CHECK(o != NULL);
    int id = ion_reactor_add(&f.rx, o, &dummy_ops);
    if (id < 0) free(o);
    CHECKF(id == i, "id=%d want %d", id, i);
    CHECK(ion_reactor_get(&f.rx, (uint32_t)id) == o);
  }
  CHECK(f.rx.objs_cap == 128 && f.rx.nobjs == 100);
  CHECK(!ion_reactor_get(&f.rx, 0) && !ion_reactor_get(&f.rx, 101));
  uint64_t ud = ION_UD(0xfffffffeu, 0xab, 0xfedcba);
  CHECK(ION_UD_ID(ud) == 0xfffffffeu && ION_UD_KIND(ud) == 0xab &&
        ION_UD_IDX(ud) == 0xfedcba);
  for (uint32_t id = 1; id <= 100; id++) {
    ion_obj *o = ion_reactor_get(&f.rx, id);
    o->closing = true;
    ion_reactor_maybe_finalize(&f.rx, o);
  }
  CHECK(g_finalized == 100 && f.rx.queue_n == 100);
  CHECK(ion_reactor_get(&f.rx, 7) != NULL); /* not freed before dispatch */
  /* JS saw only the first 60: the other 40 stay listed, ids still held. */
  int32_t e[100 * ION_E_WORDS];
  CHECK(ion_reactor_entries(&f.rx, 60, e) == 60);
  CHECK(e[ION_E_ID] == 1 && e[ION_E_EVENTS] == ION_EV_CLOSED);
  ion_reactor_after_dispatch(&f.rx, 60);
  CHECK(f.rx.nobjs == 40 && f.rx.queue_n == 40 && f.rx.queue[0] == 61);
  CHECK(!ion_reactor_get(&f.rx, 7) && ion_reactor_get(&f.rx, 61));
  /* Not yet told: after_dispatch keeps them (they stay listed). */
  ion_reactor_after_dispatch(&f.rx, 40);
  CHECK(f.rx.nobjs == 40 && f.rx.queue_n == 40);
  ion_reactor_entries(&f.rx, 1000, e); /* clamped to queue_n */
  ion_reactor_after_dispatch(&f.rx, 1000); /* clamped to queue_n */
  CHECK(f.rx.nobjs == 0 && f.rx.queue_n == 0);
  ion_obj *o = malloc(sizeof(*o));
  CHECK(o != NULL);
  int id = ion_reactor_add(&f.rx, o, &dummy_ops);
  CHECKF(id >= 1 && id <= 100 && f.rx.objs_cap == 128, "id=%d", id);
  o->closing = true;
  ion_reactor_maybe_finalize(&f.rx, o);
  ion_reactor_entries(&f.rx, f.rx.queue_n, e);
  ion_reactor_after_dispatch(&f.rx, f.rx.queue_n);
  CHECK(f.rx.nobjs == 0);
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* ---- main ---- */

static const test_case tests[] = {
    {"ring_init_flags", t_init_flags},
    {"ring_init_fallback", t_init_fallback},
    {"nop_roundtrip", t_nop},
    {"sq_full", t_sq_full},
    {"many_completions", t_many_completions},
    {"cq_overflow_nodrop", t_cq_overflow},
    {"eventfd", t_eventfd},
    {"probe_ops", t_probe},
    {"bufring_args", t_bufring_args},
    {"multishot_recvmsg", t_multishot_recv},
    {"multishot_recvmsg_cmsg", t_multishot_recv_cmsg},
    {"multishot_enobufs", t_multishot_enobufs},
    {"sendmsg", t_sendmsg},
    {"reactor_ids", t_reactor_ids},
    {"reactor_recv_multishot", t_reactor_recv_multishot},
    {"reactor_recv_single", t_reactor_recv_single},
    {"reactor_rearm_after_enobufs", t_reactor_rearm},
    {"reactor_multishot_einval_fallback", t_reactor_multishot_einval},
    {"reactor_einval_while_closing", t_reactor_einval_while_closing},
    {"reactor_drops_multishot", t_reactor_drops_multishot},
    {"reactor_drops_single", t_reactor_drops_single},
    {"reactor_send", t_reactor_send},
    {"reactor_bad_descriptor", t_reactor_bad_desc},
    {"reactor_close_pending_sends", t_reactor_close_pending},
};

int main(void) {
  return run_ring_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
