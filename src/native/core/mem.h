/*
 * Memory shared with JS, owned by the addon.
 *
 * The kernel (provided buffers, recvmsg into a slot) and the addon write
 * into this memory asynchronously, so it must never be memory that JS can
 * free: a JS ArrayBuffer can be detached (structuredClone with transfer,
 * postMessage, ArrayBuffer.prototype.transfer) and then collected while
 * the kernel still writes into it. An ion_mem is an anonymous mapping with
 * a reference count: the native object holds one reference until it has
 * finalized (every request returned), and every ArrayBuffer JS gets over it
 * holds one until V8 drops its backing store, wherever (whichever thread)
 * that happens. The mapping goes away with the last reference only.
 */
#ifndef ION_MEM_H
#define ION_MEM_H

#include <stddef.h>
#include <stdint.h>

typedef struct ion_mem {
  uint8_t *base; /* page aligned, zero filled at creation */
  size_t len;
  int refs; /* atomic */
} ion_mem;

/* A new block of len bytes (> 0) with one reference, or NULL (ENOMEM). */
ion_mem *ion_mem_new(size_t len);
void ion_mem_ref(ion_mem *m);
/* Drop a reference; the last one unmaps. Safe from any thread. NULL ok. */
void ion_mem_unref(ion_mem *m);

#endif
