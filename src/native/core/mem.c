/* Reference-counted shared memory (see mem.h). */
#define _GNU_SOURCE
#include "core/mem.h"

#include <stdlib.h>
#include <sys/mman.h>

ion_mem *ion_mem_new(size_t len) {
  if (len == 0) return NULL;
  ion_mem *m = malloc(sizeof(*m));
  if (!m) return NULL;
  /* mmap rather than malloc: page aligned, zeroed, and returned to the
   * system at once when the last view goes (blocks are often megabytes). */
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    free(m);
    return NULL;
  }
  m->base = p;
  m->len = len;
  m->refs = 1;
  return m;
}

void ion_mem_ref(ion_mem *m) {
  __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
}

void ion_mem_unref(ion_mem *m) {
  if (!m) return;
  /* acq_rel: the last owner sees every write the others made before
   * unmapping (V8 may drop a transferred view on another thread). */
  if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  munmap(m->base, m->len);
  free(m);
}
