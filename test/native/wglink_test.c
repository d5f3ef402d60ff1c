/*
 * Native tests of the WireGuard device's data path between the objects
 * (src/native/wglink): TUN packets sealed into a window of a UDP socket's
 * send ring, UDP datagrams opened in place and copied into a window of a
 * TUN device's write ring, chunking to the window, staging when there is
 * none, refusal of indices and windows that do not match, and the device
 * calls the timers use (one keypair dropped, the staged queue cleared).
 *
 * No Node and no ring: a ring-less reactor as after a refused io_uring
 * setup, a TUN object on the poll backend over an AF_UNIX datagram
 * socketpair (it keeps packet boundaries, as a TUN queue does), and a UDP
 * object on the mmsg backend bound to 127.0.0.1. The test plays JS (opens
 * windows at the published tail, commits them by moving the tail) and the
 * addon (calls the poll callbacks). The WireGuard devices are wg_pair.h's
 * A and B, whose keys mirror each other. Never skips.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "file/file.h"
#include "udp/udp_internal.h"
#include "wg_pair.h"
#include "wglink/wg_link.h"

static const uint8_t LOOPBACK[4] = {127, 0, 0, 1};

typedef struct lfix {
  ion_reactor rx;
  /* the TUN object and the "kernel side" of its socketpair */
  ion_file_config fcfg;
  ion_file_layout flay;
  ion_file *f;
  ion_mem *fblock;
  uint8_t *fmem;
  int32_t *fctrl;
  int tun_peer;
  /* the UDP object and a plain socket talking to it */
  ion_udp_config ucfg;
  ion_udp_layout ulay;
  ion_udp *u;
  ion_mem *ublock;
  uint8_t *umem;
  int32_t *uctrl;
  int uport;
  int peer;
  struct sockaddr_in peer_addr;
  pair pr;
  wg_link_scratch scratch;
} lfix;

static int open_tun(lfix *l) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
    return -errno;
  l->tun_peer = sv[1];
  l->fcfg = (ion_file_config){.kind = ION_FILE_TUN, .rslots = 8, .rslot = 2048,
                              .qslots = 8, .qdata_len = 1 << 16,
                              .max_packet = 2000,
                              .backend = ION_FILE_BACKEND_POLL};
  int rc = ion_file_layout_of(&l->fcfg, &l->flay);
  if (rc == 0) rc = ion_file_create(&l->rx, &l->fcfg, sv[0], &l->f);
  if (rc < 0) {
    close(sv[0]);
    return rc;
  }
  l->fblock = ion_file_mem(l->f);
  ion_mem_ref(l->fblock);
  l->fmem = l->fblock->base;
  l->fctrl = (int32_t *)(l->fmem + l->flay.ctrl);
  return ion_file_start(l->f);
}

static int open_udp(lfix *l) {
  l->ucfg = (ion_udp_config){.family = 4, .rslots = 8, .rslot = 2048,
                             .sslots = 8, .sdata_len = 1 << 16,
                             .backend = ION_BACKEND_MMSG};
  int rc = ion_udp_layout_of(&l->ucfg, &l->ulay);
  if (rc < 0) return rc;
  if ((rc = ion_udp_create(&l->rx, &l->ucfg, &l->u)) < 0) return l->u = NULL, rc;
  l->ublock = ion_udp_mem(l->u);
  ion_mem_ref(l->ublock);
  l->umem = l->ublock->base;
  l->uctrl = (int32_t *)(l->umem + l->ulay.ctrl);
  l->u->obj.poll = &ion_mmsg_poll_ops; /* as the addon does */
  if ((rc = ion_udp_bind(l->u, 4, LOOPBACK, 0, 0, 0)) < 0) return rc;
  int32_t w[ION_M_WORDS];
  if ((rc = ion_udp_name(l->u, 0, w)) < 0) return rc;
  l->uport = w[ION_M_PORT];
  if ((l->peer = udp_bound(&l->peer_addr)) < 0) return -errno;
  return ion_udp_start(l->u);
}

