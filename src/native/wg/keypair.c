/* Keypairs and the receiver-index table, see keypair.h. */
#include <errno.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "wg/keypair.h"
#include "wg/wg_types.h"

int wg_keypair_new(wg_keypair **out, const wg_keypair_params *p,
                   uint32_t peer_id, uint64_t now) {
  wg_keypair *kp = calloc(1, sizeof(*kp));
  if (!kp) return -ENOMEM;
  int rc = wg_aead_init(&kp->send, p->send_key, true);
  if (rc == 0) rc = wg_aead_init(&kp->recv, p->recv_key, false);
  if (rc < 0) {
    wg_keypair_free(kp);
    return rc;
  }
  wg_replay_reset(&kp->replay);
  kp->created_ns = now;
  kp->local_index = p->local_index;
  kp->remote_index = p->remote_index;
  kp->peer_id = peer_id;
  kp->initiator = p->initiator;
  *out = kp;
  return 0;
}

void wg_keypair_free(wg_keypair *kp) {
  if (!kp) return;
  wg_aead_free(&kp->send);
  wg_aead_free(&kp->recv);
  OPENSSL_cleanse(kp, sizeof(*kp));
  free(kp);
}

bool wg_keypair_can_send(const wg_keypair *kp, uint64_t now) {
  return kp && kp->send_counter < WG_REJECT_AFTER_MESSAGES &&
         !wg_keypair_expired(kp, now);
}

bool wg_keypair_expired(const wg_keypair *kp, uint64_t now) {
  /* A clock that went backwards (now < created) is not "older". */
  return now > kp->created_ns && now - kp->created_ns >= WG_REJECT_AFTER_TIME;
}

/* ---- receiver index table ---- */

#define INITIAL_BITS 6
#define MAX_BITS 24

static uint32_t slot_of(const wg_index_table *t, uint32_t index) {
  return (uint32_t)(index * UINT32_C(0x9E3779B1)) >> (32 - t->bits);
}

int wg_index_init(wg_index_table *t) {
  t->bits = INITIAL_BITS;
  t->count = 0;
  t->buckets = calloc(1u << t->bits, sizeof(*t->buckets));
  return t->buckets ? 0 : -ENOMEM;
}

void wg_index_free(wg_index_table *t) {
  free(t->buckets);
  t->buckets = NULL;
  t->count = 0;
}

/* Double the buckets; on allocation failure keep the longer chains. */
static void grow(wg_index_table *t) {
  uint32_t old_n = 1u << t->bits;
  wg_keypair **nb = calloc((size_t)old_n * 2, sizeof(*nb));
  if (!nb) return;
  wg_keypair **old = t->buckets;
  t->buckets = nb;
  t->bits++;
  for (uint32_t i = 0; i < old_n; i++) {
    wg_keypair *kp = old[i];
    while (kp) { /* each keypair moves once: bounded by count */
      wg_keypair *next = kp->hash_next;
      uint32_t s = slot_of(t, kp->local_index);
      kp->hash_next = nb[s];
      nb[s] = kp;
      kp = next;
    }
  }
  free(old);
}

int wg_index_add(wg_index_table *t, wg_keypair *kp) {
  if (wg_index_get(t, kp->local_index)) return -EEXIST;
  if (t->count >= (1u << t->bits) && t->bits < MAX_BITS) grow(t);
  uint32_t s = slot_of(t, kp->local_index);
  kp->hash_next = t->buckets[s];
  t->buckets[s] = kp;
  t->count++;
  return 0;
}

void wg_index_del(wg_index_table *t, wg_keypair *kp) {
  wg_keypair **pp = &t->buckets[slot_of(t, kp->local_index)];
  for (uint32_t i = 0; *pp && i <= t->count; i++) {
    if (*pp == kp) {
      *pp = kp->hash_next;
      kp->hash_next = NULL;
      t->count--;
      return;
    }
    pp = &(*pp)->hash_next;
  }
}

wg_keypair *wg_index_get(const wg_index_table *t, uint32_t index) {
  wg_keypair *kp = t->buckets[slot_of(t, index)];
  for (uint32_t i = 0; kp && i <= t->count; i++) {
    if (kp->local_index == index) return kp;
    kp = kp->hash_next;
  }
  return NULL;
}
