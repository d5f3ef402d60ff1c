/* Replay window, see replay.h. Bit `c % 64` of word `(c / 64) % 128`
 * stands for counter c while c is inside the window. */
#include <string.h>

#include "wg/replay.h"

#define WORD_MASK (WG_REPLAY_WORDS - 1u)

void wg_replay_reset(wg_replay *r) { memset(r, 0, sizeof(*r)); }

bool wg_replay_check(const wg_replay *r, uint64_t counter) {
  if (counter >= WG_REJECT_AFTER_MESSAGES) return false;
  if (counter > r->last) return true; /* ahead of the window: new */
  if (r->last - counter > WG_REPLAY_WINDOW) return false; /* too old */
  uint64_t word = r->words[(counter >> 6) & WORD_MASK];
  return !(word & (UINT64_C(1) << (counter & 63)));
}

bool wg_replay_update(wg_replay *r, uint64_t counter) {
  if (!wg_replay_check(r, counter)) return false;
  if (counter > r->last) {
    /* Clear the words the window slides over; a jump of a whole ring or
     * more clears it all, so the loop runs at most WG_REPLAY_WORDS times. */
    uint64_t from = r->last >> 6, to = counter >> 6;
    uint64_t steps = to - from;
    if (steps > WG_REPLAY_WORDS) steps = WG_REPLAY_WORDS;
    for (uint64_t i = 1; i <= steps; i++)
      r->words[(from + i) & WORD_MASK] = 0;
    r->last = counter;
  }
  r->words[(counter >> 6) & WORD_MASK] |= UINT64_C(1) << (counter & 63);
  return true;
}