static int lfix_open(lfix *l) {
  memset(l, 0, sizeof(*l));
  l->tun_peer = l->peer = -1;
  l->rx.ring.fd = -1;
  l->rx.efd = -1;
  l->rx.ring_err = -EPERM;
  int rc = open_tun(l);
  if (rc == 0) rc = open_udp(l);
  if (rc == 0) rc = pair_open(&l->pr, 1420, 4, true);
  return rc;
}

static void lfix_close(lfix *l) {
  if (l->f) ion_file_close(l->f);
  if (l->u) ion_udp_close(l->u);
  ion_reactor_shutdown(&l->rx);
  ion_reactor_destroy(&l->rx);
  ion_mem_unref(l->fblock);
  ion_mem_unref(l->ublock);
  if (l->tun_peer >= 0) close(l->tun_peer);
  if (l->peer >= 0) close(l->peer);
  pair_close(&l->pr);
  wg_link_scratch_free(&l->scratch);
}

/* The addon's part around a JS call: hand events over, let objects recycle. */
static void dispatch(lfix *l) {
  int32_t e[16 * ION_E_WORDS];
  uint32_t n = l->rx.queue_n < 16 ? l->rx.queue_n : 16;
  ion_reactor_entries(&l->rx, n, e);
  ion_reactor_after_dispatch(&l->rx, n);
}

static int32_t *sdesc(lfix *l, uint32_t seq) {
  return (int32_t *)(l->umem + l->ulay.sdesc) + (seq & 7) * ION_M_WORDS;
}

static int32_t *qdesc(lfix *l, uint32_t seq) {
  return (int32_t *)(l->fmem + l->flay.qdesc) + (seq & 7) * ION_Q_WORDS;
}

/* n IPv4 packets 10.0.0.1 -> 10.0.0.2 of payload + 20 bytes, into the TUN
 * read batch. */
static bool tun_batch(lfix *l, uint32_t n, uint32_t payload) {
  uint8_t pkt[1600];
  for (uint32_t i = 0; i < n; i++) {
    uint32_t len = ip4_pkt(pkt, 1, 2, payload, 100 + i);
    if (send(l->tun_peer, pkt, len, 0) != (ssize_t)len) return false;
  }
  ion_file_obj(l->f)->poll->readable(ion_file_obj(l->f));
  return ion_file_obj(l->f)->rcount == n;
}

/* Decrypt the sealed messages of UDP descriptors [from, to) on B: each is
 * 16-byte aligned, addressed to A's endpoint of B, and opens to packet i. */
static bool check_sealed(lfix *l, uint32_t from, uint32_t to,
                         uint32_t payload) {
  wg_datagram dg[8];
  wg_endpoint src = ep4(1, 51820);
  for (uint32_t s = from; s < to; s++) {
    const int32_t *d = sdesc(l, s);
    if (d[ION_M_OFF] % 16 || d[ION_M_FAMILY] != 4 || d[ION_M_PORT] != 51820)
      return false;
    if (memcmp(&d[ION_M_ADDR], ep4(2, 51820).addr, 4) != 0) return false;
    dg[s - from] = (wg_datagram){l->umem + d[ION_M_OFF], (uint32_t)d[ION_M_LEN], src};
  }
  wg_rx_result res;
  if (recv_dgs(&l->pr, l->pr.b, dg, to - from, T0, &res) < 0) return false;
  if (res.delivered != to - from) return false;
  for (uint32_t i = 0; i < to - from; i++) {
    const rx_pkt *p = &l->pr.rx->pkts[i];
    if (p->len != 20 + payload || !same(p->data + 20, payload, 100 + from + i))
      return false;
  }
  return true;
}

/* B is the responder: it sends only once A's first packet confirmed its
 * keys (as after a real handshake). */
static bool confirm_b(lfix *l) {
  uint8_t p[1][1600];
  uint32_t len = ip4_pkt(p[0], 1, 2, 10, 1);
  wg_tx_result tx;
  wg_rx_result rx;
  return send_pkts(&l->pr, l->pr.a, p, &len, 1, T0, &tx) == 0 &&
         recv_all(&l->pr, l->pr.b, ep4(1, 51820), T0, &rx) == 0 &&
         rx.delivered == 1;
}

