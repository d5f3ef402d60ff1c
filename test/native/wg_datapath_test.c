/* The WireGuard batch data path between two devices with mirrored keys
 * (wg_pair.h): round trips with padding, keepalives, every drop reason,
 * staging and its flush, grouping per peer, a full sink. Keypair rotation
 * and the clock are in wg_keys_test.c. */
#include "wg_pair.h"

static uint8_t pk[64][1600];
static uint32_t lens[64];

static uint32_t padded(uint32_t len, uint32_t mtu) {
  uint32_t p = (len + 15) & ~15u;
  return p > mtu ? (len > mtu ? len : mtu) : p;
}

/* A -> B: IPv4 and IPv6 of many sizes arrive intact, padded on the wire to
 * 16 but not past the MTU, with counters 0.. and B's receiver index; the
 * first packet confirms B's next keypair and B's endpoint follows it. */
static int t_roundtrip(void) {
  int st = FAIL;
  pair pr;
  wg_tx_result tr;
  wg_rx_result rr;
  wg_peer_summary sa, sb;
  wg_peer_stats ps;
  static const uint32_t sizes[] = {0, 1, 15, 16, 17, 100, 1000, 1380, 1395, 1400, 1410};
  uint32_t n = 0, mtu = 1420;
  CHECK(pair_open(&pr, mtu, 0, true) == 0);
  for (uint32_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    lens[n] = ip4_pkt(pk[n], 1, 2, sizes[i], n), n++;
    lens[n] = ip6_pkt(pk[n], 1, 2, sizes[i], n), n++;
  }
  CHECK(send_pkts(&pr, pr.a, pk, lens, n, T0, &tr) == 0);
  CHECKF(tr.sent == n && tr.staged == 0 && tr.dropped == 0, "sent %u", tr.sent);
  for (uint32_t i = 0; i < n; i++) {
    uint8_t *m = tx_data(pr.tx, i);
    CHECKF(pr.tx->msgs[i].len == 32 + padded(lens[i], mtu), "msg %u len %u", i,
           pr.tx->msgs[i].len);
    CHECK(pr.tx->msgs[i].peer == B_PEER && pr.tx->msgs[i].ep.port == 51820);
    CHECK(m[0] == 4 && m[1] == 0 && m[2] == 0 && m[3] == 0);
    CHECK(m[4] == 0x22 && m[5] == 0x22 && m[6] == 0 && m[7] == 0);
    CHECK(m[8] == i && m[9] == 0 && m[15] == 0); /* counter, little-endian */
    CHECK(memcmp(m + 16, pk[i], 20) != 0);       /* not in the clear */
  }
  CHECK(summary_of(pr.a, B_PEER, &sa));
  CHECK(sa.flags == (WG_PEER_DATA_SENT | WG_PEER_AUTH_SENT));
  CHECK(sa.tx_packets == n && sa.tx_bytes == pr.tx->used && sa.rx_packets == 0);

  wg_endpoint roamed = ep4(99, 4000);
  CHECK(recv_all(&pr, pr.b, roamed, T0, &rr) == 0);
  CHECKF(rr.delivered == n && rr.dropped == 0, "delivered %u", rr.delivered);
  for (uint32_t i = 0; i < n; i++) {
    CHECK(pr.rx->pkts[i].peer == A_PEER && pr.rx->pkts[i].len == lens[i]);
    CHECKF(memcmp(pr.rx->pkts[i].data, pk[i], lens[i]) == 0, "packet %u", i);
  }
  CHECK(summary_of(pr.b, A_PEER, &sb));
  CHECKF(sb.flags == (WG_PEER_DATA_RECEIVED | WG_PEER_AUTH_RECEIVED |
                      WG_PEER_KEYPAIR_CONFIRMED | WG_PEER_ENDPOINT_CHANGED |
                      WG_PEER_KEEPALIVE_WANTED),
         "flags %#x", sb.flags);
  CHECK(sb.rx_packets == n && sb.rx_bytes == pr.tx->used);
  CHECK(wg_device_peer_stats(pr.b, A_PEER, &ps) == 0);
  CHECK(ps.has_current && !ps.has_next && !ps.has_previous);
  CHECK(ps.endpoint.port == 4000 && ps.endpoint.addr[3] == 99);
  CHECK(ps.last_rx_ns == T0 && ps.rx_bytes == pr.tx->used);

  /* And back: B sends under the confirmed keypair, to the roamed endpoint. */
  lens[0] = ip4_pkt(pk[0], 2, 1, 500, 77);
  CHECK(send_pkts(&pr, pr.b, pk, lens, 1, T0, &tr) == 0 && tr.sent == 1);
  CHECK(pr.tx->msgs[0].ep.port == 4000);
  CHECK(recv_all(&pr, pr.a, ep4(2, 51820), T0, &rr) == 0 && rr.delivered == 1);
  CHECK(memcmp(pr.rx->pkts[0].data, pk[0], lens[0]) == 0);
  st = PASS;
out:
  pair_close(&pr);
  return st;
}

