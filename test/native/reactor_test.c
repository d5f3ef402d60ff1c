/*
 * The reactor when things go wrong: the eventfd after deferred completions,
 * io_uring_enter failures (SQEs left by a failed enter are offered again),
 * objects that find no SQE (resumed later), completions the kernel dropped
 * (closes still finish), and the descriptor ring's check of the tail JS
 * publishes. Failures the kernel cannot be made to produce on demand
 * (EAGAIN, EBUSY, EBADR from io_uring_enter) are injected at the ring
 * layer (ion_ring.inject_*), exactly where the kernel would return them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/dring.h"
#include "core/prep.h"
#include "core/reactor.h"
#include "core/ring.h"
#include "test_util.h"
#include "udp/udp_internal.h"
#include "udp_fixture.h"

/* Queue send n (slot n % sslots) of len bytes with pattern seed. */
static void push_send(rfix *f, uint32_t n, uint32_t len, unsigned seed) {
  uint32_t slot = n % f->cfg.sslots;
  uint32_t off = f->lay.sdata + slot * 256;
  fill(f->mem + off, len, seed);
  put_sdesc(f, slot, off, (int32_t)len, &f->peer_addr);
  f->ctrl[ION_C_STAIL] = (int32_t)(n + 1);
}

/* The peer got a datagram of len bytes with pattern seed (waits ~2 s). */
static bool peer_got(rfix *f, uint32_t len, unsigned seed) {
  uint8_t in[512];
  struct pollfd p = {.fd = f->peer, .events = POLLIN};
  if (poll(&p, 1, 2000) != 1) return false;
  ssize_t n = recv(f->peer, in, sizeof(in), 0);
  return n == (ssize_t)len && same(in, len, seed);
}

/* With DEFER_TASKRUN the kernel posts completions only when we enter; the
 * eventfd is how the loop learns there is something to enter for. A
 * datagram arriving for an armed receive must make it readable. */