/* Seal a TUN batch straight into the UDP send window. */
static int t_seal(void) {
  int st = FAIL;
  lfix l;
  CHECK(lfix_open(&l) == 0);
  CHECK(tun_batch(&l, 3, 100));
  ion_dring_window w;
  CHECK(ion_udp_window_open(l.u, &w, 0, 8, l.ulay.sdata, 4096) == 0);
  wg_link_tx t;
  CHECK(wg_link_seal(l.pr.a, l.f, 0, 3, l.u, &w, T0, &l.scratch, &t) == 0);
  CHECKF(t.next == 3 && t.used == 3 && t.res.sent == 3 && !t.res.sink_full,
         "next=%u used=%u sent=%u", t.next, t.used, t.res.sent);
  CHECK(check_sealed(&l, 0, 3, 100));
  /* Equal sizes, one endpoint: what the flush turns into one GSO send. */
  CHECK(sdesc(&l, 0)[ION_M_LEN] == sdesc(&l, 2)[ION_M_LEN]);
  st = PASS;
out:
  lfix_close(&l);
  return st;
}

/* A window too small for the batch: the call takes what fits and says
 * where to go on; with no window the rest is staged; a flush into the next
 * window (after JS committed the first) sends it in order. */
static int t_seal_chunks(void) {
  int st = FAIL;
  lfix l;
  CHECK(lfix_open(&l) == 0);
  CHECK(tun_batch(&l, 5, 200));
  ion_dring_window w;
  wg_link_tx t;
  CHECK(ion_udp_window_open(l.u, &w, 0, 2, l.ulay.sdata, 4096) == 0);
  CHECK(wg_link_seal(l.pr.a, l.f, 0, 5, l.u, &w, T0, &l.scratch, &t) == 0);
  CHECKF(t.next == 2 && t.used == 2 && t.res.sent == 2, "next=%u used=%u", t.next, t.used);
  l.uctrl[ION_C_STAIL] = 2; /* commitWindow */
  CHECK(wg_link_seal(l.pr.a, l.f, 2, 5, l.u, NULL, T0, &l.scratch, &t) == 0);
  CHECKF(t.next == 5 && t.used == 0 && t.res.staged == 3, "staged=%u", t.res.staged);
  CHECK(wg_device_staged_peers(l.pr.a) == 1);
  /* One byte of window is not enough for anything: still progress (staged). */
  CHECK(ion_udp_window_open(l.u, &w, 2, 6, l.ulay.sdata + 4096, 1) == 0);
  CHECK(wg_link_flush(l.pr.a, l.u, &w, T0, &t) == 0);
  CHECK(t.used == 0 && t.res.sink_full);
  CHECK(ion_udp_window_open(l.u, &w, 2, 6, l.ulay.sdata + 4096, 8192) == 0);
  CHECK(wg_link_flush(l.pr.a, l.u, &w, T0, &t) == 0);
  CHECKF(t.used == 3 && t.res.sent == 3 && !t.res.sink_full, "used=%u", t.used);
  CHECK(wg_device_staged_peers(l.pr.a) == 0);
  CHECK(check_sealed(&l, 0, 5, 200));
  st = PASS;
out:
  lfix_close(&l);
  return st;
}

/* Datagrams from B reach the UDP object; A opens them into the TUN write
 * window behind `headroom` zero bytes; the handshake message is left for
 * JS; the forged one is dropped; the flush writes exactly the plaintext. */
