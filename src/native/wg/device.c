/* Device: peers, configuration, counters and summaries (device.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "wg/device_internal.h"

#define DEFAULT_STAGED 128u
#define DEFAULT_BATCH 256u
#define MAX_BATCH 65536u
#define MAX_STAGED 65536u

int wg_device_new(wg_device **out, const wg_device_config *cfg) {
  wg_device_config c = cfg ? *cfg : (wg_device_config){0};
  if (!c.staged_cap) c.staged_cap = DEFAULT_STAGED;
  if (!c.max_batch) c.max_batch = DEFAULT_BATCH;
  if (c.staged_cap > MAX_STAGED || c.max_batch > MAX_BATCH ||
      c.mtu > WG_MAX_CONTENT)
    return -EINVAL;
  wg_device *d = calloc(1, sizeof(*d));
  if (!d) return -ENOMEM;
  d->mtu = c.mtu;
  d->staged_cap = c.staged_cap;
  d->max_batch = c.max_batch;
  wg_aips_init(&d->aips);
  d->route_next = calloc(c.max_batch, sizeof(*d->route_next));
  d->chunk_peers = calloc(c.max_batch, sizeof(*d->chunk_peers));
  if (!d->route_next || !d->chunk_peers || wg_index_init(&d->index) < 0) {
    wg_device_free(d);
    return -ENOMEM;
  }
  *out = d;
  return 0;
}

void wg_device_free(wg_device *d) {
  if (!d) return;
  for (uint32_t i = 0; i < d->peers_cap; i++)
    wg_peer_free(d->peers[i], &d->index);
  wg_aips_free(&d->aips);
  if (d->index.buckets) wg_index_free(&d->index);
  free(d->peers);
  free(d->touched);
  free(d->staged);
  free(d->route_next);
  free(d->chunk_peers);
  free(d);
}

/* Room for id in the table and for one more peer in the lists. */
static int reserve_peer(wg_device *d, uint32_t id) {
  if (id >= d->peers_cap) {
    uint32_t cap = d->peers_cap ? d->peers_cap : 16;
    while (cap <= id) cap *= 2; /* id < 2^20: at most 20 doublings */
    wg_peer **np = realloc(d->peers, cap * sizeof(*np));
    if (!np) return -ENOMEM;
    memset(np + d->peers_cap, 0, (cap - d->peers_cap) * sizeof(*np));
    d->peers = np;
    d->peers_cap = cap;
  }
  if (d->npeers + 1 > d->lists_cap) {
    uint32_t cap = d->lists_cap ? d->lists_cap * 2 : 16;
    uint32_t *t = realloc(d->touched, cap * sizeof(*t));
    if (!t) return -ENOMEM;
    d->touched = t;
    uint32_t *s = realloc(d->staged, cap * sizeof(*s));
    if (!s) return -ENOMEM;
    d->staged = s;
    d->lists_cap = cap;
  }
  return 0;
}

int wg_device_add_peer(wg_device *d, uint32_t id) {
  if (id >= WG_PEER_ID_MAX) return -EINVAL;
  if (wg_dev_peer(d, id)) return -EEXIST;
  int rc = reserve_peer(d, id);
  if (rc < 0) return rc;
  wg_peer *p;
  if ((rc = wg_peer_new(&p, id, d->staged_cap)) < 0) return rc;
  d->peers[id] = p;
  d->npeers++;
  return 0;
}

/* Remove id from a list of ids (order kept: the summary list is ordered). */
static void unlist(uint32_t *list, uint32_t *n, uint32_t id) {
  for (uint32_t i = 0; i < *n; i++) {
    if (list[i] != id) continue;
    memmove(list + i, list + i + 1, (*n - i - 1) * sizeof(*list));
    (*n)--;
    return;
  }
}

