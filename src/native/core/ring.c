/* The ring layer (see ring.h). Memory ordering follows the kernel's rules:
 * we read the tails the kernel writes (CQ tail, SQ head) with acquire and
 * publish the indices we own (SQ tail, CQ head, buffer ring tail) with
 * release, so the kernel never sees an index before the entry it covers. */
#define _GNU_SOURCE
#include "core/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static int sys_setup(unsigned entries, struct ion_params *p) {
  long rc = syscall(ION_NR_io_uring_setup, entries, p);
  return rc < 0 ? -errno : (int)rc;
}

static int sys_enter(int fd, unsigned to_submit, unsigned min_complete,
                     unsigned flags) {
  long rc = syscall(ION_NR_io_uring_enter, fd, to_submit, min_complete, flags,
                    NULL, 0);
  return rc < 0 ? -errno : (int)rc;
}

static int sys_register(int fd, unsigned op, void *arg, unsigned nr) {
  long rc = syscall(ION_NR_io_uring_register, fd, op, arg, nr);
  return rc < 0 ? -errno : (int)rc;
}

/* The order in which we give up flags when the kernel says EINVAL: newest
 * first. DEFER_TASKRUN needs SINGLE_ISSUER, and TASKRUN_FLAG needs
 * DEFER_TASKRUN (or COOP_TASKRUN), so each goes before what it needs. */
static const uint32_t drop_order[] = {
    ION_SETUP_NO_SQARRAY,    ION_SETUP_TASKRUN_FLAG, ION_SETUP_DEFER_TASKRUN,
    ION_SETUP_SINGLE_ISSUER, ION_SETUP_SUBMIT_ALL,   ION_SETUP_CLAMP,
    ION_SETUP_CQSIZE,
};

static int setup_with_fallback(unsigned entries, unsigned cq_entries,
                               uint32_t flags, struct ion_params *p) {
  size_t i = 0;
  for (;;) {
    memset(p, 0, sizeof(*p));
    p->flags = flags;
    p->cq_entries = cq_entries;
    int fd = sys_setup(entries, p);
    if (fd != -EINVAL) return fd;
    while (i < sizeof(drop_order) / sizeof(drop_order[0]) &&
           !(flags & drop_order[i]))
      i++;
    if (i == sizeof(drop_order) / sizeof(drop_order[0])) return -EINVAL;
    flags &= ~drop_order[i];
  }
}

static int map_rings(ion_ring *r, const struct ion_params *p) {
  r->sq_map_len = p->sq_off.array + p->sq_entries * sizeof(uint32_t);
  if (r->setup_flags & ION_SETUP_NO_SQARRAY)
    r->sq_map_len = p->sq_off.flags + sizeof(uint32_t) + 64;
  r->cq_map_len = p->cq_off.cqes + p->cq_entries * sizeof(struct ion_cqe);
  bool single = (p->features & ION_FEAT_SINGLE_MMAP) != 0;
  if (single && r->cq_map_len > r->sq_map_len) r->sq_map_len = r->cq_map_len;

  r->sq_map = mmap(NULL, r->sq_map_len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, r->fd, ION_OFF_SQ_RING);
  if (r->sq_map == MAP_FAILED) return r->sq_map = NULL, -errno;
  if (single) {
    r->cq_map = r->sq_map;
  } else {
    r->cq_map = mmap(NULL, r->cq_map_len, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_POPULATE, r->fd, ION_OFF_CQ_RING);
    if (r->cq_map == MAP_FAILED) return r->cq_map = NULL, -errno;
  }
  r->sqes_map_len = p->sq_entries * sizeof(struct ion_sqe);
  void *sqes = mmap(NULL, r->sqes_map_len, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_POPULATE, r->fd, ION_OFF_SQES);
  if (sqes == MAP_FAILED) return -errno;
  r->sqes = sqes;

  char *sq = r->sq_map, *cq = r->cq_map;
  r->sq_khead = (uint32_t *)(sq + p->sq_off.head);
  r->sq_ktail = (uint32_t *)(sq + p->sq_off.tail);
  r->sq_kflags = (uint32_t *)(sq + p->sq_off.flags);
  r->sq_mask = *(uint32_t *)(sq + p->sq_off.ring_mask);
  r->sq_entries = *(uint32_t *)(sq + p->sq_off.ring_entries);
  r->cq_khead = (uint32_t *)(cq + p->cq_off.head);
  r->cq_ktail = (uint32_t *)(cq + p->cq_off.tail);
  r->cq_koverflow = (uint32_t *)(cq + p->cq_off.overflow);
  r->cq_mask = *(uint32_t *)(cq + p->cq_off.ring_mask);
  r->cq_entries = *(uint32_t *)(cq + p->cq_off.ring_entries);
  r->cqes = (struct ion_cqe *)(cq + p->cq_off.cqes);
  if (!(r->setup_flags & ION_SETUP_NO_SQARRAY)) {
    /* Identity map once: SQE i always sits in slot i. */
    r->sq_array = (uint32_t *)(sq + p->sq_off.array);
    for (uint32_t i = 0; i < r->sq_entries; i++) r->sq_array[i] = i;
  }
  r->sqe_tail = *r->sq_ktail;
  return 0;
}

int ion_ring_init(ion_ring *r, unsigned sq_entries, unsigned cq_entries,
                  uint32_t flags) {
  struct ion_params p;
  memset(r, 0, sizeof(*r));
  r->fd = -1;
  int fd = setup_with_fallback(sq_entries, cq_entries, flags, &p);
  if (fd < 0) return fd;
  r->fd = fd;
  r->setup_flags = p.flags;
  r->features = p.features;
  int rc = map_rings(r, &p);
  if (rc < 0) ion_ring_close(r);
  return rc;
}

