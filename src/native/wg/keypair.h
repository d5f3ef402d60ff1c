/* A transport keypair (one per completed handshake) and the device's
 * receiver-index table that finds it from a message's receiver field.
 *
 * Keys come from the handshake (TypeScript) in a wg_keypair_params; the
 * keypair keeps them only inside its two OpenSSL contexts. wg_keypair_free
 * frees those (OpenSSL cleanses the key state) and cleanses the struct. */
#ifndef ION_WG_KEYPAIR_H
#define ION_WG_KEYPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/aead.h"
#include "wg/replay.h"

typedef struct wg_keypair_params {
  uint8_t send_key[WG_AEAD_KEY_LEN];
  uint8_t recv_key[WG_AEAD_KEY_LEN];
  uint32_t local_index;  /* ours: the receiver field of messages to us */
  uint32_t remote_index; /* theirs: what we put in messages we send */
  bool initiator;        /* we sent the initiation of this handshake */
} wg_keypair_params;

typedef struct wg_keypair {
  wg_aead send;
  wg_aead recv;
  wg_replay replay;
  uint64_t send_counter; /* the next counter to use */
  uint64_t created_ns;
  uint32_t local_index;
  uint32_t remote_index;
  uint32_t peer_id;
  bool initiator;
  bool last_minute_flagged; /* see WG_PEER_HANDSHAKE_WANTED */
  struct wg_keypair *hash_next;
} wg_keypair;

/* 0, -ENOMEM, -EIO. The params' keys are not modified; cleanse them. */
int wg_keypair_new(wg_keypair **out, const wg_keypair_params *p,
                   uint32_t peer_id, uint64_t now);
void wg_keypair_free(wg_keypair *kp); /* NULL is fine */

/* May we still send with it: counter below Reject-After-Messages and
 * younger than Reject-After-Time. */
bool wg_keypair_can_send(const wg_keypair *kp, uint64_t now);
/* Too old to accept packets (Reject-After-Time). */
bool wg_keypair_expired(const wg_keypair *kp, uint64_t now);

/* Receiver index -> keypair: a chained hash whose bucket count doubles
 * with the load. Indices are random (chosen by the handshake), but a
 * multiplicative hash keeps chains short for any choice. */
typedef struct wg_index_table {
  wg_keypair **buckets;
  uint32_t bits;  /* log2 of the bucket count */
  uint32_t count;
} wg_index_table;

int wg_index_init(wg_index_table *t);
void wg_index_free(wg_index_table *t); /* not the keypairs */
/* 0, -EEXIST (index in use), -ENOMEM. */
int wg_index_add(wg_index_table *t, wg_keypair *kp);
void wg_index_del(wg_index_table *t, wg_keypair *kp);
wg_keypair *wg_index_get(const wg_index_table *t, uint32_t index);

#endif