/* Keepalives: owed after data came in, 32 bytes, counted as such. */
static int t_keepalive(void) {
  int st = FAIL;
  pair pr;
  wg_tx_result tr;
  wg_rx_result rr;
  wg_peer_summary s;
  wg_tx_sink sink;
  CHECK(pair_open(&pr, 1420, 0, true) == 0);
  sink = tx_sink(pr.tx);
  lens[0] = ip4_pkt(pk[0], 1, 2, 64, 1);
  CHECK(send_pkts(&pr, pr.a, pk, lens, 1, T0, &tr) == 0 && tr.sent == 1);
  summary_of(pr.a, B_PEER, &s);
  CHECK(recv_all(&pr, pr.b, ep4(1, 51820), T0, &rr) == 0 && rr.delivered == 1);
  summary_of(pr.b, A_PEER, &s);
  CHECK(s.flags & WG_PEER_KEEPALIVE_WANTED);
  /* A owes nothing (it received nothing). */
  tx_reset(pr.tx);
  CHECK(wg_send_keepalive(pr.a, B_PEER, &sink, T0, true) == 0 && pr.tx->n == 0);
  CHECK(wg_send_keepalive(pr.b, A_PEER, &sink, T0, true) == 1);
  CHECK(pr.tx->n == 1 && pr.tx->msgs[0].len == 32);
  CHECK(wg_send_keepalive(pr.b, A_PEER, &sink, T0, true) == 0); /* paid */
  summary_of(pr.b, A_PEER, &s);
  CHECK(s.flags == (WG_PEER_KEEPALIVE_SENT | WG_PEER_AUTH_SENT));
  CHECK(recv_all(&pr, pr.a, ep4(2, 51820), T0, &rr) == 0);
  CHECK(rr.keepalives == 1 && rr.delivered == 0 && rr.dropped == 0);
  summary_of(pr.a, B_PEER, &s);
  CHECK(s.flags == (WG_PEER_KEEPALIVE_RECEIVED | WG_PEER_AUTH_RECEIVED));
  tx_reset(pr.tx);
  CHECK(wg_send_keepalive(pr.a, B_PEER, &sink, T0, false) == 1);
  CHECK(wg_send_keepalive(pr.a, 99, &sink, T0, false) == -ENOENT);
  st = PASS;
out:
  pair_close(&pr);
  return st;
}

/* Every drop reason on the receive side, and that nothing unauthenticated
 * changes state: forged packets move neither the replay window nor the
 * endpoint, and never reach the sink. */
