/* Keypair rotation and the clock: which keypair is current, previous and
 * next after each kind of handshake (the paper's section 6.5, as
 * wireguard-go rotates), receiver indices freed with the keys they name,
 * and Reject-After-Time, Rekey-After-Time/-Messages and the receive-side
 * "last minute" rekey decided with an injected clock. */
#include "wg_pair.h"

#include "wg/device_internal.h" /* white box: to age a send counter */

static uint8_t pk[4][1600];
static uint32_t lens[4];

#define S(x) ((uint64_t)(x) * WG_NS_PER_S)

static int install(wg_device *d, uint32_t id, uint32_t index, bool initiator,
                   uint64_t now) {
  wg_keypair_params p;
  memset(p.send_key, (int)index, 32);
  memset(p.recv_key, (int)index + 1, 32);
  p.local_index = index;
  p.remote_index = index + 0x1000;
  p.initiator = initiator;
  return wg_device_install_keypair(d, id, &p, now);
}

/* has current/previous/next, and current's creation time (names it). */
static bool keys_are(wg_device *d, bool cur, bool prev, bool next,
                     uint64_t cur_created) {
  wg_peer_stats s;
  if (wg_device_peer_stats(d, 1, &s) < 0) return false;
  return s.has_current == cur && s.has_previous == prev &&
         s.has_next == next && (!cur || s.current_created_ns == cur_created);
}

static int t_rotation(void) {
  int st = FAIL;
  wg_device *d = NULL;
  uint8_t a[4] = {10, 0, 0, 2};
  CHECK(wg_device_new(&d, NULL) == 0 && wg_device_add_peer(d, 1) == 0);
  CHECK(wg_device_allowedip_add(d, 1, AF_INET, a, 32) == 0);
  /* Initiator handshakes: current at once, the old one kept as previous. */
  CHECK(install(d, 1, 0x10, true, S(1)) == 0 && keys_are(d, 1, 0, 0, S(1)));
  CHECK(install(d, 1, 0x20, true, S(2)) == 0 && keys_are(d, 1, 1, 0, S(2)));
  CHECK(install(d, 1, 0x30, true, S(3)) == 0 && keys_are(d, 1, 1, 0, S(3)));
  CHECK(!wg_device_index_in_use(d, 0x10) && wg_device_index_in_use(d, 0x20));
  /* Responder handshakes: next only; previous goes, current stays. */
  CHECK(install(d, 1, 0x40, false, S(4)) == 0 && keys_are(d, 1, 0, 1, S(3)));
  CHECK(!wg_device_index_in_use(d, 0x20));
  CHECK(install(d, 1, 0x50, false, S(5)) == 0 && keys_are(d, 1, 0, 1, S(3)));
  CHECK(!wg_device_index_in_use(d, 0x40) && wg_device_index_in_use(d, 0x50));
  /* An initiator handshake while a next waits: next becomes previous (it
   * may carry the peer's packets), the old current goes. */
  CHECK(install(d, 1, 0x60, true, S(6)) == 0 && keys_are(d, 1, 1, 0, S(6)));
  CHECK(!wg_device_index_in_use(d, 0x30) && wg_device_index_in_use(d, 0x50));
  /* A taken index changes nothing; a missing peer is ENOENT. */
  CHECK(install(d, 1, 0x60, true, S(7)) == -EEXIST && keys_are(d, 1, 1, 0, S(6)));
  CHECK(install(d, 9, 0x70, true, S(7)) == -ENOENT);
  CHECK(wg_device_install_keypair(d, 1, NULL, S(7)) == -EINVAL);
  /* Clearing frees every index. */
  CHECK(wg_device_clear_keypairs(d, 1) == 0 && keys_are(d, 0, 0, 0, 0));
  CHECK(!wg_device_index_in_use(d, 0x50) && !wg_device_index_in_use(d, 0x60));
  /* Removing the peer frees its keys and its AllowedIPs. */
  CHECK(install(d, 1, 0x70, true, S(8)) == 0);
  CHECK(wg_device_remove_peer(d, 1) == 0 && !wg_device_index_in_use(d, 0x70));
  CHECK(wg_device_allowedip_lookup(d, AF_INET, a) == -ENOENT);
  CHECK(wg_device_remove_peer(d, 1) == -ENOENT);
  CHECK(wg_device_add_peer(d, WG_PEER_ID_MAX) == -EINVAL);
  st = PASS;
out:
  wg_device_free(d);
  return st;
}