static int t_open(void) {
  int st = FAIL;
  lfix l;
  CHECK(lfix_open(&l) == 0);
  CHECK(confirm_b(&l));
  uint8_t pkts[2][1600];
  uint32_t lens[2] = {ip4_pkt(pkts[0], 2, 1, 300, 7), ip4_pkt(pkts[1], 2, 1, 40, 8)};
  wg_tx_result tx;
  CHECK(send_pkts(&l.pr, l.pr.b, pkts, lens, 2, T0, &tx) == 0 && tx.sent == 2);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)l.uport)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  uint8_t hs[148] = {1}, forged[64];
  memcpy(forged, tx_data(l.pr.tx, 1), sizeof(forged));
  forged[40] ^= 1;
  const uint8_t *dgs[4] = {tx_data(l.pr.tx, 0), hs, forged, tx_data(l.pr.tx, 1)};
  size_t dlen[4] = {l.pr.tx->msgs[0].len, sizeof(hs), sizeof(forged), l.pr.tx->msgs[1].len};
  for (int i = 0; i < 4; i++)
    CHECK(sendto(l.peer, dgs[i], dlen[i], 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)dlen[i]);
  for (int i = 0; i < 200 && l.u->obj.rcount < 4; i++) {
    ion_mmsg_on_readable(l.u);
    if (l.u->obj.rcount < 4) sleep_ms(1);
  }
  CHECK(l.u->obj.rcount == 4);
  ion_dring_window w;
  CHECK(ion_file_window_open(l.f, &w, 0, 8, l.flay.qdata, 8192) == 0);
  int32_t hsidx[4] = {-1, -1, -1, -1};
  wg_link_rx r;
  CHECK(wg_link_open(l.pr.a, l.u, 0, 4, l.f, &w, 10, T0, &l.scratch, hsidx, 4, &r) == 0);
  CHECKF(r.next == 4 && r.used == 2 && r.res.delivered == 2 && r.nhs == 1 &&
             hsidx[0] == 1 && r.res.dropped == 1,
         "next=%u used=%u delivered=%u nhs=%u dropped=%u", r.next, r.used,
         r.res.delivered, r.nhs, r.res.dropped);
  CHECK(drops_of(l.pr.a, WG_DROP_AUTH) == 1);
  for (int i = 0; i < 2; i++) {
    const int32_t *d = qdesc(&l, (uint32_t)i);
    const uint8_t *p = l.fmem + d[ION_Q_OFF];
    static const uint8_t zero[10];
    CHECK(d[ION_Q_OFF] % 16 == 0 && d[ION_Q_LEN] == (int32_t)(10 + lens[i]));
    CHECK(memcmp(p, zero, 10) == 0 && memcmp(p + 10, pkts[i], lens[i]) == 0);
  }
  /* The endpoint followed the authenticated packets: 127.0.0.1:peer port. */
  wg_peer_stats ps;
  CHECK(wg_device_peer_stats(l.pr.a, B_PEER, &ps) == 0);
  CHECK(ps.endpoint.family == AF_INET && ps.endpoint.port == ntohs(l.peer_addr.sin_port));
  l.fctrl[ION_C_STAIL] = 2; /* commitWindow, then the flush writes them */
  ion_file_flush(l.f);
  uint8_t in[2048];
  CHECK(recv(l.tun_peer, in, sizeof(in), 0) == (ssize_t)(10 + lens[0]));
  CHECK(memcmp(in + 10, pkts[0], lens[0]) == 0);
  dispatch(&l);
  st = PASS;
out:
  lfix_close(&l);
  return st;
}

/* No TUN window (the ring is full or the device is gone): every datagram
 * is still authenticated and counted, the plaintext dropped as "sink". */
static int t_open_no_window(void) {
  int st = FAIL;
  lfix l;
  CHECK(lfix_open(&l) == 0);
  CHECK(confirm_b(&l));
  uint8_t pkts[1][1600];
  uint32_t lens[1] = {ip4_pkt(pkts[0], 2, 1, 64, 9)};
  wg_tx_result tx;
  CHECK(send_pkts(&l.pr, l.pr.b, pkts, lens, 1, T0, &tx) == 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)l.uport)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(sendto(l.peer, tx_data(l.pr.tx, 0), l.pr.tx->msgs[0].len, 0, (struct sockaddr *)&to, sizeof(to)) > 0);
  for (int i = 0; i < 200 && l.u->obj.rcount < 1; i++) {
    ion_mmsg_on_readable(l.u);
    if (!l.u->obj.rcount) sleep_ms(1);
  }
  wg_link_rx r;
  CHECK(wg_link_open(l.pr.a, l.u, 0, 1, NULL, NULL, 0, T0, &l.scratch, NULL, 0, &r) == 0);
  CHECK(r.next == 1 && r.used == 0 && r.res.delivered == 0 && r.res.dropped == 1);
  CHECK(drops_of(l.pr.a, WG_DROP_SINK) == 1);
  st = PASS;
out:
  lfix_close(&l);
  return st;
}

/* Indices past the batch, a start past the count, a tampered batch entry,
 * a headroom too large: -EINVAL, nothing written. */