static int t_rx_drops(void) {
  int st = FAIL;
  pair pr;
  wg_tx_result tr;
  wg_rx_result rr;
  wg_peer_stats ps;
  wg_peer_summary s;
  static uint8_t c[8][1600];
  uint8_t hs[160] = {1}, hs2[160] = {2}, hs3[160] = {3};
  uint8_t bad_type[4] = {5, 0, 0, 0}, tiny[2] = {4, 0};
  CHECK(pair_open(&pr, 1420, 0, true) == 0);
  lens[0] = ip4_pkt(pk[0], 1, 2, 100, 0);
  lens[1] = ip4_pkt(pk[1], 99, 2, 100, 1); /* source B does not allow */
  lens[2] = ip4_pkt(pk[2], 1, 2, 100, 2);
  pk[2][2] = 0x13, pk[2][3] = 0x88; /* IPv4 total length 5000 > packet */
  lens[3] = ip4_pkt(pk[3], 1, 2, 100, 3);
  v4addr(pk[3] + 12, 10, 9, 1, 1); /* source in B's 10.9.0.0/16 for A */
  CHECK(send_pkts(&pr, pr.a, pk, lens, 4, T0, &tr) == 0 && tr.sent == 4);
  uint32_t l0 = pr.tx->msgs[0].len;
  for (int i = 0; i < 4; i++)
    memcpy(c[i], tx_data(pr.tx, i), pr.tx->msgs[i].len);
  memcpy(c[4], c[0], l0); /* a replay of message 0 */
  memcpy(c[5], c[0], l0); /* a flipped ciphertext bit */
  c[5][40] ^= 1;
  memcpy(c[6], c[0], l0); /* counter 50000: a forged jump ahead */
  c[6][9] = 0xC3, c[6][8] = 0x50;
  memcpy(c[7], c[0], l0); /* nobody's receiver index */
  c[7][4] = 0x99;
  wg_endpoint home = ep4(1, 51820), evil = ep4(66, 666);
  wg_datagram dg[] = {
      {c[6], l0, evil}, {c[5], l0, evil}, {c[0], l0, home}, {c[4], l0, home},
      {c[1], pr.tx->msgs[1].len, home}, {c[2], pr.tx->msgs[2].len, home},
      {c[3], pr.tx->msgs[3].len, home}, {c[7], l0, evil},
      {hs, 148, evil}, {hs2, 92, evil}, {hs3, 64, evil},
      {hs, 147, evil}, {c[0], 31, evil}, {bad_type, 4, evil},
      {tiny, 2, evil}, {NULL, 0, evil},
  };
  CHECK(recv_dgs(&pr, pr.b, dg, sizeof(dg) / sizeof(dg[0]), T0, &rr) == 0);
  CHECKF(rr.delivered == 2 && rr.handshakes == 3 && rr.dropped == 11,
         "delivered %u handshakes %u dropped %u", rr.delivered, rr.handshakes,
         rr.dropped);
  CHECK(memcmp(pr.rx->pkts[0].data, pk[0], lens[0]) == 0);
  CHECK(memcmp(pr.rx->pkts[1].data, pk[3], lens[3]) == 0);
  CHECK(pr.rx->nhs == 3 && pr.rx->hs_index[0] == 8 && pr.rx->hs_type[0] == 1);
  CHECK(pr.rx->hs_index[1] == 9 && pr.rx->hs_type[1] == 2);
  CHECK(pr.rx->hs_index[2] == 10 && pr.rx->hs_type[2] == 3);
  CHECK(drops_of(pr.b, WG_DROP_AUTH) == 2);
  CHECK(drops_of(pr.b, WG_DROP_REPLAY) == 1);
  CHECK(drops_of(pr.b, WG_DROP_SOURCE_NOT_ALLOWED) == 1);
  CHECK(drops_of(pr.b, WG_DROP_INNER_INVALID) == 1);
  CHECK(drops_of(pr.b, WG_DROP_UNKNOWN_INDEX) == 1);
  CHECK(drops_of(pr.b, WG_DROP_MALFORMED) == 5);
  CHECK(wg_device_peer_stats(pr.b, A_PEER, &ps) == 0);
  CHECK(ps.drops[WG_DROP_AUTH] == 2 && ps.drops[WG_DROP_REPLAY] == 1);
  CHECK(ps.drops[WG_DROP_MALFORMED] == 0 && ps.drops[WG_DROP_UNKNOWN_INDEX] == 0);
  CHECK(ps.endpoint.addr[3] == 1 && ps.endpoint.port == 51820);
  summary_of(pr.b, A_PEER, &s);
  CHECK(s.drops == 5 && !(s.flags & WG_PEER_ENDPOINT_CHANGED));

  /* A sink that refuses: counted, not delivered. */
  lens[0] = ip4_pkt(pk[0], 1, 2, 10, 9);
  CHECK(send_pkts(&pr, pr.a, pk, lens, 1, T0, &tr) == 0 && tr.sent == 1);
  memset(pr.rx, 0, sizeof(*pr.rx));
  pr.rx->refuse = true;
  wg_datagram one = {tx_data(pr.tx, 0), pr.tx->msgs[0].len, home};
  wg_rx_sink sink = rx_sink(pr.rx);
  CHECK(wg_decrypt_batch(pr.b, &one, 1, &sink, T0, &rr) == 0);
  CHECK(rr.delivered == 0 && drops_of(pr.b, WG_DROP_SINK) == 1);
  CHECK(wg_decrypt_batch(pr.b, NULL, 1, &sink, T0, &rr) == -EINVAL);
  st = PASS;
out:
  pair_close(&pr);
  return st;
}