int wg_device_remove_peer(wg_device *d, uint32_t id) {
  wg_peer *p = wg_dev_peer(d, id);
  if (!p) return -ENOENT;
  wg_aips_remove_peer(&d->aips, (int32_t)id);
  if (p->in_touched) unlist(d->touched, &d->ntouched, id);
  if (p->in_staged_list) unlist(d->staged, &d->nstaged, id);
  wg_peer_free(p, &d->index);
  d->peers[id] = NULL;
  d->npeers--;
  return 0;
}

bool wg_device_has_peer(const wg_device *d, uint32_t id) {
  return wg_dev_peer(d, id) != NULL;
}

int wg_device_set_endpoint(wg_device *d, uint32_t id, const wg_endpoint *ep) {
  wg_peer *p = wg_dev_peer(d, id);
  if (!p) return -ENOENT;
  if (ep && ep->family && ep->family != AF_INET && ep->family != AF_INET6)
    return -EINVAL;
  if (ep && ep->family)
    p->endpoint = *ep;
  else
    memset(&p->endpoint, 0, sizeof(p->endpoint));
  return 0;
}

int wg_device_install_keypair(wg_device *d, uint32_t id,
                              const wg_keypair_params *params, uint64_t now) {
  wg_peer *p = wg_dev_peer(d, id);
  if (!p) return -ENOENT;
  if (!params) return -EINVAL;
  if (wg_index_get(&d->index, params->local_index)) return -EEXIST;
  wg_keypair *kp;
  int rc = wg_keypair_new(&kp, params, id, now);
  if (rc < 0) return rc;
  if ((rc = wg_peer_install(p, kp, &d->index)) < 0) wg_keypair_free(kp);
  return rc;
}

int wg_device_clear_keypairs(wg_device *d, uint32_t id) {
  wg_peer *p = wg_dev_peer(d, id);
  if (!p) return -ENOENT;
  wg_peer_clear_keys(p, &d->index);
  return 0;
}

int wg_device_drop_keypair(wg_device *d, uint32_t id, uint32_t local_index) {
  wg_peer *p = wg_dev_peer(d, id);
  if (!p || !wg_peer_drop_keypair(p, local_index, &d->index)) return -ENOENT;
  return 0;
}

int wg_device_clear_staged(wg_device *d, uint32_t id) {
  wg_peer *p = wg_dev_peer(d, id);
  if (!p) return -ENOENT;
  int n = (int)p->staged_n;
  /* Bounded by the queue's length; the buffers stay for reuse. */
  while (p->staged_n) wg_peer_staged_pop(p);
  if (p->in_staged_list) {
    unlist(d->staged, &d->nstaged, id);
    p->in_staged_list = false;
  }
  return n;
}

bool wg_device_index_in_use(const wg_device *d, uint32_t index) {
  return wg_index_get(&d->index, index) != NULL;
}

int wg_device_allowedip_add(wg_device *d, uint32_t id, int family,
                            const uint8_t *addr, uint8_t cidr) {
  if (!wg_dev_peer(d, id)) return -ENOENT;
  return wg_aips_insert(&d->aips, family, addr, cidr, (int32_t)id);
}

int wg_device_allowedip_remove(wg_device *d, uint32_t id, int family,
                               const uint8_t *addr, uint8_t cidr) {
  if (!wg_dev_peer(d, id)) return -ENOENT;
  return wg_aips_remove(&d->aips, family, addr, cidr, (int32_t)id);
}

int wg_device_allowedip_clear(wg_device *d, uint32_t id) {
  if (!wg_dev_peer(d, id)) return -ENOENT;
  return (int)wg_aips_remove_peer(&d->aips, (int32_t)id);
}

int wg_device_allowedip_walk(const wg_device *d, uint32_t id,
                             wg_aips_walk_fn fn, void *arg) {
  if (!wg_dev_peer(d, id)) return -ENOENT;
  return wg_aips_walk(&d->aips, (int32_t)id, fn, arg);
}

