/* Peers: keypair rotation and the staged queue, see peer.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wg/peer.h"

/* Staged buffers start at this size so typical packets (<= MTU) never
 * make a slot grow twice. */
#define STAGED_MIN_CAP 2048u

int wg_peer_new(wg_peer **out, uint32_t id, uint32_t staged_cap) {
  wg_peer *p = calloc(1, sizeof(*p));
  if (!p) return -ENOMEM;
  p->staged = calloc(staged_cap ? staged_cap : 1, sizeof(*p->staged));
  if (!p->staged) {
    free(p);
    return -ENOMEM;
  }
  p->id = id;
  p->staged_cap = staged_cap ? staged_cap : 1;
  p->batch_head = p->batch_tail = -1;
  *out = p;
  return 0;
}

static void drop_keypair(wg_index_table *idx, wg_keypair **slot) {
  if (!*slot) return;
  wg_index_del(idx, *slot);
  wg_keypair_free(*slot);
  *slot = NULL;
}

void wg_peer_clear_keys(wg_peer *p, wg_index_table *idx) {
  drop_keypair(idx, &p->current);
  drop_keypair(idx, &p->previous);
  drop_keypair(idx, &p->next);
}

bool wg_peer_drop_keypair(wg_peer *p, uint32_t local_index,
                          wg_index_table *idx) {
  wg_keypair **slots[] = {&p->current, &p->previous, &p->next};
  for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
    if (*slots[i] && (*slots[i])->local_index == local_index) {
      drop_keypair(idx, slots[i]);
      return true;
    }
  }
  return false;
}

void wg_peer_free(wg_peer *p, wg_index_table *idx) {
  if (!p) return;
  wg_peer_clear_keys(p, idx);
  for (uint32_t i = 0; i < p->staged_cap; i++) free(p->staged[i].buf);
  free(p->staged);
  free(p);
}

int wg_peer_stage(wg_peer *p, const uint8_t *pkt, uint32_t len) {
  int dropped = 0;
  if (p->staged_n == p->staged_cap) { /* drop the oldest: fresher data wins */
    wg_peer_staged_pop(p);
    dropped = 1;
  }
  wg_staged *s = &p->staged[(p->staged_head + p->staged_n) % p->staged_cap];
  if (len > s->cap) {
    uint32_t cap = len > STAGED_MIN_CAP ? len : STAGED_MIN_CAP;
    uint8_t *nb = realloc(s->buf, cap);
    if (!nb) return -ENOMEM;
    s->buf = nb;
    s->cap = cap;
  }
  if (len) memcpy(s->buf, pkt, len);
  s->len = len;
  p->staged_n++;
  return dropped;
}

wg_staged *wg_peer_staged_head(wg_peer *p) {
  return p->staged_n ? &p->staged[p->staged_head] : NULL;
}

void wg_peer_staged_pop(wg_peer *p) {
  if (!p->staged_n) return;
  p->staged_head = (p->staged_head + 1) % p->staged_cap;
  p->staged_n--;
}

int wg_peer_install(wg_peer *p, wg_keypair *kp, wg_index_table *idx) {
  int rc = wg_index_add(idx, kp);
  if (rc < 0) return rc;
  if (kp->initiator) {
    /* A pending next (we were also responder in a crossing handshake)
     * was never confirmed but may still carry their packets: keep it as
     * previous rather than the older current. */
    if (p->next) {
      drop_keypair(idx, &p->previous);
      p->previous = p->next;
      p->next = NULL;
      drop_keypair(idx, &p->current);
    } else {
      drop_keypair(idx, &p->previous);
      p->previous = p->current;
    }
    p->current = kp;
  } else {
    /* Responder: current keeps sending until the initiator proves it
     * holds the new keys; previous is too old to keep. */
    drop_keypair(idx, &p->next);
    drop_keypair(idx, &p->previous);
    p->next = kp;
  }
  return 0;
}

bool wg_peer_confirm(wg_peer *p, wg_keypair *kp, wg_index_table *idx) {
  if (!kp || p->next != kp) return false;
  drop_keypair(idx, &p->previous);
  p->previous = p->current;
  p->current = kp;
  p->next = NULL;
  return true;
}
