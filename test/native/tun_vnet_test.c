/*
 * Native tests of a vnet TUN device on the file object (tun/tun_vread.c,
 * tun/tun_vwrite.c with file.c, file_poll.c, tun_io.c): reads split into
 * plain packets in the batch, reads kept for the next batch when the split
 * area is full, writes coalesced into one write per group, a refused
 * coalesced write re-sent packet by packet, window headroom, bad
 * descriptors, close with writes pending.
 *
 * A TUN fd is stood in for by one end of an AF_UNIX SOCK_DGRAM socketpair
 * (as in file_poll_test.c): datagram boundaries are kept, so each write
 * arrives as one datagram with its virtio header, and we play the kernel
 * by sending virtio header + packet datagrams. Expected packets come from
 * the engine's own functions on copies (ion_vnet_split) and are checked
 * with the reference checksum of offload_util.h.
 *
 * Each test runs on the poll backend (a ring-less reactor, as the addon
 * has it when io_uring is refused) and, where io_uring works, on the ring
 * (multishot or single reads, IORING_OP_WRITEV). TAP output: test_util.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/prep.h"
#include "core/reactor.h"
#include "core/ring.h"
#include "file/file_internal.h"
#include "offload_util.h"
#include "test_util.h"

#define READY_CAP 16
#define QSLOTS 64
#define RSLOT ((ION_VNET_HDR_LEN + ION_OFFLOAD_MAX_PKT + 7) & ~7)

typedef struct {
  ion_reactor rx;
  bool ring;
  ion_file_config cfg;
  ion_file_layout lay;
  ion_mem *block;
  uint8_t *mem;
  int32_t *ctrl;
  ion_file *f;
  ion_obj *o;
  int fd, peer;
  uint32_t pushed; /* descriptors pushed (JS's tail) */
} vfix;

static int g_ring; /* the variant running: 0 poll, 1 ring */
static char g_ring_skip[160];

static void noop_hook(ion_reactor *rx, ion_obj *o) {
  (void)rx;
  (void)o;
}

/* A fixture on the variant g_ring; split area and entries as given.
 * 0, -errno, or 1 (the ring variant cannot run here: skip). */
