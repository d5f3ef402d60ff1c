/*
 * A receive pool: fixed-size slots in the object's shared memory that the
 * kernel reads into (UDP datagrams, TUN packets), lent to JS for one
 * dispatch, then handed back. One implementation for every object kind:
 * a provided buffer ring for multishot receives, the "held" list of slots
 * JS is looking at, and their recycling.
 */
#ifndef ION_RPOOL_H
#define ION_RPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ring.h"

typedef struct ion_rpool {
  uint8_t *base;      /* slot i at base + i * slot_size */
  uint32_t slots;     /* power of two */
  uint32_t slot_size;
  ion_bufring br;     /* multishot: every slot not held is in it */
  uint32_t *held;     /* slots delivered to JS in this dispatch */
  uint32_t held_n;
} ion_rpool;

int ion_rpool_init(ion_rpool *p, uint8_t *base, uint32_t slots,
                   uint32_t slot_size);
/* Frees the held list and unregisters the buffer ring (if any). */
void ion_rpool_free(ion_rpool *p, ion_ring *r);

static inline uint8_t *ion_rpool_slot(const ion_rpool *p, uint32_t i) {
  return p->base + (size_t)i * p->slot_size;
}

/* Register a provided buffer ring with group id = the object's id and give
 * it every slot. -ENOSPC for ids beyond 16 bits (use single receives). */
int ion_rpool_ring_setup(ion_rpool *p, ion_ring *r, uint32_t obj_id);
/* Lend slot i to JS until the dispatch ends. False if i is out of range
 * or already lent (cannot happen; the caller drops the receive). */
bool ion_rpool_hold(ion_rpool *p, uint32_t i);
/* Multishot: every held slot goes back into the buffer ring. */
void ion_rpool_recycle_ring(ion_rpool *p);

#endif
