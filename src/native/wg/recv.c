/* The receive half of the data path (datapath.h). Order per message:
 * size -> index -> expiry -> replay precheck -> open -> replay update ->
 * (authenticated) keypair confirmation, roaming, counters -> inner
 * packet checks -> deliver. Nothing before "open" changes any state but
 * drop counters, so a forged message can neither move the replay window
 * nor the endpoint. */
#include <errno.h>
#include <string.h>

#include "wg/datapath.h"
#include "wg/device_internal.h"
#include "wg/ip.h"

static const uint32_t handshake_size[] = {
    [WG_MSG_INITIATION] = WG_SIZE_INITIATION,
    [WG_MSG_RESPONSE] = WG_SIZE_RESPONSE,
    [WG_MSG_COOKIE_REPLY] = WG_SIZE_COOKIE_REPLY,
};

static void rx_drop(wg_device *d, wg_peer *p, enum wg_drop why,
                    wg_rx_result *res) {
  wg_dev_drop(d, p, why);
  res->dropped++;
}

static bool same_endpoint(const wg_endpoint *a, const wg_endpoint *b) {
  size_t alen = a->family == AF_INET ? 4 : 16;
  return a->family == b->family && a->port == b->port &&
         a->scope_id == b->scope_id && memcmp(a->addr, b->addr, alen) == 0;
}

/* Near Reject-After-Time on a keypair we initiated, and still receiving:
 * ask for a handshake now rather than let the session lapse (once per
 * keypair; the paper's section 6.2, wireguard-go's keepKeyFreshReceiving). */
static bool last_minute(wg_keypair *cur, uint64_t now) {
  const uint64_t limit =
      WG_REJECT_AFTER_TIME - WG_KEEPALIVE_TIMEOUT - WG_REKEY_TIMEOUT;
  if (!cur || !cur->initiator || cur->last_minute_flagged ||
      now <= cur->created_ns || now - cur->created_ns <= limit)
    return false;
  cur->last_minute_flagged = true;
  return true;
}

/* What any authenticated message does, whatever it carries. */
static void authenticated(wg_device *d, wg_peer *p, wg_keypair *kp,
                          const wg_datagram *dg, uint64_t now) {
  uint32_t f = WG_PEER_AUTH_RECEIVED;
  if (wg_peer_confirm(p, kp, &d->index)) f |= WG_PEER_KEYPAIR_CONFIRMED;
  bool known = dg->src.family == AF_INET || dg->src.family == AF_INET6;
  if (known && !same_endpoint(&p->endpoint, &dg->src)) {
    p->endpoint = dg->src; /* roaming: follow the last authentic packet */
    f |= WG_PEER_ENDPOINT_CHANGED;
  }
  p->rx_bytes += dg->len;
  p->b_rx_bytes += dg->len;
  p->rx_packets++;
  p->b_rx_packets++;
  p->last_rx_ns = now;
  if (last_minute(p->current, now)) f |= WG_PEER_HANDSHAKE_WANTED;
  wg_dev_touch(d, p, f);
}

/* The plaintext of an authenticated data message: a sane IP packet whose
 * source routes back to the peer that sent it, or it is dropped. */
static void rx_inner(wg_device *d, wg_peer *p, uint8_t *pkt, uint32_t len,
                     const wg_rx_sink *sink, wg_rx_result *res) {
  const uint8_t *src;
  uint32_t ip_len;
  int family;
  /* As wireguard-go: data arrived, so a keepalive is owed even if the
   * packet is refused below; the tunnel itself works. */
  p->owes_keepalive = true;
  wg_dev_touch(d, p, WG_PEER_DATA_RECEIVED);
  if (wg_ip_src(pkt, len, &family, &src, &ip_len) < 0) {
    rx_drop(d, p, WG_DROP_INNER_INVALID, res);
    return;
  }
  if (wg_aips_lookup(&d->aips, family, src) != (int32_t)p->id) {
    rx_drop(d, p, WG_DROP_SOURCE_NOT_ALLOWED, res);
    return;
  }
  if (sink->deliver(sink->ctx, p->id, pkt, ip_len) < 0) {
    rx_drop(d, p, WG_DROP_SINK, res);
    return;
  }
  res->delivered++;
}

static void rx_transport(wg_device *d, wg_datagram *dg,
                         const wg_rx_sink *sink, uint64_t now,
                         wg_rx_result *res) {
  uint8_t *m = dg->data;
  wg_keypair *kp = wg_index_get(&d->index, wg_le32(m + 4));
  if (!kp) {
    rx_drop(d, NULL, WG_DROP_UNKNOWN_INDEX, res);
    return;
  }
  wg_peer *p = wg_dev_peer(d, kp->peer_id);
  uint64_t counter = wg_le64(m + 8);
  if (wg_keypair_expired(kp, now)) {
    rx_drop(d, p, WG_DROP_KEY_EXPIRED, res);
    return;
  }
  if (!wg_replay_check(&kp->replay, counter)) {
    rx_drop(d, p, WG_DROP_REPLAY, res);
    return;
  }
  uint32_t clen = dg->len - WG_TRANSPORT_OVERHEAD;
  uint8_t *ct = m + WG_TRANSPORT_HEADER;
  uint8_t nonce[WG_AEAD_NONCE_LEN];
  wg_aead_nonce(nonce, counter);
  int rc = wg_aead_open(&kp->recv, nonce, NULL, 0, ct, clen, ct, ct + clen);
  if (rc < 0) {
    rx_drop(d, p, rc == -EBADMSG ? WG_DROP_AUTH : WG_DROP_CRYPTO_ERROR, res);
    return;
  }
  if (!wg_replay_update(&kp->replay, counter)) { /* checked above */
    rx_drop(d, p, WG_DROP_REPLAY, res);
    return;
  }
  authenticated(d, p, kp, dg, now);
  if (clen == 0) {
    p->rx_keepalives++;
    res->keepalives++;
    wg_dev_touch(d, p, WG_PEER_KEEPALIVE_RECEIVED);
    return;
  }
  rx_inner(d, p, ct, clen, sink, res);
}

static void rx_one(wg_device *d, wg_datagram *dgs, uint32_t i,
                   const wg_rx_sink *sink, uint64_t now, wg_rx_result *res) {
  wg_datagram *dg = &dgs[i];
  if (!dg->data || dg->len < 4 || dg->len > WG_MAX_MESSAGE) {
    rx_drop(d, NULL, WG_DROP_MALFORMED, res);
    return;
  }
  uint32_t type = wg_le32(dg->data);
  if (type >= WG_MSG_INITIATION && type <= WG_MSG_COOKIE_REPLY) {
    if (dg->len != handshake_size[type]) {
      rx_drop(d, NULL, WG_DROP_MALFORMED, res);
      return;
    }
    res->handshakes++;
    if (sink->handshake) sink->handshake(sink->ctx, i, type);
    return;
  }
  if (type != WG_MSG_TRANSPORT || dg->len < WG_TRANSPORT_OVERHEAD) {
    rx_drop(d, NULL, WG_DROP_MALFORMED, res);
    return;
  }
  rx_transport(d, dg, sink, now, res);
}

int wg_decrypt_batch(wg_device *d, wg_datagram *dgs, uint32_t n,
                     const wg_rx_sink *sink, uint64_t now,
                     wg_rx_result *res) {
  wg_rx_result local;
  if (!res) res = &local;
  memset(res, 0, sizeof(*res));
  if (!d || !sink || !sink->deliver || (n && !dgs)) return -EINVAL;
  for (uint32_t i = 0; i < n; i++) rx_one(d, dgs, i, sink, now, res);
  return 0;
}
