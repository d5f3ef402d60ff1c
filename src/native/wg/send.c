/* The send half of the data path (datapath.h): route, seal, stage. */
#include <errno.h>
#include <string.h>

#include "wg/datapath.h"
#include "wg/device_internal.h"
#include "wg/ip.h"

static bool sink_ok(const wg_tx_sink *s) {
  return s && s->reserve && s->commit;
}

/* The plaintext length on the wire: padded to a multiple of 16 so sizes
 * leak less, but never past the MTU (a packet at or over it stays as is). */
static uint32_t padded_len(uint32_t len, uint32_t mtu) {
  uint32_t p = (len + WG_PADDING - 1) & ~(WG_PADDING - 1);
  if (mtu && p > mtu) p = len > mtu ? len : mtu;
  return p > WG_MAX_CONTENT ? len : p;
}

static void account_sent(wg_device *d, wg_peer *p, uint32_t len,
                         uint32_t total, uint64_t now) {
  p->tx_bytes += total;
  p->b_tx_bytes += total;
  p->tx_packets++;
  p->b_tx_packets++;
  p->last_tx_ns = now;
  p->owes_keepalive = false;
  uint32_t f = WG_PEER_AUTH_SENT;
  if (len) {
    f |= WG_PEER_DATA_SENT;
  } else {
    f |= WG_PEER_KEEPALIVE_SENT;
    p->tx_keepalives++;
  }
  wg_dev_touch(d, p, f);
}

/* Seal one packet with kp into space from the sink: 0, -ENOBUFS (no
 * space; nothing consumed), or the cipher's error. */
static int seal_one(wg_device *d, wg_peer *p, wg_keypair *kp,
                    const uint8_t *pkt, uint32_t len, const wg_tx_sink *sink,
                    uint64_t now) {
  uint32_t plen = padded_len(len, d->mtu);
  uint32_t total = WG_TRANSPORT_OVERHEAD + plen;
  uint8_t *out = sink->reserve(sink->ctx, total);
  if (!out) return -ENOBUFS;
  /* Consumed before sealing: a counter is never used twice, even if the
   * seal failed halfway. */
  uint64_t counter = kp->send_counter++;
  uint8_t nonce[WG_AEAD_NONCE_LEN];
  uint8_t *ct = out + WG_TRANSPORT_HEADER;
  wg_put_le32(out, WG_MSG_TRANSPORT);
  wg_put_le32(out + 4, kp->remote_index);
  wg_put_le64(out + 8, counter);
  wg_aead_nonce(nonce, counter);
  int rc = wg_aead_seal(&kp->send, nonce, NULL, 0, pkt, len, plen - len, ct,
                        ct + plen);
  if (rc < 0) return rc;
  sink->commit(sink->ctx, p->id, &p->endpoint, total);
  account_sent(d, p, len, total, now);
  return 0;
}

/* After sending under kp: time for a new handshake? (the paper's
 * Rekey-After-Messages, and Rekey-After-Time for the initiator). */
static void keep_fresh_sending(wg_device *d, wg_peer *p, const wg_keypair *kp,
                               uint64_t now) {
  bool old = kp->initiator && now > kp->created_ns &&
             now - kp->created_ns > WG_REKEY_AFTER_TIME;
  if (old || kp->send_counter > WG_REKEY_AFTER_MESSAGES)
    wg_dev_touch(d, p, WG_PEER_HANDSHAKE_WANTED);
}

/* Send what p has staged, oldest first, while keys and the sink allow. */
static void flush_peer(wg_device *d, wg_peer *p, const wg_tx_sink *sink,
                       uint64_t now, wg_tx_result *res) {
  wg_keypair *kp = p->current;
  uint32_t sent = 0;
  if (!p->staged_n) return;
  if (!wg_keypair_can_send(kp, now)) {
    wg_dev_touch(d, p, WG_PEER_HANDSHAKE_WANTED);
    return;
  }
  if (!p->endpoint.family) return; /* they wait for one */
  /* Bounded: each turn pops a packet or stops. */
  while (p->staged_n && !res->sink_full && wg_keypair_can_send(kp, now)) {
    wg_staged *s = wg_peer_staged_head(p);
    int rc = seal_one(d, p, kp, s->buf, s->len, sink, now);
    if (rc == -ENOBUFS) {
      res->sink_full = true;
      break;
    }
    wg_peer_staged_pop(p);
    if (rc < 0)
      wg_dev_drop(d, p, WG_DROP_CRYPTO_ERROR);
    else
      sent++;
  }
  res->sent += sent;
  if (sent) keep_fresh_sending(d, p, kp, now);
  if (p->staged_n && !wg_keypair_can_send(kp, now))
    wg_dev_touch(d, p, WG_PEER_HANDSHAKE_WANTED);
}

static void unlist_staged(wg_device *d, uint32_t i) {
  d->peers[d->staged[i]]->in_staged_list = false;
  d->staged[i] = d->staged[--d->nstaged]; /* order does not matter here */
}

