/* Receive pools (see rpool.h). */
#include "core/rpool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ion_rpool_init(ion_rpool *p, uint8_t *base, uint32_t slots,
                   uint32_t slot_size) {
  memset(p, 0, sizeof(*p));
  p->base = base;
  p->slots = slots;
  p->slot_size = slot_size;
  if (slots == 0) return 0;
  p->held = calloc(slots, sizeof(*p->held));
  return p->held ? 0 : -ENOMEM;
}

void ion_rpool_free(ion_rpool *p, ion_ring *r) {
  ion_bufring_free(r, &p->br);
  free(p->held);
  p->held = NULL;
  p->held_n = 0;
}

int ion_rpool_ring_setup(ion_rpool *p, ion_ring *r, uint32_t obj_id) {
  /* Group ids are 16 bits; 0xfff0.. stay free for probes. */
  if (obj_id >= 0xfff0) return -ENOSPC;
  int rc = ion_bufring_setup(r, &p->br, p->slots, (uint16_t)obj_id);
  if (rc < 0) return rc;
  for (uint32_t i = 0; i < p->slots; i++)
    ion_bufring_add(&p->br, ion_rpool_slot(p, i), p->slot_size, (uint16_t)i);
  ion_bufring_publish(&p->br);
  return 0;
}

bool ion_rpool_hold(ion_rpool *p, uint32_t i) {
  if (i >= p->slots || p->held_n >= p->slots) return false;
  p->held[p->held_n++] = i;
  return true;
}

void ion_rpool_recycle_ring(ion_rpool *p) {
  for (uint32_t k = 0; k < p->held_n; k++)
    ion_bufring_add(&p->br, ion_rpool_slot(p, p->held[k]), p->slot_size,
                    (uint16_t)p->held[k]);
  if (p->held_n) ion_bufring_publish(&p->br);
  p->held_n = 0;
}