static int t_eventfd_deferred(void) {
  int st = FAIL;
  rfix f;
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  ion_reactor_submit(&f.rx, true); /* the receive reaches the kernel */
  uint64_t v;
  while (read(f.rx.efd, &v, sizeof(v)) > 0) {
  }
  CHECK(send_pattern(f.peer, &f.obj_addr, 40, 3));
  struct pollfd p = {.fd = f.rx.efd, .events = POLLIN};
  CHECKF(poll(&p, 1, 2000) == 1, "eventfd never fired (errno %d)", errno);
  CHECK(read(f.rx.efd, &v, sizeof(v)) == sizeof(v) && v >= 1);
  ion_reactor_submit(&f.rx, true);
  ion_reactor_reap(&f.rx);
  CHECKF(f.u->obj.rcount == 1, "rcount=%u", f.u->obj.rcount);
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* An enter that fails (EAGAIN, EBUSY, EBADR) leaves its SQEs in the SQ:
 * they are counted from the kernel's head, so the next submit offers them
 * again, and the failure is counted by kind. */
static int failed_enter_case(int err, int kind) {
  int st = FAIL;
  rfix f;
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  ion_reactor_submit(&f.rx, true);
  push_send(&f, 0, 100, 7);
  ion_udp_flush(f.u);
  CHECK(ion_ring_sq_pending(&f.rx.ring) == 1);
  f.rx.ring.inject_err = err;
  f.rx.ring.inject_n = 1;
  CHECKF(ion_reactor_submit(&f.rx, false) == err, "kind %d", kind);
  CHECK(f.rx.enter_errors[kind] == 1 && f.rx.retry);
  /* Published but not consumed: still pending, offered again. */
  CHECK(ion_ring_sq_pending(&f.rx.ring) == 1);
  CHECK(!ion_reactor_retry(&f.rx)); /* submits; nothing left to retry */
  CHECK(ion_ring_sq_pending(&f.rx.ring) == 0);
  CHECKF(rfix_pump(&f, W_SDONE, 1, false), "sdone=%u", f.u->obj.sdone);
  CHECK(sdesc(&f, 0)[ION_M_FLAGS] == 100 && peer_got(&f, 100, 7));
  CHECK(f.rx.cqes_lost == (err == -EBADR));
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

static int t_enter_eagain(void) {
  return failed_enter_case(-EAGAIN, ION_ENTER_EAGAIN);
}
static int t_enter_ebusy(void) {
  return failed_enter_case(-EBUSY, ION_ENTER_EBUSY);
}
static int t_enter_ebadr(void) {
  return failed_enter_case(-EBADR, ION_ENTER_EBADR);
}

/* The SQ is full and the kernel will not take SQEs: sends wait (not
 * failed), the socket is marked starved, and the retry resumes it. */
static int t_starved_sends_resume(void) {
  int st = FAIL;
  rfix f;
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  ion_reactor_submit(&f.rx, true);
  /* Fill the SQ with NOPs nobody owns (the test reaps them below). */
  uint32_t nops = 0;
  struct ion_sqe *sqe;
  while ((sqe = ion_ring_get_sqe(&f.rx.ring)) != NULL) {
    ion_prep_nop(sqe, ION_UD(0, 0, 0));
    nops++;
  }
  CHECK(nops == f.rx.ring.sq_entries);
  f.rx.ring.inject_err = -EAGAIN;
  f.rx.ring.inject_n = 1; /* the submit that would make room fails */
  push_send(&f, 0, 60, 9);
  ion_udp_flush(f.u);
  CHECK(f.u->dr.next == 0 && f.u->obj.starved && f.rx.starved_n == 1);
  CHECK(f.rx.retry && f.u->obj.sdone == 0);
  CHECK(!ion_reactor_retry(&f.rx)); /* room now: the send goes */
  CHECK(!f.u->obj.starved && f.rx.starved_n == 0 && f.u->dr.next == 1);
  CHECKF(rfix_pump(&f, W_SDONE, 1, false), "sdone=%u", f.u->obj.sdone);
  CHECK(sdesc(&f, 0)[ION_M_FLAGS] == 60 && peer_got(&f, 60, 9));
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* After the kernel dropped completions (EBADR), a closing object can wait
 * for a CQE that will never come. A request whose CQE is lost is simulated
 * by counting one more in flight than the kernel holds: the close still
 * finishes, through the reactor's recovery cancels, and is counted. */
static int t_lost_cqe_close_recovers(void) {
  int st = FAIL;
  rfix f;
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  ion_reactor_submit(&f.rx, true);
  f.u->obj.inflight++; /* its completion was dropped */
  f.rx.ring.inject_err = -EBADR;
  f.rx.ring.inject_n = 1;
  push_send(&f, 0, 20, 1);
  ion_udp_flush(f.u);
  CHECK(ion_reactor_submit(&f.rx, false) == -EBADR && f.rx.cqes_lost);
  ion_udp_close(f.u);
  CHECKF(rfix_pump(&f, W_EVENTS, ION_EV_CLOSED, true), "inflight=%u",
         f.u->obj.inflight);
  CHECK(f.rx.recoveries == 1 && f.rx.lost_cqes == 1);
  CHECK(rfix_close_checked(&f)); /* the id is released as usual */
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* Kill the object's multishot receive behind its back and swallow both
 * completions (its final -ECANCELED and the cancel's own), as if the
 * kernel had dropped the final one: the object still counts it in flight
 * and thinks the receive is armed. */
static bool drop_multishot_final(rfix *f) {
  struct ion_sqe *sqe = ion_ring_get_sqe(&f->rx.ring);
  if (!sqe) return false;
  ion_prep_cancel_ud(sqe, ION_UD((uint32_t)f->id, K_RECV_MULTI, 0), ~0ull);
  if (ion_ring_submit(&f->rx.ring, 0, true) < 0) return false;
  struct ion_cqe *c[8];
  unsigned seen = 0;
  for (int i = 0; i < 2000 && seen < 2; i++) {
    unsigned n = ion_ring_peek_cqes(&f->rx.ring, c, 8);
    seen += n;
    ion_ring_cq_advance(&f->rx.ring, n);
    if (seen < 2) {
      ion_ring_submit(&f->rx.ring, 0, true);
      sleep_ms(1);
    }
  }
  return seen == 2 && f->u->multishot_armed && f->u->obj.inflight == 1;
}

/* After dropped completions (EBADR), a live object whose multishot
 * receive ended without a final CQE would never re-arm it and never
 * receive again. The reactor has each live object check its standing
 * receive (a cancel aimed at it finds nothing: its end was lost), re-arm
 * it, and count it; datagrams arrive again and the object still closes. */
static int t_lost_multishot_rearmed(void) {
  int st = FAIL;
  rfix f;
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  ion_reactor_submit(&f.rx, true); /* the multishot reaches the kernel */
  CHECK(f.u->multishot && f.u->multishot_armed);
  CHECK(drop_multishot_final(&f));
  CHECK(send_pattern(f.peer, &f.obj_addr, 40, 5));
  /* The kernel says it dropped completions. */
  f.rx.ring.inject_err = -EBADR;
  f.rx.ring.inject_n = 1;
  CHECK(ion_reactor_submit(&f.rx, true) == -EBADR && f.rx.cqes_lost);
  /* Pump as the addon does: the re-arm happens after a dispatch. */
  for (int i = 0; i < 2000 && f.u->obj.rcount == 0; i++) {
    ion_reactor_submit(&f.rx, true);
    ion_reactor_reap(&f.rx);
    if (f.u->obj.rcount == 0) {
      rfix_dispatch(&f);
      sleep_ms(1);
    }
  }
  CHECKF(f.u->obj.rcount == 1, "rcount=%u armed=%d", f.u->obj.rcount,
         f.u->multishot_armed);
  CHECK(check_rmeta(&f, rmeta(&f, 0), 40, 5));
  CHECK(f.rx.rearms_after_loss == 1 && f.rx.recoveries == 0);
  rfix_dispatch(&f);
  CHECK(rfix_close_checked(&f)); /* nothing left counted in flight */
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* A live receive that did not lose its end is left alone by the check:
 * the cancel finds it, it ends with -ECANCELED as usual and re-arms;
 * nothing is counted as lost. */
static int t_lost_check_live_multishot(void) {
  int st = FAIL;
  rfix f;
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  ion_reactor_submit(&f.rx, true);
  f.rx.ring.inject_err = -EBADR;
  f.rx.ring.inject_n = 1;
  CHECK(ion_reactor_submit(&f.rx, true) == -EBADR && f.rx.cqes_lost);
  /* Until the check has found the receive: it ended and was re-armed. */
  for (int i = 0; i < 2000 && stat_of(&f, ION_S_REARMS) < 1; i++) {
    ion_reactor_submit(&f.rx, true);
    ion_reactor_reap(&f.rx);
    rfix_dispatch(&f);
    sleep_ms(1);
  }
  CHECK(stat_of(&f, ION_S_REARMS) == 1);
  CHECK(f.rx.rearms_after_loss == 0);
  CHECK(f.u->multishot_armed);
  CHECK(send_pattern(f.peer, &f.obj_addr, 30, 6));
  CHECK(rfix_pump(&f, W_RCOUNT, 1, false));
  CHECK(check_rmeta(&f, rmeta(&f, 0), 30, 6));
  rfix_dispatch(&f);
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* Without a loss reported by the kernel, no recovery runs: the same extra
 * request keeps the object open (the recovery is not what closes objects
 * normally). */
static int t_no_recovery_without_loss(void) {
  int st = FAIL;
  rfix f;
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  ion_reactor_submit(&f.rx, true);
  f.u->obj.inflight++;
  ion_udp_close(f.u);
  for (int i = 0; i < 20; i++) {
    ion_reactor_submit(&f.rx, true);
    ion_reactor_reap(&f.rx);
  }
  CHECK(!f.u->obj.finalized && f.u->obj.inflight == 1);
  CHECK(f.rx.recoveries == 0);
  f.u->obj.inflight--; /* undo the simulation: now it can finish */
  ion_reactor_maybe_finalize(&f.rx, &f.u->obj);
  CHECK(f.u->obj.finalized);
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* The tail JS publishes is checked against native's own counters. */
static int t_dring_tail_checks(void) {
  int st = FAIL;
  int32_t ctrl[ION_C_WORDS] = {0};
  int32_t desc[8 * ION_D_WORDS] = {0};
  ion_dring d;
  uint32_t tail = 0;
  CHECK(ion_dring_init(&d, desc, ctrl, 8) == 0);
  ctrl[ION_C_STAIL] = 8; /* a full ring: fine */
  CHECK(ion_dring_tail(&d, &tail) == 0 && tail == 8);
  d.next = 3;
  ctrl[ION_C_STAIL] = 2; /* behind what native took */
  CHECK(ion_dring_tail(&d, &tail) == -EPROTO && d.poisoned);
  ctrl[ION_C_STAIL] = 4; /* poisoned for good */
  CHECK(ion_dring_tail(&d, &tail) == -EPROTO);
  CHECK(ion_dring_fail_pending(&d, -ECANCELED) == 0);
  ion_dring_free(&d);
  CHECK(ion_dring_init(&d, desc, ctrl, 8) == 0);
  ctrl[ION_C_STAIL] = 9; /* more than the ring past the frontier */
  CHECK(ion_dring_tail(&d, &tail) == -EPROTO);
  ion_dring_free(&d);
  CHECK(ion_dring_init(&d, desc, ctrl, 8) == 0);
  d.next = d.frontier = 0xfffffffcu; /* counters wrap */
  ctrl[ION_C_STAIL] = 3;             /* 7 past the frontier */
  CHECK(ion_dring_tail(&d, &tail) == 0 && tail == 3);
  CHECK(ion_dring_fail_pending(&d, -ECANCELED) == 7 && d.next == 3);
  st = PASS;
out:
  ion_dring_free(&d);
  return st;
}

/* A UDP socket whose send tail is impossible takes nothing, reports
 * -EPROTO once, keeps receiving, and still closes. */
static int t_udp_bad_tail(void) {
  int st = FAIL;
  rfix f;
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  push_send(&f, 0, 30, 2);
  f.ctrl[ION_C_STAIL] = 1000; /* far ahead of anything pushed */
  ion_udp_flush(f.u);
  CHECK(f.u->dr.next == 0 && f.u->obj.rerr == -EPROTO);
  CHECK(f.u->obj.events & ION_EV_ERROR);
  rfix_dispatch(&f);
  ion_udp_flush(f.u); /* reported once */
  CHECK(!(f.u->obj.events & ION_EV_ERROR));
  CHECK(send_pattern(f.peer, &f.obj_addr, 50, 4));
  CHECKF(rfix_pump(&f, W_RCOUNT, 1, false), "rcount=%u", f.u->obj.rcount);
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

/* A window JS lends native code: checked against native's counters, then
 * filled in order with aligned payloads until it is full. */
static int t_dring_window(void) {
  int st = FAIL;
  int32_t ctrl[ION_C_WORDS] = {0};
  int32_t desc[8 * ION_D_WORDS] = {0};
  uint8_t mem[1024];
  ion_dring d;
  ion_dring_window w;
  uint8_t *p = NULL;
  CHECK(ion_dring_init(&d, desc, ctrl, 8) == 0);
  ctrl[ION_C_STAIL] = 2; /* JS pushed two */
  CHECK(ion_dring_window_open(&d, &w, mem, 256, 512, 1, 4, 256, 100) ==
        -EINVAL); /* not the tail */
  CHECK(ion_dring_window_open(&d, &w, mem, 256, 512, 2, 7, 256, 100) ==
        -EINVAL); /* 2 + 7 > 8 past the frontier */
  CHECK(ion_dring_window_open(&d, &w, mem, 256, 512, 2, 4, 200, 100) ==
        -EINVAL); /* before the region */
  CHECK(ion_dring_window_open(&d, &w, mem, 256, 512, 2, 4, 700, 100) ==
        -EINVAL); /* past its end */
  CHECK(ion_dring_window_open(&d, &w, mem, 256, 512, 2, 3, 300, 100) == 0);
  int32_t *a = ion_dring_window_next(&d, &w, 10, 1, &p);
  CHECK(a && p == mem + 300 && a[ION_D_OFF] == 300 && a[ION_D_LEN] == 10);
  CHECK(a == desc + 2 * ION_D_WORDS);
  int32_t *b = ion_dring_window_next(&d, &w, 20, 8, &p);
  CHECK(b && b[ION_D_OFF] == 312 && p == mem + 312); /* aligned to 8 */
  CHECK(!ion_dring_window_next(&d, &w, 80, 1, &p)); /* 332 + 80 > 400 */
  CHECK(ion_dring_window_next(&d, &w, 60, 1, &p) != NULL);
  CHECK(!ion_dring_window_next(&d, &w, 1, 1, &p)); /* three slots used */
  CHECK(w.used == 3 && w.fill == 92);
  ctrl[ION_C_STAIL] = 100; /* impossible: poisons, and no window */
  CHECK(ion_dring_window_open(&d, &w, mem, 256, 512, 100, 1, 300, 10) ==
        -EINVAL);
  st = PASS;
out:
  ion_dring_free(&d);
  return st;
}

/* Native code in another object reads the UDP batch through
 * ion_udp_batch_get (entries checked against the pool) and sends through a
 * window of the send ring. */
static int t_udp_cross_object(void) {
  int st = FAIL;
  rfix f;
  int rc = rfix_open(&f, 1, 8);
  CHECKF(rc == 0, "open=%d", rc);
  CHECK(send_pattern(f.peer, &f.obj_addr, 33, 5));
  CHECKF(rfix_pump(&f, W_RCOUNT, 1, false), "rcount=%u", f.u->obj.rcount);
  ion_udp_pkt pkt;
  CHECK(ion_udp_batch_get(f.u, 0, &pkt) == 0 && pkt.len == 33);
  CHECK(same(pkt.data, 33, 5) && pkt.family == 4);
  CHECK(pkt.port == ntohs(f.peer_addr.sin_port));
  CHECK(ion_udp_batch_get(f.u, 1, &pkt) == -EINVAL);
  rmeta(&f, 0)[ION_M_OFF] = (int32_t)f.lay.sdata; /* tampered */
  CHECK(ion_udp_batch_get(f.u, 0, &pkt) == -EINVAL);
  rfix_dispatch(&f);
  ion_dring_window w;
  CHECK(ion_udp_window_open(f.u, &w, 0, 2, f.lay.sdata, 512) == 0);
  uint8_t to[16] = {0};
  memcpy(to, &f.peer_addr.sin_addr, 4);
  uint8_t *p = ion_udp_window_next(f.u, &w, 44, 4, to,
                                   ntohs(f.peer_addr.sin_port), 0);
  CHECK(p != NULL && ((uintptr_t)p & 15) == 0);
  fill(p, 44, 6);
  f.ctrl[ION_C_STAIL] = 1; /* what JS's commitWindow does */
  ion_udp_flush(f.u);
  CHECKF(rfix_pump(&f, W_SDONE, 1, false), "sdone=%u", f.u->obj.sdone);
  CHECK(peer_got(&f, 44, 6));
  CHECK(rfix_close_checked(&f));
  st = PASS;
out:
  rfix_teardown(&f);
  return st;
}

static const test_case tests[] = {
    {"eventfd_after_deferred_completion", t_eventfd_deferred},
    {"failed_enter_eagain_resubmits", t_enter_eagain},
    {"failed_enter_ebusy_resubmits", t_enter_ebusy},
    {"failed_enter_ebadr_resubmits", t_enter_ebadr},
    {"starved_sends_resume", t_starved_sends_resume},
    {"lost_cqe_close_recovers", t_lost_cqe_close_recovers},
    {"lost_multishot_rearmed", t_lost_multishot_rearmed},
    {"lost_check_live_multishot", t_lost_check_live_multishot},
    {"no_recovery_without_loss", t_no_recovery_without_loss},
    {"dring_tail_checks", t_dring_tail_checks},
    {"dring_window", t_dring_window},
    {"udp_cross_object", t_udp_cross_object},
    {"udp_bad_tail_poisons", t_udp_bad_tail},
};

int main(void) {
  return run_ring_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