static int vopen(vfix *p, uint32_t split_len, uint32_t split_entries,
                 unsigned gro, int sndbuf) {
  memset(p, 0, sizeof(*p));
  p->fd = p->peer = -1;
  p->rx.ring.fd = -1;
  p->rx.efd = -1;
  if (g_ring) {
    int rc = ion_reactor_init(&p->rx, 256);
    if (rc < 0) {
      snprintf(g_ring_skip, sizeof(g_ring_skip), "io_uring: %s", strerror(-rc));
      return 1;
    }
    p->ring = true;
  } else {
    p->rx.ring_err = -EPERM;
  }
  p->rx.poll_hook = noop_hook;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
    return -errno;
  p->fd = sv[0];
  p->peer = sv[1];
  int big = 4 << 20;
  setsockopt(p->peer, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  setsockopt(p->peer, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  if (sndbuf) setsockopt(p->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  else setsockopt(p->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  p->cfg = (ion_file_config){.kind = ION_FILE_TUN,
                             .rslots = 8,
                             .rslot = RSLOT,
                             .qslots = QSLOTS,
                             .qdata_len = 1 << 20,
                             .multishot = 1,
                             .backend = g_ring ? ION_FILE_BACKEND_URING
                                               : ION_FILE_BACKEND_POLL,
                             .vnet = 1,
                             .gro = gro,
                             .split_len = split_len,
                             .split_entries = split_entries};
  int rc = ion_file_layout_of(&p->cfg, &p->lay);
  if (rc == 0) rc = ion_file_create(&p->rx, &p->cfg, p->fd, &p->f);
  if (rc < 0) return rc;
  p->fd = -1;
  p->block = ion_file_mem(p->f);
  ion_mem_ref(p->block);
  p->mem = p->block->base;
  p->ctrl = (int32_t *)(p->mem + p->lay.ctrl);
  p->o = ion_file_obj(p->f);
  return 0;
}

static void vclose(vfix *p) {
  if (p->f) ion_file_close(p->f);
  ion_reactor_shutdown(&p->rx);
  ion_reactor_destroy(&p->rx);
  ion_mem_unref(p->block);
  if (p->fd >= 0) close(p->fd);
  if (p->peer >= 0) close(p->peer);
}

/* Let the kernel work (ring) or the poll backend read and write. */
static void pump(vfix *p) {
  if (p->ring) {
    ion_reactor_submit(&p->rx, true);
    ion_reactor_reap(&p->rx);
    return;
  }
  if (p->o->poll->events(p->o) & POLLIN) p->o->poll->readable(p->o);
  if (p->f->want_write) p->o->poll->writable(p->o);
}

/* Wait (bounded) until the batch has at least n packets or the read
 * side is idle; the ring variant waits on the eventfd between reaps. */
static void pump_until(vfix *p, uint32_t n) {
  for (int i = 0; i < 200 && p->o->rcount < n; i++) {
    pump(p);
    if (p->o->rcount >= n) break;
    if (p->ring) {
      struct pollfd pf = {.fd = p->rx.efd, .events = POLLIN};
      poll(&pf, 1, 10);
    }
  }
}

static void dispatch(vfix *p) {
  int32_t e[READY_CAP * ION_E_WORDS];
  uint32_t n = p->rx.queue_n < READY_CAP ? p->rx.queue_n : READY_CAP;
  ion_reactor_entries(&p->rx, n, e);
  ion_reactor_after_dispatch(&p->rx, n);
}

static int32_t *qdesc(vfix *p, uint32_t slot) {
  return (int32_t *)(p->mem + p->lay.qdesc) + slot * ION_Q_WORDS;
}
static int32_t *rmeta(vfix *p, uint32_t i) {
  return (int32_t *)(p->mem + p->lay.rmeta) + i * ION_R_WORDS;
}

/* Push a write of pkt (len bytes) with its payload at qdata + at. */
static void push_write(vfix *p, uint32_t at, const uint8_t *pkt,
                       uint32_t len) {
  int32_t *d = qdesc(p, p->pushed % QSLOTS);
  memcpy(p->mem + p->lay.qdata + at, pkt, len);
  d[ION_Q_OFF] = (int32_t)(p->lay.qdata + at);
  d[ION_Q_LEN] = (int32_t)len;
  d[ION_Q_RES] = 0;
  d[ION_Q_OP] = ION_QOP_WRITE;
  d[ION_Q_POS_LO] = d[ION_Q_POS_HI] = -1;
  p->ctrl[ION_C_STAIL] = (int32_t)++p->pushed;
}

/* Wait (bounded) until every pushed write completed. */
static void flush_all(vfix *p) {
  ion_file_flush(p->f);
  for (int i = 0; i < 200 && p->o->sdone != p->pushed; i++) {
    pump(p);
    if (p->o->sdone == p->pushed) break;
    if (p->ring) {
      struct pollfd pf = {.fd = p->rx.efd, .events = POLLIN};
      poll(&pf, 1, 10);
    }
  }
}

static uint8_t g_in[ION_VNET_HDR_LEN + 70000];
static uint8_t g_pk[32][ION_VNET_HDR_LEN + 70000];
static size_t g_pklen[32];
static struct ion_pkt g_ref[256];
static uint8_t g_refmem[256][2048];

/* ---- reads ---- */

/* Super-segments (TCP/IPv4, TCP/IPv6 with CWR), a non-GSO UDP packet with
 * a partial checksum, a malformed read and a plain packet: the batch holds
 * exactly the split packets, in order, as ion_vnet_split makes them. */
static int t_read_split(void) {
  int st = FAIL;
  vfix p;
  int rc = vopen(&p, 8 * 73728, 8 * 64, ION_GRO_TCP | ION_GRO_UDP, 0);
  if (rc == 1) return SKIP;
  CHECK(rc == 0 && ion_file_start(p.f) == 0);
  struct spec a = spec_default(0, 6), u = spec_default(0, 17),
              b = spec_default(1, 6), c = spec_default(1, 17);
  a.plen = 3500;
  b.plen = 2600;
  b.flags = 0x80 | 0x10 | 0x08; /* CWR, ACK, PSH */
  u.plen = 300;
  c.plen = 77;
  size_t n = 0;
  g_pklen[n++] = build_gso(g_pk[0], &a, 1000);          /* 4 packets */
  g_pklen[n] = ION_VNET_HDR_LEN + build_pkt(g_pk[1] + ION_VNET_HDR_LEN, &u, 1);
  struct ion_vnet_hdr h = {.flags = ION_VNET_F_NEEDS_CSUM,
                           .csum_start = 20, .csum_offset = 6};
  memcpy(g_pk[1], &h, sizeof(h));
  n++;
  g_pklen[n] = build_gso(g_pk[2], &b, 1200);           /* malformed: */
  g_pk[2][1] = ION_VNET_GSO_TCPV4;                     /* IPv6 as TCPV4 */
  n++;
  g_pklen[n++] = build_gso(g_pk[3], &b, 1200);         /* 3 packets */
  memset(g_pk[4], 0, ION_VNET_HDR_LEN);                /* plain */
  g_pklen[n++] = ION_VNET_HDR_LEN + build_pkt(g_pk[4] + ION_VNET_HDR_LEN, &c, 0);
  for (size_t i = 0; i < n; i++)
    CHECK(send(p.peer, g_pk[i], g_pklen[i], 0) == (ssize_t)g_pklen[i]);
  pump_until(&p, 9);
  CHECKF(p.o->rcount == 9, "rcount %u", p.o->rcount);
  uint32_t e = 0;
  for (size_t i = 0; i < n; i++) {
    if (i == 2) continue;
    for (int k = 0; k < 8; k++) {
      g_ref[k].data = g_refmem[k];
      g_ref[k].cap = sizeof(g_refmem[k]);
    }
    int segs = ion_vnet_split(g_pk[i], g_pklen[i], g_ref, 8);
    CHECK(segs > 0);
    for (int k = 0; k < segs; k++, e++) {
      uint8_t *data;
      uint32_t len;
      CHECK(ion_file_batch_get(p.f, e, &data, &len) == 0);
      CHECKF(len == g_ref[k].len && !memcmp(data, g_ref[k].data, len),
             "packet %u (read %zu segment %d)", e, i, k);
      CHECK(ref_packet_ok(data, len) && rmeta(&p, e)[ION_R_FLAGS] == 0);
      CHECK(((uintptr_t)(data - p.mem) & 15) == (i == 1 || i == 4 ? 10 : 0));
    }
  }
  CHECK(p.f->stats[ION_FS_SUPER_IN] == 2 && p.f->stats[ION_FS_VNET_ERRORS] == 1);
  CHECK(p.f->stats[ION_FS_PKTS_IN] == 9);
  CHECK(ion_file_batch_get(p.f, 9, &(uint8_t *){0}, &(uint32_t){0}) == -EINVAL);
  dispatch(&p);
  CHECK(p.o->rcount == 0);
  st = PASS;
out:
  vclose(&p);
  return st;
}

/* A split area with room for one super-segment's worth and 16 entries a
 * batch: five super-segments and a plain packet between them arrive over
 * many batches, whole and in order; the kept reads are counted. */
static int t_read_deferred(void) {
  int st = FAIL;
  vfix p;
  int rc = vopen(&p, 65536, 8, ION_GRO_TCP, 0);
  if (rc == 1) return SKIP;
  CHECK(rc == 0 && ion_file_start(p.f) == 0);
  struct spec s = spec_default(0, 6);
  s.plen = 45 * 1400;
  uint32_t seq0 = s.seq, expect_seq = seq0, got = 0, plain = 0;
  for (int i = 0; i < 5; i++) {
    s.off = (uint32_t)i * s.plen;
    s.seq = seq0 + s.off;
    size_t len = build_gso(g_in, &s, 1400);
    CHECK(send(p.peer, g_in, len, 0) == (ssize_t)len);
    if (i == 1) { /* a plain ICMP-ish packet of another flow in between */
      struct spec o = spec_default(0, 17);
      o.plen = 10;
      o.dport = 9;
      memset(g_in, 0, ION_VNET_HDR_LEN);
      size_t l = ION_VNET_HDR_LEN + build_pkt(g_in + ION_VNET_HDR_LEN, &o, 0);
      CHECK(send(p.peer, g_in, l, 0) == (ssize_t)l);
    }
  }
  /* Bounded: 226 packets at >= 1 per batch. */
  for (int round = 0; round < 400 && got + plain < 226; round++) {
    pump_until(&p, 1);
    for (uint32_t i = 0; i < p.o->rcount; i++) {
      uint8_t *d;
      uint32_t len;
      CHECK(ion_file_batch_get(p.f, i, &d, &len) == 0 && ref_packet_ok(d, len));
      if (d[9] == 17) { /* the plain packet: after the second super-seg */
        CHECKF(got == 90, "plain packet after %u segments", got);
        plain++;
        continue;
      }
      CHECKF(rd32(d + 24) == expect_seq, "segment %u: seq %u", got,
             rd32(d + 24) - seq0);
      CHECK(d[52] == stream_byte(s.seed, expect_seq - seq0));
      expect_seq += len - 52;
      got++;
    }
    dispatch(&p);
  }
  CHECKF(got == 225 && plain == 1, "got %u + %u", got, plain);
  CHECK(p.f->stats[ION_FS_SPLIT_DEFERRED] > 0);
  CHECK(p.f->stats[ION_FS_SUPER_IN] == 5);
  st = PASS;
out:
  vclose(&p);
  return st;
}

/* ---- writes ---- */

/* Receive one write from the peer side: its length, or -1. */
static ssize_t take_write(vfix *p, uint8_t *buf, size_t cap) {
  ssize_t n = recv(p->peer, buf, cap, 0);
  return n;
}

/* Build a flow: n TCP (or UDP) packets of plen bytes each. */
static void build_flow(struct spec s, uint32_t n, uint32_t plen,
                       uint32_t first) {
  for (uint32_t i = 0; i < n; i++) {
    s.plen = plen;
    s.off = i * plen;
    s.seq += i * plen;
    s.id = (uint16_t)(s.id + i);
    g_pklen[first + i] = build_pkt(g_pk[first + i], &s, 0);
    s.seq -= i * plen;
    s.id = (uint16_t)(s.id - i);
  }
}

/* A received write holds exactly packets idx[0..n) (split back). */
static int write_holds(const uint8_t *w, size_t len, const int *idx,
                       int n) {
  for (int k = 0; k < n && k < 64; k++) {
    g_ref[k].data = g_refmem[k];
    g_ref[k].cap = sizeof(g_refmem[k]);
  }
  if (ion_vnet_split(w, len, g_ref, 64) != n) return 0;
  for (int k = 0; k < n; k++)
    if (!ref_packet_ok(g_ref[k].data, g_ref[k].len) ||
        !same_pkt(g_ref[k].data, g_ref[k].len, g_pk[idx[k]], g_pklen[idx[k]]))
      return 0;
  return 1;
}

/* TCP flow A (10 packets), a UDP flow B (5) interleaved, an ICMP packet:
 * three writes, each descriptor with its own length as result. */
static int t_write_coalesce(void) {
  int st = FAIL;
  vfix p;
  int rc = vopen(&p, 65536, 8, ION_GRO_TCP | ION_GRO_UDP, 0);
  if (rc == 1) return SKIP;
  CHECK(rc == 0);
  build_flow(spec_default(0, 6), 10, 1000, 0);   /* g_pk[0..10) */
  build_flow(spec_default(0, 17), 5, 700, 10);   /* g_pk[10..15) */
  struct spec ic = spec_default(0, 1);           /* ICMP: never coalesced */
  ic.plen = 32;
  g_pklen[15] = build_pkt(g_pk[15], &ic, 0);
  int order[16] = {0, 10, 1, 2, 11, 15, 3, 4, 12, 5, 6, 13, 7, 8, 14, 9};
  for (int k = 0; k < 16; k++)
    push_write(&p, 16 + (uint32_t)k * 2048, g_pk[order[k]],
               (uint32_t)g_pklen[order[k]]);
  flush_all(&p);
  CHECKF(p.o->sdone == 16, "sdone %u", p.o->sdone);
  for (int k = 0; k < 16; k++)
    CHECK(qdesc(&p, (uint32_t)k)[ION_Q_RES] == (int32_t)g_pklen[order[k]]);
  int tcp[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, udp[5] = {10, 11, 12, 13, 14};
  ssize_t n = take_write(&p, g_in, sizeof(g_in));
  CHECK(n > 0 && write_holds(g_in, (size_t)n, tcp, 10));
  CHECK(g_in[1] == ION_VNET_GSO_TCPV4);
  n = take_write(&p, g_in, sizeof(g_in));
  CHECK(n > 0 && write_holds(g_in, (size_t)n, udp, 5));
  CHECK(g_in[1] == ION_VNET_GSO_UDP_L4);
  n = take_write(&p, g_in, sizeof(g_in));
  CHECK(n == (ssize_t)(ION_VNET_HDR_LEN + g_pklen[15]));
  CHECK(!memcmp(g_in + ION_VNET_HDR_LEN, g_pk[15], g_pklen[15]));
  CHECK(take_write(&p, g_in, sizeof(g_in)) < 0); /* nothing else */
  CHECK(p.f->stats[ION_FS_COALESCED] == 2);
  CHECK(p.f->stats[ION_FS_COALESCED_PKTS] == 15);
  CHECK(p.f->stats[ION_FS_PKTS_OUT] == 16);
  st = PASS;
out:
  vclose(&p);
  return st;
}

/* A coalesced write refused (injected EINVAL, or EMSGSIZE from a small
 * socket buffer: too big to send whole): TCP coalescing goes off, each
 * packet is written alone, byte for byte as pushed (the first one
 * restored), each descriptor gets its length. */
static int write_refused(bool inject) {
  int st = FAIL;
  vfix p;
  int rc = vopen(&p, 65536, 8, ION_GRO_TCP | ION_GRO_UDP, inject ? 0 : 4096);
  if (rc == 1) return SKIP;
  CHECK(rc == 0);
  if (inject) ion_tun_vnet_test_refuse(p.f, 1);
  build_flow(spec_default(0, 6), 12, 1000, 0);
  for (uint32_t k = 0; k < 12; k++)
    push_write(&p, 16 + k * 2048, g_pk[k], (uint32_t)g_pklen[k]);
  uint32_t got = 0;
  ion_file_flush(p.f);
  /* Bounded: the peer drains what the small buffer holds each round. */
  for (int round = 0; round < 400 && got < 12; round++) {
    pump(&p);
    ssize_t n;
    while ((n = take_write(&p, g_in, sizeof(g_in))) > 0) {
      CHECKF(n == (ssize_t)(ION_VNET_HDR_LEN + g_pklen[got]), "write %u: %zd",
             got, n);
      CHECK(!memcmp(g_in, (uint8_t[ION_VNET_HDR_LEN]){0}, ION_VNET_HDR_LEN));
      CHECKF(!memcmp(g_in + ION_VNET_HDR_LEN, g_pk[got], g_pklen[got]),
             "packet %u differs at %zu", got,
             first_diff(g_in + ION_VNET_HDR_LEN, g_pk[got], g_pklen[got]));
      got++;
    }
    if (p.ring && got < 12) {
      struct pollfd pf = {.fd = p.rx.efd, .events = POLLIN};
      poll(&pf, 1, 10);
    }
  }
  CHECKF(got == 12, "%u writes", got);
  flush_all(&p);
  CHECK(p.o->sdone == 12);
  for (uint32_t k = 0; k < 12; k++)
    CHECK(qdesc(&p, k)[ION_Q_RES] == (int32_t)g_pklen[k]);
  CHECK(p.f->stats[ION_FS_OFFLOAD_FALLBACKS] == 1);
  CHECK(ion_file_gro(p.f) == ION_GRO_UDP);
  st = PASS;
out:
  vclose(&p);
  return st;
}

static int t_write_refused_emsgsize(void) {
  return write_refused(false); /* poll only (table): the ring has the inject one */
}
static int t_write_refused_injected(void) { return write_refused(true); }

/* Native producers: ion_file_window_next reserves the header room itself
 * (the packet 16-byte aligned, its descriptor naming the packet), and
 * ion_file_write_headroom says how much; writes leave coalesced. A
 * descriptor without room in front of its packet fails alone. */
static int t_window_headroom(void) {
  int st = FAIL;
  vfix p;
  int rc = vopen(&p, 65536, 8, ION_GRO_TCP, 0);
  if (rc == 1) return SKIP;
  CHECK(rc == 0);
  CHECK(ion_file_write_headroom(p.f) == ION_FILE_HEADROOM);
  build_flow(spec_default(1, 6), 6, 1200, 0);
  /* A bad descriptor first: its packet at the very start of qdata. */
  push_write(&p, 0, g_pk[0], (uint32_t)g_pklen[0]);
  ion_dring_window w;
  CHECK(ion_file_window_open(p.f, &w, 1, 8, p.lay.qdata + 4096, 65536) == 0);
  for (uint32_t k = 0; k < 6; k++) {
    uint8_t *dst = ion_file_window_next(p.f, &w, (uint32_t)g_pklen[k]);
    CHECK(dst && ((uintptr_t)(dst - p.mem) & 15) == 0);
    int32_t *d = qdesc(&p, 1 + k);
    CHECK(d[ION_Q_OFF] == (int32_t)(dst - p.mem));
    CHECK(d[ION_Q_LEN] == (int32_t)g_pklen[k]);
    CHECK(dst - ION_FILE_HEADROOM >= p.mem + p.lay.qdata + 4096);
    memcpy(dst, g_pk[k], g_pklen[k]);
  }
  p.pushed = 7;
  p.ctrl[ION_C_STAIL] = 7; /* what commitWindow does */
  flush_all(&p);
  CHECK(p.o->sdone == 7);
  CHECK(qdesc(&p, 0)[ION_Q_RES] == -EFAULT);
  for (uint32_t k = 0; k < 6; k++)
    CHECK(qdesc(&p, 1 + k)[ION_Q_RES] == (int32_t)g_pklen[k]);
  int all[6] = {0, 1, 2, 3, 4, 5};
  ssize_t n = take_write(&p, g_in, sizeof(g_in));
  CHECK(n > 0 && g_in[1] == ION_VNET_GSO_TCPV6 && write_holds(g_in, (size_t)n, all, 6));
  CHECK(p.f->stats[ION_FS_WRITE_ERRORS] == 1);
  st = PASS;
out:
  vclose(&p);
  return st;
}

/* Close with writes planned but not sent (the peer's queue is full, poll
 * backend): each gets ECANCELED once, and the frontier reaches the tail. */
static int t_close_pending(void) {
  /* poll only (table): the ring waits in the kernel instead */
  int st = FAIL;
  vfix p;
  int rc = vopen(&p, 65536, 8, 0, 4096);
  CHECK(rc == 0);
  struct spec s = spec_default(0, 17);
  s.plen = 1200;
  g_pklen[0] = build_pkt(g_pk[0], &s, 0);
  for (uint32_t k = 0; k < 40; k++)
    push_write(&p, 16 + k * 2048, g_pk[0], (uint32_t)g_pklen[0]);
  ion_file_flush(p.f);
  CHECK(p.f->want_write && p.o->sdone < 40);
  uint32_t done = p.o->sdone;
  ion_file_close(p.f);
  CHECK(p.o->sdone == 40);
  for (uint32_t k = 0; k < 40; k++)
    CHECK(qdesc(&p, k)[ION_Q_RES] == (k < done ? (int32_t)g_pklen[0] : -ECANCELED));
  st = PASS;
out:
  vclose(&p);
  return st;
}

/* A plain packet from the "kernel" (no offload in its virtio header). */
static bool send_plain(vfix *p) {
  struct spec o = spec_default(0, 17);
  o.plen = 10;
  o.dport = 9;
  memset(g_in, 0, ION_VNET_HDR_LEN);
  size_t l = ION_VNET_HDR_LEN + build_pkt(g_in + ION_VNET_HDR_LEN, &o, 0);
  return send(p->peer, g_in, l, 0) == (ssize_t)l;
}

/* Pump as the addon does (dispatch between reaps: re-arms happen there)
 * until one packet is in the batch; it must be the plain one. */
static bool got_plain(vfix *p) {
  for (int i = 0; i < 200 && p->o->rcount == 0; i++) {
    pump(p);
    if (p->o->rcount) break;
    dispatch(p);
    struct pollfd pf = {.fd = p->rx.efd, .events = POLLIN};
    poll(&pf, 1, 10);
  }
  uint8_t *d;
  uint32_t len;
  bool ok = p->o->rcount == 1 && ion_file_batch_get(p->f, 0, &d, &len) == 0 &&
            ref_packet_ok(d, len) && d[9] == 17;
  dispatch(p);
  return ok;
}

/* After dropped completions (EBADR), a TUN reader whose multishot read
 * ended without its final CQE would never read again: the reactor's
 * check finds the read gone and it is re-armed (ring only). */
static int t_lost_multishot_rearmed(void) {
  int st = FAIL;
  vfix p;
  int rc = vopen(&p, 65536, 8, 0, 0);
  if (rc == 1) return SKIP;
  CHECK(rc == 0 && ion_file_start(p.f) == 0);
  CHECK(send_plain(&p) && got_plain(&p)); /* multishot reads work here */
  CHECK(p.f->multishot && p.f->ms_armed && p.o->inflight == 1);
  /* Kill the read behind the object's back and swallow both CQEs, as
   * if the kernel had dropped its final one. */
  struct ion_sqe *sqe = ion_ring_get_sqe(&p.rx.ring);
  CHECK(sqe);
  ion_prep_cancel_ud(sqe, ION_UD(p.o->id, K_READ_MULTI, 0), ~0ull);
  CHECK(ion_ring_submit(&p.rx.ring, 0, true) >= 0);
  struct ion_cqe *c[8];
  unsigned seen = 0;
  for (int i = 0; i < 200 && seen < 2; i++) {
    unsigned n = ion_ring_peek_cqes(&p.rx.ring, c, 8);
    seen += n;
    ion_ring_cq_advance(&p.rx.ring, n);
    if (seen < 2) ion_ring_submit(&p.rx.ring, 0, true);
  }
  CHECK(seen == 2 && p.f->ms_armed && p.o->inflight == 1);
  CHECK(send_plain(&p));
  p.rx.ring.inject_err = -EBADR;
  p.rx.ring.inject_n = 1;
  CHECK(ion_reactor_submit(&p.rx, true) == -EBADR && p.rx.cqes_lost);
  CHECK(got_plain(&p));
  CHECK(p.rx.rearms_after_loss == 1);
  /* Nothing is left counted in flight: the close finishes. */
  ion_file_close(p.f);
  for (int i = 0; i < 200 && !p.o->finalized; i++) pump(&p);
  CHECK(p.o->finalized);
  st = PASS;
out:
  vclose(&p);
  return st;
}

int main(void) {
  static const struct {
    const char *name;
    int (*fn)(void);
    bool poll_only; /* the ring has no such case (see the test) */
    bool ring_only; /* the poll backend has no such case */
  } tests[] = {
      {"reads split into plain packets, in order", t_read_split, false, false},
      {"reads kept for the next batch when the split area is full",
       t_read_deferred, false, false},
      {"writes coalesced per flow, one result per packet", t_write_coalesce, false, false},
      {"a refused coalesced write (EMSGSIZE) is re-sent packet by packet",
       t_write_refused_emsgsize, true, false},
      {"an injected refusal is re-sent packet by packet",
       t_write_refused_injected, false, false},
      {"window writes get the header room; a descriptor without fails",
       t_window_headroom, false, false},
      {"close fails planned writes once", t_close_pending, true, false},
      {"a multishot read whose end was lost is re-armed",
       t_lost_multishot_rearmed, false, true},
  };
  enum { N = sizeof(tests) / sizeof(tests[0]) };
  int failed = 0, n = 0;
  for (g_ring = 0; g_ring < 2; g_ring++) {
    for (int i = 0; i < N; i++) {
      /* Not registered where it does not apply (no skip to explain). */
      if (g_ring ? tests[i].poll_only : tests[i].ring_only) continue;
      g_why[0] = 0;
      int r = tests[i].fn();
      n++;
      const char *be = g_ring ? "ring" : "poll";
      if (r == PASS)
        printf("ok %d - %s (%s)\n", n, tests[i].name, be);
      else if (r == SKIP)
        printf("ok %d - %s (%s) # SKIP %s\n", n, tests[i].name, be,
               g_ring_skip[0] ? g_ring_skip : "not for this backend");
      else {
        printf("not ok %d - %s (%s): %s\n", n, tests[i].name, be, g_why);
        failed++;
      }
    }
  }
  printf("1..%d\n%d failed\n", n, failed);
  return failed ? 1 : 0;
}