/* Send-side drops: no route, not IP, too long, no endpoint. */
static int t_tx_drops(void) {
  int st = FAIL;
  pair pr;
  wg_tx_result tr;
  wg_peer_stats ps;
  CHECK(pair_open(&pr, 1420, 0, true) == 0);
  lens[0] = ip4_pkt(pk[0], 1, 77, 10, 0); /* 10.0.0.77: nobody's */
  lens[1] = 10;                           /* shorter than an IPv4 header */
  lens[2] = ip4_pkt(pk[2], 1, 2, 10, 2);
  pk[2][0] = 0x55; /* version 5 */
  lens[3] = WG_MAX_CONTENT + 1;
  lens[4] = ip6_pkt(pk[4], 1, 9, 10, 4); /* fd00::9: nobody's */
  CHECK(send_pkts(&pr, pr.a, pk, lens, 5, T0, &tr) == 0);
  CHECK(tr.sent == 0 && tr.dropped == 5 && pr.tx->n == 0);
  CHECK(drops_of(pr.a, WG_DROP_NO_ROUTE) == 2);
  CHECK(drops_of(pr.a, WG_DROP_TX_INVALID) == 3);
  CHECK(wg_device_set_endpoint(pr.a, B_PEER, NULL) == 0);
  lens[0] = ip4_pkt(pk[0], 1, 2, 10, 0);
  CHECK(send_pkts(&pr, pr.a, pk, lens, 1, T0, &tr) == 0 && tr.dropped == 1);
  CHECK(wg_device_peer_stats(pr.a, B_PEER, &ps) == 0);
  CHECK(ps.drops[WG_DROP_NO_ENDPOINT] == 1 && ps.drops[WG_DROP_NO_ROUTE] == 0);
  wg_tx_sink bad = {pr.tx, NULL, cap_commit};
  CHECK(wg_encrypt_batch(pr.a, NULL, 0, &bad, T0, &tr) == -EINVAL);
  st = PASS;
out:
  pair_close(&pr);
  return st;
}

/* Without keys packets are staged (bounded, oldest dropped) and a
 * handshake is asked for; once keys are installed the next call sends
 * them first, in order. */
static int t_staged(void) {
  int st = FAIL;
  pair pr;
  wg_tx_result tr;
  wg_rx_result rr;
  wg_peer_summary s;
  CHECK(pair_open(&pr, 1420, 4, false) == 0);
  for (int i = 0; i < 6; i++) lens[i] = ip4_pkt(pk[i], 1, 2, 50 + i, i);
  CHECK(send_pkts(&pr, pr.a, pk, lens, 6, T0, &tr) == 0);
  CHECK(tr.sent == 0 && tr.staged == 6 && pr.tx->n == 0);
  CHECK(drops_of(pr.a, WG_DROP_STAGED_OVERFLOW) == 2);
  CHECK(summary_of(pr.a, B_PEER, &s) && s.staged == 4);
  CHECK(s.flags == (WG_PEER_HANDSHAKE_WANTED | WG_PEER_STAGED) && s.drops == 2);
  CHECK(wg_device_staged_peers(pr.a) == 1);
  CHECK(pair_keys(&pr, 0, 0x1111, 0x2222, T0) == 0);
  CHECK(send_pkts(&pr, pr.a, pk, lens, 0, T0, &tr) == 0 && tr.sent == 4);
  CHECK(wg_device_staged_peers(pr.a) == 0);
  CHECK(recv_all(&pr, pr.b, ep4(1, 51820), T0, &rr) == 0 && rr.delivered == 4);
  for (int i = 0; i < 4; i++)
    CHECKF(memcmp(pr.rx->pkts[i].data, pk[i + 2], lens[i + 2]) == 0, "%d", i);
  /* A second handshake: A's new keypair is current at once, B's is only
   * "next", so B keeps sending on the old one, which A still holds as
   * previous. */
  CHECK(pair_keys(&pr, 1, 0x3333, 0x4444, T0) == 0);
  lens[0] = ip4_pkt(pk[0], 2, 1, 30, 40);
  CHECK(send_pkts(&pr, pr.b, pk, lens, 1, T0, &tr) == 0 && tr.sent == 1);
  CHECK(tx_data(pr.tx, 0)[4] == 0x11); /* A's old receiver index */
  CHECK(recv_all(&pr, pr.a, ep4(2, 51820), T0, &rr) == 0 && rr.delivered == 1);
  st = PASS;
out:
  pair_close(&pr);
  return st;
}

