/* ion_file internals shared by file.c (the lifecycle and the requests),
 * tun/tun_io.c (reading a TUN queue on the ring) and file_poll.c (the poll
 * backend). Not for other files. */
#ifndef ION_FILE_INTERNAL_H
#define ION_FILE_INTERNAL_H

#include <stdbool.h>

#include "core/dring.h"
#include "core/mem.h"
#include "core/ring.h"
#include "core/rpool.h"
#include "file/file.h"

/* Operation kinds in user_data (reactor.h). */
enum {
  K_READ_MULTI = 1,
  K_READ_SINGLE = 2,
  K_REQ = 3,
  K_CANCEL = 4,
  K_VWRITE = 5, /* vnet: a write of one or more packets (tun/tun_vwrite.c) */
  K_LOST_CHECK = 6, /* after dropped CQEs: is the multishot read there? */
};

struct ion_tun_vread;
struct ion_tun_vwrite;

struct ion_file {
  ion_obj obj; /* first: the reactor frees ion_file through it */
  ion_reactor *rx;
  int fd;
  ion_file_config cfg;
  ion_file_layout lay;
  ion_mem *block; /* the memory shared with JS (mem.h); ours until finalize */
  uint8_t *mem;   /* block->base */
  int32_t *ctrl;
  double *stats;
  int32_t *rmeta;
  /* reading (TUN, tun/tun_io.c) */
  ion_rpool pool;
  bool reading;
  bool refd;
  bool multishot;
  bool ms_armed;
  bool ms_delivered; /* multishot worked once: later errors are real */
  uint32_t *free_slots; /* single: slots neither in a chain nor with JS */
  uint32_t nfree;
  uint32_t chain_left; /* single: reads of the current chain in flight */
  bool cancelling;     /* a cancel request is in flight */
  /* requests */
  ion_dring dr;
  bool want_write;     /* poll: a TUN write hit EAGAIN, wait for POLLOUT */
  /* vnet TUN (cfg.vnet): reading and writing with virtio headers */
  struct ion_tun_vread *vr;
  struct ion_tun_vwrite *vw;
};

/* One request from shared memory, checked (ion_file_check_req). */
typedef struct ion_file_req {
  uint8_t *buf;
  uint32_t len;
  int op;       /* ION_QOP_* */
  bool at_pos;  /* false: the fd's own position (TUN, or position -1) */
  uint64_t pos; /* when at_pos */
} ion_file_req;

static inline uint8_t *ion_file_slot(ion_file *f, uint32_t i) {
  return ion_rpool_slot(&f->pool, i);
}
void ion_file_update_alive(ion_file *f);
/* Slot i holds res bytes read from the fd: describe the packet for JS. */
void ion_file_deliver(ion_file *f, uint32_t i, uint32_t res);
/* A read failed for good: report it once and stop reading. */
void ion_file_read_error(ion_file *f, int32_t res);
/* Check descriptor d from JS: 0, or -errno that fails this request only. */
int ion_file_check_req(ion_file *f, const int32_t *d, ion_file_req *out);
/* Request slot finished with res (bytes or -errno). */
void ion_file_req_done(ion_file *f, uint32_t slot, int32_t res);
/* The tail JS published, or -EPROTO after failing the object (dring.h). */
int ion_file_tail(ion_file *f, uint32_t *tail);
/* One cancel for everything on the fd (at most one in flight). */
void ion_file_queue_cancel(ion_file *f);

/* Reading a TUN queue on the ring (tun/tun_io.c). */
int ion_tun_io_alloc(ion_file *f);
int ion_tun_io_arm(ion_file *f);
void ion_tun_io_complete(ion_file *f, unsigned kind, uint32_t slot,
                         int32_t res, uint32_t flags);
/* After the dispatch: lent slots back to the kernel, reads re-armed. */
void ion_tun_io_recycle(ion_file *f);
/* A cancel finished (closing a single-mode reader repeats it). */
void ion_tun_io_cancelled(ion_file *f);
/* What found no SQE: the multishot read or the chain. */
void ion_tun_io_resume(ion_file *f);
/* ion_obj_ops.lost: after dropped CQEs, check the multishot read (true
 * when there is nothing to check or the check is queued). */
bool ion_tun_io_lost(ion_file *f);

/* The poll backend: slots free for read() (all but held and kept ones). */
int ion_tun_io_poll_slot(ion_file *f, uint32_t *slot);

/* vnet TUN devices (tun/tun_vread.c, tun/tun_vwrite.c). */
int ion_tun_vnet_alloc(ion_file *f);
void ion_tun_vnet_free(ion_file *f);
int ion_tun_vwrite_alloc(ion_file *f);
void ion_tun_vwrite_free(ion_file *f);
/* A read of len bytes (virtio header + packet) landed in slot. */
void ion_tun_vnet_deliver(ion_file *f, uint32_t slot, uint32_t len);
/* After the dispatch (rcount is 0 again): deliver what was kept. */
void ion_tun_vnet_after_dispatch(ion_file *f);
/* Take, coalesce and write what JS pushed (both backends). */
void ion_tun_vnet_flush(ion_file *f);
void ion_tun_vnet_complete(ion_file *f, uint32_t slot, int32_t res);
/* Closing: fail writes that were planned and not yet submitted. */
void ion_tun_vnet_close(ion_file *f);
unsigned ion_tun_vnet_gro(const ion_file *f);
/* Checksums of packets written from now on are vouched for (they came out
 * of WireGuard's authenticated decryption): coalescing skips checking them
 * (offload.h ION_GRO_TRUSTED). No effect without offloads. */
void ion_tun_vnet_trust(ion_file *f, bool on);
/* Tests: the next n coalesced writes fail as if the kernel refused them
 * (EINVAL), without reaching the kernel. */
void ion_tun_vnet_test_refuse(ion_file *f, uint32_t n);

/* The poll backend (file_poll.c): run every request JS pushed now. */
void ion_fpoll_flush(ion_file *f);
/* Set on poll-backend objects: how the addon's uv_poll drives them. */
extern const ion_poll_ops ion_fpoll_ops;

#endif
