/* The receive side's sliding replay window (RFC 6479 style: a ring of
 * 64-bit words, only whole words are cleared as the window moves).
 *
 * 128 words = 8192 bits; one word is always the one being filled, so the
 * window reaches 8128 counters behind the highest seen (the kernel's and
 * wireguard-go's size; the issue asks for at least 2048): reordering by a
 * multi-queue NIC or a GRO batch stays well inside it.
 *
 * Check and update are separate on purpose: the receive path checks before
 * spending a decryption, and updates only once the packet authenticated,
 * so a forged counter can never move the window. */
#ifndef ION_WG_REPLAY_H
#define ION_WG_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define WG_REPLAY_WORDS 128u
#define WG_REPLAY_WINDOW ((WG_REPLAY_WORDS - 1u) * 64u)
/* Counters at or above this are never accepted (sent or received):
 * 2^64 - 2^13 - 1, the paper's Reject-After-Messages. */
#define WG_REJECT_AFTER_MESSAGES (UINT64_MAX - (UINT64_C(1) << 13))

typedef struct wg_replay {
  uint64_t last; /* highest counter accepted so far */
  uint64_t words[WG_REPLAY_WORDS];
} wg_replay;

/* Empty window: every counter from 0 is new. */
void wg_replay_reset(wg_replay *r);
/* Would `counter` be accepted? Changes nothing. */
bool wg_replay_check(const wg_replay *r, uint64_t counter);
/* Accept `counter`: false (and no change) if the check refuses it. */
bool wg_replay_update(wg_replay *r, uint64_t counter);

#endif