/* A responder's fresh keypair is only "next": it cannot send on it (its
 * packets stage, a handshake is flagged as wireguard-go does) until the
 * initiator's first packet confirms it; then the staged packets flush. */
static int t_responder_waits(void) {
  int st = FAIL;
  pair pr;
  wg_tx_result tr;
  wg_rx_result rr;
  wg_peer_summary s;
  wg_tx_sink sink;
  static uint8_t from_b[1600];
  CHECK(pair_open(&pr, 1420, 0, true) == 0);
  sink = tx_sink(pr.tx);
  lens[0] = ip4_pkt(pk[0], 2, 1, 60, 1);
  CHECK(send_pkts(&pr, pr.b, pk, lens, 1, T0, &tr) == 0);
  CHECK(tr.sent == 0 && tr.staged == 1);
  CHECK(summary_of(pr.b, A_PEER, &s));
  CHECK(s.flags == (WG_PEER_HANDSHAKE_WANTED | WG_PEER_STAGED));
  tx_reset(pr.tx);
  CHECK(wg_send_keepalive(pr.a, B_PEER, &sink, T0, false) == 1);
  CHECK(recv_all(&pr, pr.b, ep4(1, 51820), T0, &rr) == 0 && rr.keepalives == 1);
  CHECK(summary_of(pr.b, A_PEER, &s));
  CHECK(s.flags & WG_PEER_KEYPAIR_CONFIRMED);
  CHECK(s.flags & WG_PEER_STAGED); /* waiting for a flush */
  tx_reset(pr.tx);
  CHECK(wg_flush_staged(pr.b, &sink, T0, &tr) == 0 && tr.sent == 1);
  memcpy(from_b, tx_data(pr.tx, 0), pr.tx->msgs[0].len);
  wg_datagram dg = {from_b, pr.tx->msgs[0].len, ep4(2, 51820)};
  CHECK(recv_dgs(&pr, pr.a, &dg, 1, T0, &rr) == 0 && rr.delivered == 1);
  CHECK(memcmp(pr.rx->pkts[0].data, pk[0], lens[0]) == 0);
  st = PASS;
out:
  pair_close(&pr);
  return st;
}

/* One peer's messages of a batch come out back to back (for UDP GSO), each
 * peer's in input order, chunk by chunk when the batch is longer than the
 * device's max_batch. */
