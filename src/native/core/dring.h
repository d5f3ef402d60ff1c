/*
 * The request ring JS fills: UDP sends, TUN writes, file reads and writes.
 * One protocol for every object kind. JS writes descriptors (ION_D_WORDS
 * int32 each, in shared memory) and publishes how many it pushed in
 * ctrl[ION_C_STAIL]; native takes them in order (next), completes them in
 * any order, and reports a frontier: every descriptor before it has
 * completed, and its result word is final.
 *
 * Native trusts nothing it reads back: the tail is checked against what
 * native took and the ring's size (a bad one poisons the ring, -EPROTO),
 * every descriptor field is checked by the object before use, and native's
 * own counters (next, frontier, done flags) never live in shared memory.
 */
#ifndef ION_DRING_H
#define ION_DRING_H

#include <stdbool.h>
#include <stdint.h>

#include "core/reactor.h"

/* Words of a descriptor every kind shares (UDP adds its address words). */
enum {
  ION_D_OFF = 0, /* payload offset in the object's memory */
  ION_D_LEN = 1, /* payload length */
  ION_D_RES = 2, /* native: the result, bytes or -errno */
  ION_D_WORDS = 12
};

typedef struct ion_dring {
  int32_t *desc;        /* slots * ION_D_WORDS, shared with JS */
  const int32_t *ctrl;  /* the object's control words (ION_C_STAIL) */
  uint8_t *done;        /* per slot: completed, frontier not past it yet */
  uint32_t slots;       /* power of two */
  uint32_t next;        /* next descriptor to take */
  uint32_t frontier;    /* every descriptor before it has completed */
  bool poisoned;        /* JS published an impossible tail: take no more */
} ion_dring;

int ion_dring_init(ion_dring *d, int32_t *desc, const int32_t *ctrl,
                   uint32_t slots);
void ion_dring_free(ion_dring *d);

/* The tail JS published, if possible: at or after what native took, and
 * at most `slots` past the frontier. Otherwise the ring is poisoned and
 * -EPROTO returned (also every later call). */
int ion_dring_tail(ion_dring *d, uint32_t *tail);

static inline uint32_t ion_dring_slot(const ion_dring *d, uint32_t seq) {
  return seq & (d->slots - 1);
}
static inline int32_t *ion_dring_desc(ion_dring *d, uint32_t slot) {
  return &d->desc[(size_t)slot * ION_D_WORDS];
}

/* Descriptor slot finished with res. */
void ion_dring_done(ion_dring *d, uint32_t slot, int32_t res);
/* Complete with err every descriptor JS pushed and native had not taken
 * (on close). Returns how many. */
uint32_t ion_dring_fail_pending(ion_dring *d, int32_t err);
/* Move the frontier past finished descriptors, store it in o->sdone and
 * tell JS (ION_EV_SENT) if tell, or if JS asked (ctrl[ION_C_SWANT]). */
void ion_dring_report(ion_dring *d, ion_reactor *rx, ion_obj *o, bool tell);
/* A window of the ring that JS lent native code to fill (SendQueue.window
 * in src/core/sendqueue.ts): descriptors from seq, at most slots of them,
 * payloads packed within [data, data + data_len). Producers that move
 * packets between objects in C (WireGuard, forwarders) write descriptors
 * and payloads there; JS then accounts them (commitWindow) and pushes. */
typedef struct ion_dring_window {
  uint32_t seq;
  uint32_t slots;
  uint8_t *data;     /* inside the object's request data region */
  uint32_t data_off; /* data - the object's memory (descriptor OFF words) */
  uint32_t data_len;
  uint32_t used;     /* descriptors filled */
  uint32_t fill;     /* payload bytes used, from data */
} ion_dring_window;

/* Check a window JS asked for against native's own counters and the data
 * region [lo, lo + span) of memory mem: seq is the tail JS published (the
 * next descriptor it would push), the slots fit in the ring past the
 * frontier, the bytes lie in the region. 0, or -EINVAL (nothing to fill). */
int ion_dring_window_open(ion_dring *d, ion_dring_window *w, uint8_t *mem,
                          uint32_t lo, uint32_t span, uint32_t seq,
                          uint32_t slots, uint32_t off, uint32_t len);
/* Room for the next descriptor with a payload of len bytes (aligned to
 * align, a power of two <= 64): its descriptor (zeroed but for OFF/LEN)
 * and payload pointer, or NULL when the window is full. */
int32_t *ion_dring_window_next(ion_dring *d, ion_dring_window *w,
                               uint32_t len, uint32_t align,
                               uint8_t **payload);

/* Descriptors taken and not yet past the frontier. */
static inline bool ion_dring_busy(const ion_dring *d) {
  return d->next != d->frontier;
}

#endif
