/*
 * The ring layer: io_uring setup, SQE get/submit, CQE reap, provided buffer
 * rings and probing. Plain C with no Node headers, so the C tests can drive
 * it directly. Every function returns 0 or a count on success and -errno on
 * failure (the liburing/libuv convention).
 */
#ifndef ION_RING_H
#define ION_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/uapi.h"

typedef struct ion_ring {
  int fd;
  uint32_t setup_flags; /* flags the kernel accepted */
  uint32_t features;
  /* submission queue */
  uint32_t *sq_khead;
  uint32_t *sq_ktail;
  uint32_t *sq_kflags;
  uint32_t *sq_array; /* NULL with NO_SQARRAY */
  uint32_t sq_mask;
  uint32_t sq_entries;
  uint32_t sqe_tail; /* local: SQEs handed out (published at submit) */
  struct ion_sqe *sqes;
  /* completion queue */
  uint32_t *cq_khead;
  uint32_t *cq_ktail;
  uint32_t *cq_koverflow;
  uint32_t cq_mask;
  uint32_t cq_entries;
  struct ion_cqe *cqes;
  /* mappings, for teardown */
  void *sq_map;
  size_t sq_map_len;
  void *cq_map; /* == sq_map with SINGLE_MMAP */
  size_t cq_map_len;
  size_t sqes_map_len;
  /* Fault injection for the C tests only: the next inject_n calls of
   * ion_ring_submit fail with inject_err without entering the kernel, as
   * a refused io_uring_enter would (EAGAIN, EBUSY, EBADR). */
  int inject_err;
  unsigned inject_n;
} ion_ring;

/* Setup flags we ask for first; ion_ring_init drops them one at a time on
 * EINVAL (older kernels). Never SQPOLL: its kernel thread keeps the
 * credentials of the creator (libuv CVE-2024-22017). */
#define ION_RING_WANT_FLAGS                                                  \
  (ION_SETUP_SINGLE_ISSUER | ION_SETUP_DEFER_TASKRUN | ION_SETUP_NO_SQARRAY | \
   ION_SETUP_CQSIZE | ION_SETUP_CLAMP | ION_SETUP_SUBMIT_ALL |               \
   ION_SETUP_TASKRUN_FLAG)

/* Create a ring with sq_entries SQEs and cq_entries CQEs, asking for `flags`
 * and dropping unsupported ones. */
int ion_ring_init(ion_ring *r, unsigned sq_entries, unsigned cq_entries,
                  uint32_t flags);
void ion_ring_close(ion_ring *r);

/* Next free SQE (zeroed), or NULL when the SQ is full: submit, then retry. */
struct ion_sqe *ion_ring_get_sqe(ion_ring *r);
/* SQEs handed out that the kernel has not consumed yet, counted from the
 * kernel's head as liburing does: SQEs left by a failed or partial enter
 * are still pending and are offered again by the next submit. */
unsigned ion_ring_sq_pending(const ion_ring *r);

/* Publish pending SQEs and enter the kernel once. With getevents (or
 * wait_nr > 0) deferred task work runs and completions are posted.
 * Returns the number submitted, or -errno (EINTR is retried here; EAGAIN,
 * EBUSY and EBADR are the caller's to count and retry later). */
int ion_ring_submit(ion_ring *r, unsigned wait_nr, bool getevents);
/* True when the kernel has task work waiting for us (IORING_SQ_TASKRUN,
 * with TASKRUN_FLAG): enter with GETEVENTS to run it. */
bool ion_ring_taskrun_pending(const ion_ring *r);

/* Completions: peek up to max CQEs without consuming them, then advance. */
unsigned ion_ring_peek_cqes(ion_ring *r, struct ion_cqe **out, unsigned max);
void ion_ring_cq_advance(ion_ring *r, unsigned n);
unsigned ion_ring_cq_ready(const ion_ring *r);
/* True when the kernel holds completions that did not fit in the CQ
 * (IORING_SQ_CQ_OVERFLOW): enter with GETEVENTS to flush them. */
bool ion_ring_cq_overflowed(const ion_ring *r);

int ion_ring_register_eventfd(ion_ring *r, int efd);

/* Which opcodes the kernel supports: fills supported[op] for op < n.
 * Returns the number of known ops, or -errno. */
int ion_ring_probe_ops(ion_ring *r, uint8_t *supported, unsigned n);

/* A provided buffer ring (kernel 5.19+). The ring of buffer descriptors is
 * our own page-aligned mapping; the buffers it points at are the caller's. */
typedef struct ion_bufring {
  struct ion_buf *bufs;
  size_t map_len;
  uint32_t entries; /* power of two */
  uint16_t bgid;
  uint16_t tail; /* local tail, published by ion_bufring_publish */
  bool registered;
} ion_bufring;

int ion_bufring_setup(ion_ring *r, ion_bufring *br, unsigned entries,
                      uint16_t bgid);
/* Queue a buffer for the kernel; visible after ion_bufring_publish. */
void ion_bufring_add(ion_bufring *br, void *addr, uint32_t len, uint16_t bid);
void ion_bufring_publish(ion_bufring *br);
/* Unregister (the kernel stops using it) and unmap. Safe to call twice. */
void ion_bufring_free(ion_ring *r, ion_bufring *br);

#endif