static void flush_all(wg_device *d, const wg_tx_sink *sink, uint64_t now,
                      wg_tx_result *res) {
  uint32_t i = 0;
  while (i < d->nstaged) { /* each turn advances i or shortens the list */
    wg_peer *p = d->peers[d->staged[i]];
    flush_peer(d, p, sink, now, res);
    if (p->staged_n)
      i++;
    else
      unlist_staged(d, i);
  }
}

/* Pass 1: route each packet and chain the packets of each peer, in input
 * order, through route_next; list the peers in order of first packet. */
static uint32_t route_chunk(wg_device *d, const wg_packet *pkts, uint32_t n,
                            wg_tx_result *res) {
  uint32_t np = 0;
  for (uint32_t i = 0; i < n; i++) {
    const wg_packet *pk = &pkts[i];
    const uint8_t *dst;
    int family;
    if (!pk->data || pk->len > WG_MAX_CONTENT ||
        wg_ip_dst(pk->data, pk->len, &family, &dst) < 0) {
      wg_dev_drop(d, NULL, WG_DROP_TX_INVALID);
      res->dropped++;
      continue;
    }
    int32_t id = wg_aips_lookup(&d->aips, family, dst);
    wg_peer *p = id >= 0 ? wg_dev_peer(d, (uint32_t)id) : NULL;
    if (!p) {
      wg_dev_drop(d, NULL, WG_DROP_NO_ROUTE);
      res->dropped++;
      continue;
    }
    d->route_next[i] = -1;
    if (p->batch_head < 0) {
      p->batch_head = (int32_t)i;
      d->chunk_peers[np++] = p->id;
    } else {
      d->route_next[p->batch_tail] = (int32_t)i;
    }
    p->batch_tail = (int32_t)i;
  }
  return np;
}

/* Pass 2: one peer's packets of the chunk, back to back. Packets queue
 * behind any already staged so a peer's packets never reorder. */
static void send_chain(wg_device *d, wg_peer *p, const wg_packet *pkts,
                       const wg_tx_sink *sink, uint64_t now,
                       wg_tx_result *res) {
  wg_keypair *kp = p->current;
  uint32_t sent = 0;
  bool keyless = false;
  /* The chain's indices strictly increase: at most one turn per packet. */
  for (int32_t i = p->batch_head; i >= 0; i = d->route_next[i]) {
    const wg_packet *pk = &pkts[i];
    bool can = wg_keypair_can_send(kp, now);
    if (can && !p->endpoint.family) {
      wg_dev_drop(d, p, WG_DROP_NO_ENDPOINT);
      res->dropped++;
      continue;
    }
    if (can && !p->staged_n && !res->sink_full) {
      int rc = seal_one(d, p, kp, pk->data, pk->len, sink, now);
      if (rc == 0) {
        sent++;
        continue;
      }
      if (rc != -ENOBUFS) {
        wg_dev_drop(d, p, WG_DROP_CRYPTO_ERROR);
        res->dropped++;
        continue;
      }
      res->sink_full = true;
    }
    keyless |= !can;
    wg_dev_stage(d, p, pk->data, pk->len);
    res->staged++;
  }
  p->batch_head = p->batch_tail = -1;
  res->sent += sent;
  if (sent) keep_fresh_sending(d, p, kp, now);
  if (keyless) wg_dev_touch(d, p, WG_PEER_HANDSHAKE_WANTED);
}

int wg_encrypt_batch(wg_device *d, const wg_packet *pkts, uint32_t n,
                     const wg_tx_sink *sink, uint64_t now, wg_tx_result *res) {
  wg_tx_result local;
  if (!res) res = &local;
  memset(res, 0, sizeof(*res));
  if (!d || !sink_ok(sink) || (n && !pkts)) return -EINVAL;
  flush_all(d, sink, now, res);
  for (uint64_t off = 0; off < n; off += d->max_batch) {
    uint32_t m = n - off < d->max_batch ? (uint32_t)(n - off) : d->max_batch;
    uint32_t np = route_chunk(d, pkts + off, m, res);
    for (uint32_t j = 0; j < np; j++)
      send_chain(d, d->peers[d->chunk_peers[j]], pkts + off, sink, now, res);
  }
  return 0;
}

int wg_flush_staged(wg_device *d, const wg_tx_sink *sink, uint64_t now,
                    wg_tx_result *res) {
  wg_tx_result local;
  if (!res) res = &local;
  memset(res, 0, sizeof(*res));
  if (!d || !sink_ok(sink)) return -EINVAL;
  flush_all(d, sink, now, res);
  return 0;
}

int wg_send_keepalive(wg_device *d, uint32_t id, const wg_tx_sink *sink,
                      uint64_t now, bool only_if_owed) {
  if (!d || !sink_ok(sink)) return -EINVAL;
  wg_peer *p = wg_dev_peer(d, id);
  if (!p) return -ENOENT;
  wg_tx_result res = {0};
  if (!p->staged_n) {
    if (only_if_owed && !p->owes_keepalive) return 0;
    wg_dev_stage(d, p, NULL, 0);
  }
  flush_peer(d, p, sink, now, &res);
  if (!p->staged_n) {
    for (uint32_t i = 0; i < d->nstaged; i++)
      if (d->staged[i] == id) {
        unlist_staged(d, i);
        break;
      }
  }
  return res.sink_full ? -ENOBUFS : (int)res.sent;
}