static int t_refusals(void) {
  int st = FAIL;
  lfix l;
  CHECK(lfix_open(&l) == 0);
  CHECK(tun_batch(&l, 2, 50));
  ion_dring_window w;
  wg_link_tx t;
  wg_link_rx r;
  CHECK(ion_udp_window_open(l.u, &w, 0, 8, l.ulay.sdata, 4096) == 0);
  CHECK(wg_link_seal(l.pr.a, l.f, 0, 3, l.u, &w, T0, &l.scratch, &t) == -EINVAL);
  CHECK(wg_link_seal(l.pr.a, l.f, 3, 2, l.u, &w, T0, &l.scratch, &t) == -EINVAL);
  int32_t *m = (int32_t *)(l.fmem + l.flay.rmeta) + ION_R_WORDS;
  m[ION_R_OFF] = (int32_t)l.flay.qdata; /* JS wrote there: not the read pool */
  CHECK(wg_link_seal(l.pr.a, l.f, 0, 2, l.u, &w, T0, &l.scratch, &t) == -EINVAL);
  CHECK(w.used == 0 && l.uctrl[ION_C_STAIL] == 0);
  CHECK(wg_link_open(l.pr.a, l.u, 0, 1, l.f, NULL, 0, T0, &l.scratch, NULL, 0, &r) == -EINVAL); /* no UDP batch */
  CHECK(wg_link_open(l.pr.a, l.u, 0, 0, l.f, NULL, WG_LINK_MAX_HEADROOM + 1, T0, &l.scratch, NULL, 0, &r) == -EINVAL);
  st = PASS;
out:
  lfix_close(&l);
  return st;
}

/* What the device's timers use: one expired keypair dropped (its index
 * freed, the others kept), and the staged queue emptied on giving up. */
static int t_timer_calls(void) {
  int st = FAIL;
  pair pr;
  CHECK(pair_open(&pr, 1420, 4, true) == 0);
  CHECK(pair_keys(&pr, 1, 0x3333, 0x4444, T0 + 1) == 0); /* A: current, previous */
  CHECK(wg_device_drop_keypair(pr.a, B_PEER, 0x1111) == 0);
  CHECK(!wg_device_index_in_use(pr.a, 0x1111) && wg_device_index_in_use(pr.a, 0x3333));
  CHECK(wg_device_drop_keypair(pr.a, B_PEER, 0x1111) == -ENOENT);
  CHECK(wg_device_drop_keypair(pr.a, 99, 0x3333) == -ENOENT);
  wg_peer_stats ps;
  CHECK(wg_device_peer_stats(pr.a, B_PEER, &ps) == 0 && ps.has_current && !ps.has_previous);
  CHECK(wg_device_drop_keypair(pr.a, B_PEER, 0x3333) == 0);
  /* No keys: packets are staged; clearing drops them all. */
  uint8_t pkts[3][1600];
  uint32_t lens[3];
  for (int i = 0; i < 3; i++) lens[i] = ip4_pkt(pkts[i], 1, 2, 30, (unsigned)i);
  wg_tx_result tx;
  CHECK(send_pkts(&pr, pr.a, pkts, lens, 3, T0, &tx) == 0 && tx.staged == 3);
  CHECK(wg_device_staged_peers(pr.a) == 1);
  CHECK(wg_device_clear_staged(pr.a, B_PEER) == 3);
  CHECK(wg_device_staged_peers(pr.a) == 0);
  CHECK(wg_device_peer_stats(pr.a, B_PEER, &ps) == 0 && ps.staged == 0);
  CHECK(wg_device_clear_staged(pr.a, 99) == -ENOENT);
  st = PASS;
out:
  pair_close(&pr);
  return st;
}

int main(void) {
  static const test_case tests[] = {
      {"seal a TUN batch into a UDP send window", t_seal},
      {"seal in chunks: window, none (staged), flush", t_seal_chunks},
      {"open UDP datagrams into a TUN write window with headroom", t_open},
      {"open with no TUN window: authenticated, counted, dropped", t_open_no_window},
      {"refuse bad indices, entries and headroom", t_refusals},
      {"drop one keypair, clear the staged queue", t_timer_calls},
  };
  return run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