/* Reject-After-Time: a keypair 180 s old neither sends (packets stage and
 * a handshake is asked for) nor receives. A clock behind the creation time
 * does not count as old. */
static int t_expiry(void) {
  int st = FAIL;
  pair pr;
  wg_tx_result tr;
  wg_rx_result rr;
  wg_peer_summary s;
  CHECK(pair_open(&pr, 1420, 0, true) == 0);
  lens[0] = ip4_pkt(pk[0], 1, 2, 40, 0);
  CHECK(send_pkts(&pr, pr.a, pk, lens, 1, T0 - S(5), &tr) == 0 && tr.sent == 1);
  CHECK(send_pkts(&pr, pr.a, pk, lens, 1, T0 + S(180) - 1, &tr) == 0);
  CHECK(tr.sent == 1);
  summary_of(pr.a, B_PEER, &s);
  CHECK(recv_all(&pr, pr.b, ep4(1, 51820), T0 + S(180), &rr) == 0);
  CHECK(rr.delivered == 0 && drops_of(pr.b, WG_DROP_KEY_EXPIRED) == 1);
  CHECK(send_pkts(&pr, pr.a, pk, lens, 1, T0 + S(180), &tr) == 0);
  CHECK(tr.sent == 0 && tr.staged == 1);
  CHECK(summary_of(pr.a, B_PEER, &s));
  CHECK(s.flags == (WG_PEER_HANDSHAKE_WANTED | WG_PEER_STAGED));
  /* A new handshake later: the staged packet leaves on the new keys. */
  CHECK(pair_keys(&pr, 1, 0x3333, 0x4444, T0 + S(181)) == 0);
  CHECK(send_pkts(&pr, pr.a, pk, lens, 0, T0 + S(181), &tr) == 0);
  CHECK(tr.sent == 1);
  CHECK(recv_all(&pr, pr.b, ep4(1, 51820), T0 + S(181), &rr) == 0);
  CHECK(rr.delivered == 1);
  st = PASS;
out:
  pair_close(&pr);
  return st;
}

/* Rekey-After-Time (initiator only) and Rekey-After-Messages flag a
 * handshake after sending; Reject-After-Messages stops sending. */
