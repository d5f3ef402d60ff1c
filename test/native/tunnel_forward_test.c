/*
 * Native tests of the plain tunnel's forwarders (tunnel/forward.c) between
 * a UDP object on the ring (udp_fixture.h: bound to 127.0.0.1, a plain
 * peer socket) and a vnet TUN object on the same reactor (poll backend,
 * a socketpair standing in for the TUN fd, as in tun_vnet_test.c):
 *
 * - peer -> TUN: only the peer's datagrams, only IPv4/IPv6 packets of at
 *   most max_packet bytes, each copied into the TUN window with its
 *   header room; counts by reason; a full window stops at the first
 *   packet that did not fit (next), so the caller can ask again;
 * - TUN -> peer: a batch with a split super-segment goes into the UDP
 *   window, every datagram to the peer; the flush sends them and the peer
 *   receives exactly the batch's packets, in order.
 *
 * Skips (saying why) where io_uring cannot be set up (run_ring_tests).
 * TAP: test_util.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "file/file.h"
#include "offload_util.h"
#include "tunnel/forward.h"
#include "udp_fixture.h"

#define TSLOT ((ION_VNET_HDR_LEN + ION_OFFLOAD_MAX_PKT + 7) & ~7)

typedef struct {
  rfix u;
  ion_file *f;
  ion_file_layout lay;
  ion_mem *block;
  uint8_t *mem;
  int fd, tpeer;
} ffix;

/* 0, -errno, or 1 when io_uring is not usable here (skip). */
static int ffix_open(ffix *x) {
  memset(x, 0, sizeof(*x));
  x->fd = x->tpeer = -1;
  int rc = rfix_open(&x->u, 1, 16);
  if (rc == -ENOSYS || rc == -EPERM) return 1;
  if (rc < 0) return rc;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
    return -errno;
  x->fd = sv[0];
  x->tpeer = sv[1];
  int big = 4 << 20;
  setsockopt(x->tpeer, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  setsockopt(x->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  ion_file_config c = {.kind = ION_FILE_TUN, .rslots = 4, .rslot = TSLOT,
                       .qslots = 8, .qdata_len = 1 << 16,
                       .backend = ION_FILE_BACKEND_POLL, .vnet = 1,
                       .gro = ION_GRO_TCP, .split_len = 4 * 73728,
                       .split_entries = 4 * 64};
  if ((rc = ion_file_layout_of(&c, &x->lay)) < 0) return rc;
  if ((rc = ion_file_create(&x->u.rx, &c, x->fd, &x->f)) < 0) return rc;
  x->fd = -1;
  x->block = ion_file_mem(x->f);
  ion_mem_ref(x->block);
  x->mem = x->block->base;
  return ion_file_start(x->f);
}

static void ffix_teardown(ffix *x) {
  if (x->f) ion_file_close(x->f);
  rfix_teardown(&x->u);
  ion_mem_unref(x->block);
  if (x->fd >= 0) close(x->fd);
  if (x->tpeer >= 0) close(x->tpeer);
}

static uint8_t g_pkt[8][2048];
static size_t g_len[8];

static ion_fwd_peer peer_of(const struct sockaddr_in *a) {
  ion_fwd_peer p = {.family = 4, .port = ntohs(a->sin_port)};
  memcpy(p.addr, &a->sin_addr, 4);
  return p;
}

/* Peer -> TUN: the filter, the checks, the window and its header room. */
static int t_udp_to_tun(void) {
  int st = FAIL;
  ffix x;
  int rc = ffix_open(&x);
  if (rc == 1) return SKIP;
  CHECK(rc == 0);
  struct spec s4 = spec_default(0, 6), s6 = spec_default(1, 17);
  s4.plen = 300;
  s6.plen = 200;
  g_len[0] = build_pkt(g_pkt[0], &s4, 0);
  memset(g_pkt[1], 0x11, 64); /* not an IP packet */
  g_len[1] = 64;
  g_len[2] = build_pkt(g_pkt[2], &s6, 0);
  s4.plen = 1400; /* longer than max_packet below */
  g_len[3] = build_pkt(g_pkt[3], &s4, 0);
  for (int i = 0; i < 4; i++)
    CHECK(sendto(x.u.peer, g_pkt[i], g_len[i], 0,
                 (struct sockaddr *)&x.u.obj_addr, sizeof(x.u.obj_addr)) ==
          (ssize_t)g_len[i]);
  struct sockaddr_in other;
  int stranger = udp_bound(&other);
  CHECK(stranger >= 0);
  CHECK(sendto(stranger, g_pkt[0], g_len[0], 0,
               (struct sockaddr *)&x.u.obj_addr, sizeof(x.u.obj_addr)) > 0);
  close(stranger);
  CHECK(rfix_pump(&x.u, W_RCOUNT, 5, false));
  ion_fwd_peer p = peer_of(&x.u.peer_addr);
  ion_dring_window w;
  /* A window of one slot: the first packet goes, the next IP one stops. */
  uint32_t qdata = x.lay.qdata;
  CHECK(ion_file_window_open(x.f, &w, 0, 1, qdata, 4096) == 0);
  ion_fwd_counts c;
  CHECK(ion_fwd_udp_to_tun(x.u.u, x.f, &w, 0, 5, &p, 1000, &c) == 0);
  CHECKF(c.next == 2 && c.used == 1 && c.packets == 1 && c.malformed == 1,
         "next %u used %u packets %u malformed %u", c.next, c.used,
         c.packets, c.malformed);
  int32_t *d = (int32_t *)(x.mem + x.lay.qdesc);
  CHECK(d[ION_Q_LEN] == (int32_t)g_len[0] && d[ION_Q_OP] == ION_QOP_WRITE);
  CHECK((uint32_t)d[ION_Q_OFF] - qdata >= ION_FILE_HEADROOM);
  CHECK(!memcmp(x.mem + d[ION_Q_OFF], g_pkt[0], g_len[0]));
  /* JS committed that one; the rest in a bigger window. */
  ((int32_t *)(x.mem + x.lay.ctrl))[ION_C_STAIL] = 1;
  CHECK(ion_file_window_open(x.f, &w, 1, 7, qdata + 4096, 8192) == 0);
  CHECK(ion_fwd_udp_to_tun(x.u.u, x.f, &w, c.next, 5, &p, 1000, &c) == 0);
  CHECKF(c.next == 5 && c.used == 1 && c.packets == 1 && c.too_big == 1 &&
             c.not_from_peer == 1 && c.malformed == 0,
         "next %u used %u packets %u big %u stranger %u", c.next, c.used,
         c.packets, c.too_big, c.not_from_peer);
  CHECK(d[ION_Q_WORDS + ION_Q_LEN] == (int32_t)g_len[2]);
  CHECK(!memcmp(x.mem + d[ION_Q_WORDS + ION_Q_OFF], g_pkt[2], g_len[2]));
  /* A stale window is refused: seq no longer the tail. */
  CHECK(ion_file_window_open(x.f, &w, 0, 1, qdata, 4096) == -EINVAL);
  st = PASS;
out:
  ffix_teardown(&x);
  return st;
}

/* TUN -> peer: a super-segment split in the batch, a plain packet; all of
 * them reach the peer as datagrams, in order, unchanged. */
static int t_tun_to_udp(void) {
  int st = FAIL;
  ffix x;
  int rc = ffix_open(&x);
  if (rc == 1) return SKIP;
  CHECK(rc == 0);
  static uint8_t rd[ION_VNET_HDR_LEN + 8000];
  struct spec s = spec_default(0, 6);
  s.plen = 3000;
  size_t n = build_gso(rd, &s, 1000); /* 3 segments */
  CHECK(send(x.tpeer, rd, n, 0) == (ssize_t)n);
  struct spec u = spec_default(0, 17);
  u.plen = 99;
  memset(rd, 0, ION_VNET_HDR_LEN);
  n = ION_VNET_HDR_LEN + build_pkt(rd + ION_VNET_HDR_LEN, &u, 0);
  CHECK(send(x.tpeer, rd, n, 0) == (ssize_t)n);
  ion_obj *o = ion_file_obj(x.f);
  o->poll->readable(o);
  CHECK(o->rcount == 4);
  ion_fwd_peer p = peer_of(&x.u.peer_addr);
  ion_dring_window w;
  CHECK(ion_udp_window_open(x.u.u, &w, 0, 8, x.u.lay.sdata, 4096) == 0);
  ion_fwd_counts c;
  CHECK(ion_fwd_tun_to_udp(x.f, x.u.u, &w, 0, 4, &p, 65507, &c) == 0);
  CHECKF(c.next == 4 && c.used == 4 && c.packets == 4, "next %u used %u",
         c.next, c.used);
  uint8_t *data[4];
  uint32_t len[4];
  for (uint32_t i = 0; i < 4; i++) {
    CHECK(ion_file_batch_get(x.f, i, &data[i], &len[i]) == 0);
    memcpy(g_pkt[i], data[i], len[i]);
    g_len[i] = len[i];
  }
  x.u.ctrl[ION_C_STAIL] = 4; /* what commitWindow does */
  ion_udp_flush(x.u.u);
  CHECK(rfix_pump(&x.u, W_SDONE, 4, false));
  for (int i = 0; i < 4; i++) {
    uint8_t in[2048];
    struct pollfd pf = {.fd = x.u.peer, .events = POLLIN};
    CHECK(poll(&pf, 1, 2000) == 1);
    ssize_t got = recv(x.u.peer, in, sizeof(in), 0);
    CHECKF(got == (ssize_t)g_len[i] && !memcmp(in, g_pkt[i], g_len[i]),
           "datagram %d: %zd bytes", i, got);
    CHECK(ref_packet_ok(in, (size_t)got));
  }
  st = PASS;
out:
  ffix_teardown(&x);
  return st;
}

int main(void) {
  test_case t[] = {
      {"peer -> TUN: filter, checks, window room and header room",
       t_udp_to_tun},
      {"TUN -> peer: a split batch reaches the peer unchanged", t_tun_to_udp},
  };
  return run_ring_tests(t, sizeof(t) / sizeof(t[0]));
}