void ion_ring_close(ion_ring *r) {
  if (r->sqes) munmap(r->sqes, r->sqes_map_len);
  if (r->cq_map && r->cq_map != r->sq_map) munmap(r->cq_map, r->cq_map_len);
  if (r->sq_map) munmap(r->sq_map, r->sq_map_len);
  if (r->fd >= 0) close(r->fd);
  memset(r, 0, sizeof(*r));
  r->fd = -1;
}

struct ion_sqe *ion_ring_get_sqe(ion_ring *r) {
  uint32_t head = load_acquire(r->sq_khead);
  if (r->sqe_tail - head >= r->sq_entries) return NULL;
  struct ion_sqe *sqe = &r->sqes[r->sqe_tail & r->sq_mask];
  r->sqe_tail++;
  memset(sqe, 0, sizeof(*sqe));
  return sqe;
}

unsigned ion_ring_sq_pending(const ion_ring *r) {
  return r->sqe_tail - load_acquire(r->sq_khead);
}

int ion_ring_submit(ion_ring *r, unsigned wait_nr, bool getevents) {
  store_release(r->sq_ktail, r->sqe_tail);
  unsigned to_submit = ion_ring_sq_pending(r);
  unsigned flags = (getevents || wait_nr) ? ION_ENTER_GETEVENTS : 0;
  if (to_submit == 0 && flags == 0) return 0;
  if (r->inject_n) {
    r->inject_n--;
    return r->inject_err;
  }
  int rc;
  do {
    rc = sys_enter(r->fd, to_submit, wait_nr, flags);
  } while (rc == -EINTR);
  return rc;
}

unsigned ion_ring_cq_ready(const ion_ring *r) {
  return load_acquire(r->cq_ktail) - *r->cq_khead;
}

unsigned ion_ring_peek_cqes(ion_ring *r, struct ion_cqe **out, unsigned max) {
  uint32_t head = *r->cq_khead;
  uint32_t ready = load_acquire(r->cq_ktail) - head;
  unsigned n = ready < max ? ready : max;
  for (unsigned i = 0; i < n; i++) out[i] = &r->cqes[(head + i) & r->cq_mask];
  return n;
}

void ion_ring_cq_advance(ion_ring *r, unsigned n) {
  if (n) store_release(r->cq_khead, *r->cq_khead + n);
}

bool ion_ring_taskrun_pending(const ion_ring *r) {
  return (load_acquire(r->sq_kflags) & ION_SQ_TASKRUN) != 0;
}

bool ion_ring_cq_overflowed(const ion_ring *r) {
  return (load_acquire(r->sq_kflags) & ION_SQ_CQ_OVERFLOW) != 0;
}

int ion_ring_register_eventfd(ion_ring *r, int efd) {
  return sys_register(r->fd, ION_REGISTER_EVENTFD, &efd, 1);
}

int ion_ring_probe_ops(ion_ring *r, uint8_t *supported, unsigned n) {
  const unsigned nops = 256;
  size_t len = sizeof(struct ion_probe) + nops * sizeof(struct ion_probe_op);
  struct ion_probe *p = calloc(1, len);
  if (!p) return -ENOMEM;
  int rc = sys_register(r->fd, ION_REGISTER_PROBE, p, nops);
  if (rc >= 0) {
    memset(supported, 0, n);
    for (unsigned i = 0; i < p->ops_len && i < nops; i++) {
      unsigned op = p->ops[i].op;
      if (op < n && (p->ops[i].flags & ION_IO_URING_OP_SUPPORTED))
        supported[op] = 1;
    }
    rc = p->last_op + 1;
  }
  free(p);
  return rc;
}

int ion_bufring_setup(ion_ring *r, ion_bufring *br, unsigned entries,
                      uint16_t bgid) {
  memset(br, 0, sizeof(*br));
  if (entries == 0 || entries > 32768 || (entries & (entries - 1)))
    return -EINVAL;
  long page = sysconf(_SC_PAGESIZE);
  size_t len = entries * sizeof(struct ion_buf);
  len = (len + (size_t)page - 1) & ~((size_t)page - 1);
  void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return -errno;
  struct ion_buf_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.ring_addr = (uint64_t)(uintptr_t)mem;
  reg.ring_entries = entries;
  reg.bgid = bgid;
  int rc = sys_register(r->fd, ION_REGISTER_PBUF_RING, &reg, 1);
  if (rc < 0) {
    munmap(mem, len);
    return rc;
  }
  br->bufs = mem;
  br->map_len = len;
  br->entries = entries;
  br->bgid = bgid;
  br->registered = true;
  return 0;
}

void ion_bufring_add(ion_bufring *br, void *addr, uint32_t len, uint16_t bid) {
  struct ion_buf *b = &br->bufs[br->tail & (br->entries - 1)];
  b->addr = (uint64_t)(uintptr_t)addr;
  b->len = len;
  b->bid = bid;
  br->tail++;
}

void ion_bufring_publish(ion_bufring *br) {
  /* The kernel reads the tail from the resv field of slot 0. */
  store_release(&br->bufs[0].resv, br->tail);
}

void ion_bufring_free(ion_ring *r, ion_bufring *br) {
  if (br->registered && r->fd >= 0) {
    struct ion_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.bgid = br->bgid;
    sys_register(r->fd, ION_UNREGISTER_PBUF_RING, &reg, 1);
  }
  if (br->bufs) munmap(br->bufs, br->map_len);
  memset(br, 0, sizeof(*br));
}