static int t_rekey_send(void) {
  int st = FAIL;
  pair pr;
  wg_tx_result tr;
  wg_rx_result rr;
  wg_peer_summary s;
  CHECK(pair_open(&pr, 1420, 0, true) == 0);
  lens[0] = ip4_pkt(pk[0], 1, 2, 40, 0);
  lens[1] = ip4_pkt(pk[1], 2, 1, 40, 1);
  CHECK(send_pkts(&pr, pr.a, pk, lens, 1, T0 + S(120), &tr) == 0);
  CHECK(summary_of(pr.a, B_PEER, &s) && !(s.flags & WG_PEER_HANDSHAKE_WANTED));
  CHECK(recv_all(&pr, pr.b, ep4(1, 51820), T0 + S(120), &rr) == 0);
  CHECK(rr.delivered == 1); /* B's keypair is confirmed and current */
  CHECK(send_pkts(&pr, pr.a, pk, lens, 1, T0 + S(121), &tr) == 0);
  CHECK(summary_of(pr.a, B_PEER, &s) && (s.flags & WG_PEER_HANDSHAKE_WANTED));
  CHECK(send_pkts(&pr, pr.b, pk + 1, lens + 1, 1, T0 + S(121), &tr) == 0);
  CHECK(tr.sent == 1);
  CHECK(summary_of(pr.b, A_PEER, &s) && !(s.flags & WG_PEER_HANDSHAKE_WANTED));
  /* Messages: counters near the limits (set directly: 2^60 packets would
   * take a while). */
  wg_keypair *kp = pr.b->peers[A_PEER]->current;
  kp->send_counter = WG_REKEY_AFTER_MESSAGES - 1;
  CHECK(send_pkts(&pr, pr.b, pk + 1, lens + 1, 1, T0, &tr) == 0);
  CHECK(summary_of(pr.b, A_PEER, &s) && !(s.flags & WG_PEER_HANDSHAKE_WANTED));
  CHECK(send_pkts(&pr, pr.b, pk + 1, lens + 1, 1, T0, &tr) == 0);
  CHECK(summary_of(pr.b, A_PEER, &s) && (s.flags & WG_PEER_HANDSHAKE_WANTED));
  kp->send_counter = WG_REJECT_AFTER_MESSAGES - 1;
  CHECK(send_pkts(&pr, pr.b, pk + 1, lens + 1, 1, T0, &tr) == 0 && tr.sent == 1);
  CHECK(tx_data(pr.tx, 0)[15] == 0xFF && tx_data(pr.tx, 0)[9] == 0xDF);
  CHECK(send_pkts(&pr, pr.b, pk + 1, lens + 1, 1, T0, &tr) == 0);
  CHECK(tr.sent == 0 && tr.staged == 1);
  CHECK(summary_of(pr.b, A_PEER, &s) && (s.flags & WG_PEER_HANDSHAKE_WANTED));
  st = PASS;
out:
  pair_close(&pr);
  return st;
}

/* Receiving on a keypair we initiated that is older than
 * Reject-After-Time - Keepalive-Timeout - Rekey-Timeout (165 s): ask for a
 * handshake, once per keypair; the responder never does. */
static int t_rekey_last_minute(void) {
  int st = FAIL;
  pair pr;
  wg_tx_result tr;
  wg_rx_result rr;
  wg_peer_summary s;
  CHECK(pair_open(&pr, 1420, 0, true) == 0);
  lens[0] = ip4_pkt(pk[0], 1, 2, 40, 0);
  lens[1] = ip4_pkt(pk[1], 2, 1, 40, 1);
  CHECK(send_pkts(&pr, pr.a, pk, lens, 1, T0 + S(166), &tr) == 0);
  CHECK(recv_all(&pr, pr.b, ep4(1, 51820), T0 + S(166), &rr) == 0);
  CHECK(rr.delivered == 1);
  CHECK(summary_of(pr.b, A_PEER, &s) && !(s.flags & WG_PEER_HANDSHAKE_WANTED));
  summary_of(pr.a, B_PEER, &s);
  const uint64_t at[] = {S(165), S(166), S(167)};
  const bool want[] = {false, true, false};
  for (int i = 0; i < 3; i++) {
    CHECK(send_pkts(&pr, pr.b, pk + 1, lens + 1, 1, T0 + at[i], &tr) == 0);
    CHECK(recv_all(&pr, pr.a, ep4(2, 51820), T0 + at[i], &rr) == 0);
    CHECK(rr.delivered == 1 && summary_of(pr.a, B_PEER, &s));
    CHECKF(!!(s.flags & WG_PEER_HANDSHAKE_WANTED) == want[i], "at %d", i);
  }
  st = PASS;
out:
  pair_close(&pr);
  return st;
}

int main(void) {
  static const test_case tests[] = {
      {"rotation: initiator, responder, crossing, indices", t_rotation},
      {"expiry: Reject-After-Time both ways", t_expiry},
      {"rekey after time (initiator) and messages", t_rekey_send},
      {"rekey in the last minute while receiving", t_rekey_last_minute},
  };
  return run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