static int grouping(uint32_t max_batch, const uint32_t *want_peers) {
  int st = FAIL;
  wg_device *d = NULL;
  wg_device_config cfg = {.mtu = 1420, .max_batch = max_batch};
  tx_cap *tx = tx_new();
  wg_packet in[8];
  uint8_t a[4];
  uint64_t next_counter[3] = {0, 0, 0};
  CHECK(tx && wg_device_new(&d, &cfg) == 0);
  for (uint32_t id = 1; id <= 2; id++) {
    wg_keypair_params kp;
    wg_endpoint e = ep4((uint8_t)(10 + id), 51820);
    keys_of(&kp, true, (uint8_t)id, 0x100 + id, 0x200 + id);
    v4addr(a, 10, 0, 0, (uint8_t)(1 + id)); /* peer 1: .2, peer 2: .3 */
    CHECK(wg_device_add_peer(d, id) == 0);
    CHECK(wg_device_set_endpoint(d, id, &e) == 0);
    CHECK(wg_device_allowedip_add(d, id, AF_INET, a, 32) == 0);
    CHECK(wg_device_install_keypair(d, id, &kp, T0) == 0);
  }
  for (uint32_t i = 0; i < 8; i++) {
    lens[i] = ip4_pkt(pk[i], 1, (uint8_t)(i % 2 ? 3 : 2), 100, i);
    in[i] = (wg_packet){pk[i], lens[i]};
  }
  wg_tx_sink sink = tx_sink(tx);
  wg_tx_result tr;
  CHECK(wg_encrypt_batch(d, in, 8, &sink, T0, &tr) == 0 && tr.sent == 8);
  for (uint32_t i = 0; i < 8; i++) {
    uint32_t peer = tx->msgs[i].peer;
    CHECKF(peer == want_peers[i], "message %u: peer %u", i, peer);
    CHECK(tx->msgs[i].ep.addr[3] == 10 + peer);
    CHECK(tx_data(tx, i)[8] == next_counter[peer]++); /* in input order */
  }
  st = PASS;
out:
  wg_device_free(d);
  free(tx);
  return st;
}

static int t_grouping(void) {
  static const uint32_t whole[8] = {1, 1, 1, 1, 2, 2, 2, 2};
  static const uint32_t by3[8] = {1, 1, 2, 2, 2, 1, 1, 2};
  int st = grouping(0, whole);
  return st == PASS ? grouping(3, by3) : st;
}

/* A sink that fills up: the rest is staged, sent first by later calls,
 * and nothing is lost or reordered. */
static int t_sink_full(void) {
  int st = FAIL;
  pair pr;
  wg_tx_result tr;
  wg_rx_result rr;
  static uint8_t msgs[8][1600];
  wg_datagram dg[8];
  uint32_t got = 0;
  CHECK(pair_open(&pr, 1420, 0, true) == 0);
  for (int i = 0; i < 7; i++) lens[i] = ip4_pkt(pk[i], 1, 2, 200 + i, i);
  wg_tx_sink sink = tx_sink(pr.tx);
  for (int round = 0; round < 3; round++) {
    pr.tx->limit = round < 2 ? 2 : 512;
    if (round == 0) {
      CHECK(send_pkts(&pr, pr.a, pk, lens, 5, T0, &tr) == 0);
      CHECK(tr.sent == 2 && tr.staged == 3 && tr.sink_full);
    } else if (round == 1) { /* 2 staged go first, then it is full again */
      CHECK(send_pkts(&pr, pr.a, pk + 5, lens + 5, 2, T0, &tr) == 0);
      CHECK(tr.sent == 2 && tr.staged == 2 && tr.sink_full);
    } else {
      tx_reset(pr.tx);
      CHECK(wg_flush_staged(pr.a, &sink, T0, &tr) == 0);
      CHECK(tr.sent == 3 && !tr.sink_full);
    }
    for (uint32_t i = 0; i < pr.tx->n && got < 8; i++, got++) {
      memcpy(msgs[got], tx_data(pr.tx, i), pr.tx->msgs[i].len);
      dg[got] = (wg_datagram){msgs[got], pr.tx->msgs[i].len, ep4(1, 51820)};
    }
  }
  CHECK(got == 7 && wg_device_staged_peers(pr.a) == 0);
  CHECK(recv_dgs(&pr, pr.b, dg, got, T0, &rr) == 0 && rr.delivered == 7);
  for (int i = 0; i < 7; i++)
    CHECKF(memcmp(pr.rx->pkts[i].data, pk[i], lens[i]) == 0, "packet %d", i);
  st = PASS;
out:
  pair_close(&pr);
  return st;
}

int main(void) {
  static const test_case tests[] = {
      {"round trip A->B->A, padding, confirmation, roaming", t_roundtrip},
      {"keepalive: owed, sent once, received", t_keepalive},
      {"receive drops by reason; forgeries change nothing", t_rx_drops},
      {"send drops by reason", t_tx_drops},
      {"staged without keys, flushed in order after install", t_staged},
      {"responder waits for confirmation, then flushes", t_responder_waits},
      {"messages grouped per peer, in order, per chunk", t_grouping},
      {"full sink: staged, flushed later, nothing lost", t_sink_full},
  };
  return run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