int32_t wg_device_allowedip_lookup(const wg_device *d, int family,
                                   const uint8_t *addr) {
  return wg_aips_lookup(&d->aips, family, addr);
}

int wg_device_peer_stats(const wg_device *d, uint32_t id, wg_peer_stats *o) {
  const wg_peer *p = wg_dev_peer(d, id);
  if (!p) return -ENOENT;
  memset(o, 0, sizeof(*o));
  o->rx_bytes = p->rx_bytes;
  o->tx_bytes = p->tx_bytes;
  o->rx_packets = p->rx_packets;
  o->tx_packets = p->tx_packets;
  o->rx_keepalives = p->rx_keepalives;
  o->tx_keepalives = p->tx_keepalives;
  o->last_rx_ns = p->last_rx_ns;
  o->last_tx_ns = p->last_tx_ns;
  memcpy(o->drops, p->drops, sizeof(o->drops));
  o->staged = p->staged_n;
  o->owes_keepalive = p->owes_keepalive;
  o->has_current = p->current != NULL;
  o->has_previous = p->previous != NULL;
  o->has_next = p->next != NULL;
  if (p->current) {
    o->current_created_ns = p->current->created_ns;
    o->current_send_counter = p->current->send_counter;
  }
  o->endpoint = p->endpoint;
  return 0;
}

void wg_device_drops(const wg_device *d, uint64_t out[WG_DROP_COUNT]) {
  memcpy(out, d->drops, sizeof(d->drops));
}

uint32_t wg_device_staged_peers(const wg_device *d) { return d->nstaged; }

void wg_dev_touch(wg_device *d, wg_peer *p, uint32_t flags) {
  p->flags |= flags;
  if (p->in_touched) return;
  p->in_touched = true;
  d->touched[d->ntouched++] = p->id;
}

void wg_dev_drop(wg_device *d, wg_peer *p, enum wg_drop why) {
  d->drops[why]++;
  if (!p) return;
  p->drops[why]++;
  p->b_drops++;
  wg_dev_touch(d, p, 0);
}

void wg_dev_stage(wg_device *d, wg_peer *p, const uint8_t *pkt,
                  uint32_t len) {
  int rc = wg_peer_stage(p, pkt, len);
  if (rc != 0) wg_dev_drop(d, p, WG_DROP_STAGED_OVERFLOW);
  if (p->staged_n && !p->in_staged_list) {
    p->in_staged_list = true;
    d->staged[d->nstaged++] = p->id;
  }
  wg_dev_touch(d, p, WG_PEER_STAGED);
}

static void summarize(const wg_peer *p, wg_peer_summary *s) {
  s->peer_id = p->id;
  s->flags = p->flags;
  if (p->owes_keepalive) s->flags |= WG_PEER_KEEPALIVE_WANTED;
  if (p->staged_n)
    s->flags |= WG_PEER_STAGED;
  else
    s->flags &= ~(uint32_t)WG_PEER_STAGED;
  s->rx_bytes = p->b_rx_bytes;
  s->tx_bytes = p->b_tx_bytes;
  s->rx_packets = p->b_rx_packets;
  s->tx_packets = p->b_tx_packets;
  s->drops = p->b_drops;
  s->staged = p->staged_n;
}

uint32_t wg_device_take_summaries(wg_device *d, wg_peer_summary *out,
                                  uint32_t cap) {
  uint32_t n = d->ntouched < cap ? d->ntouched : cap;
  if (!n || !out) return 0;
  for (uint32_t i = 0; i < n; i++) {
    wg_peer *p = d->peers[d->touched[i]];
    summarize(p, &out[i]);
    p->flags = 0;
    p->b_rx_packets = p->b_tx_packets = p->b_drops = 0;
    p->b_rx_bytes = p->b_tx_bytes = 0;
    p->in_touched = false;
  }
  memmove(d->touched, d->touched + n, (d->ntouched - n) * sizeof(*d->touched));
  d->ntouched -= n;
  return n;
}
