/* ion_file internals shared by file.c (the ring path and the lifecycle) and
 * file_poll.c (the poll backend). Not for other files. */
#ifndef ION_FILE_INTERNAL_H
#define ION_FILE_INTERNAL_H

#include <stdbool.h>

#include "file/file.h"
#include "core/ring.h"

struct ion_file {
  ion_obj obj; /* first: the reactor frees ion_file through it */
  ion_reactor *rx;
  int fd;
  ion_file_config cfg;
  ion_file_layout lay;
  uint8_t *mem;
  int32_t *ctrl;
  double *stats;
  int32_t *rmeta;
  int32_t *qdesc;
  uint8_t *rpool;
  /* reading (TUN) */
  bool reading;
  bool refd;
  bool multishot;
  bool ms_armed;
  bool ms_delivered; /* multishot worked once: later errors are real */
  ion_bufring br;
  uint32_t *free_slots; /* single: slots neither in a chain nor with JS */
  uint32_t nfree;
  uint32_t chain_left; /* single: reads of the current chain in flight */
  bool cancelling;     /* a cancel request is in flight */
  uint32_t *held;      /* slots delivered to JS, recycled after dispatch */
  uint32_t held_n;
  uint32_t rcount;
  /* requests */
  uint8_t *qdone;
  uint32_t q_next;     /* next descriptor to take from JS */
  uint32_t q_frontier; /* every descriptor before it has completed */
  bool want_write;     /* poll: a TUN write hit EAGAIN, wait for POLLOUT */
};

/* One request from shared memory, checked (ion_file_check_req). */
typedef struct ion_file_req {
  uint8_t *buf;
  uint32_t len;
  int op;       /* ION_QOP_* */
  bool at_pos;  /* false: the fd's own position (TUN, or position -1) */
  uint64_t pos; /* when at_pos */
} ion_file_req;

uint8_t *ion_file_slot(ion_file *f, uint32_t i);
void ion_file_update_alive(ion_file *f);
/* Slot i holds res bytes read from the fd: describe the packet for JS. */
void ion_file_deliver(ion_file *f, uint32_t i, uint32_t res);
/* A read failed for good: report it once and stop reading. */
void ion_file_read_error(ion_file *f, int32_t res);
/* Check descriptor d from JS: 0, or -errno that fails this request only. */
int ion_file_check_req(ion_file *f, const int32_t *d, ion_file_req *out);
/* Request slot finished with res (bytes or -errno). */
void ion_file_req_done(ion_file *f, uint32_t slot, int32_t res);

/* The poll backend (file_poll.c): run every request JS pushed now. */
void ion_fpoll_flush(ion_file *f);
/* Set on poll-backend objects: how the addon's uv_poll drives them. */
extern const ion_poll_ops ion_fpoll_ops;

#endif
