/*
 * The reactor: one per JS thread (per Node environment). It owns the ring,
 * the table of sockets (any object whose requests go through the ring) and
 * the "ready list" shared with JS. Plain C: the addon supplies the wake-up
 * (uv_poll on the eventfd) and the single call into JS per drain.
 *
 * user_data of every SQE: socket id in the high 32 bits, operation kind in
 * bits 24..31, slot index in bits 0..23. A socket id is reused only after
 * every request of the previous owner has completed (inflight == 0), so a
 * completion can never reach the wrong socket.
 */
#ifndef ION_REACTOR_H
#define ION_REACTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ring.h"

#define ION_UD(id, kind, idx)                                 \
  (((uint64_t)(id) << 32) | ((uint64_t)((kind) & 0xff) << 24) | \
   ((uint64_t)(idx) & 0xffffff))
#define ION_UD_ID(ud) ((uint32_t)((ud) >> 32))
#define ION_UD_KIND(ud) ((unsigned)(((ud) >> 24) & 0xff))
#define ION_UD_IDX(ud) ((uint32_t)((ud) & 0xffffff))

/* Event bits a socket reports to JS through its control words. */
enum {
  ION_EV_RECV = 1,   /* a receive batch is waiting */
  ION_EV_SENT = 2,   /* the send frontier moved and JS asked to hear */
  ION_EV_ERROR = 4,  /* a receive error (ctrl[ION_C_RERR]) */
  ION_EV_CLOSED = 8, /* everything finished; native resources released */
};

typedef struct ion_reactor ion_reactor;

/* What every object on the ring implements. */
typedef struct ion_obj_ops {
  /* One completion for this object. */
  void (*complete)(void *obj, unsigned kind, uint32_t idx, int32_t res,
                   uint32_t flags);
  /* After JS has seen the batch: recycle buffers, re-arm, flush. */
  void (*after_dispatch)(void *obj);
  /* Start closing: cancel every request (environment teardown uses it). */
  void (*close)(void *obj);
  /* Called once when the object is closed and inflight reached zero. */
  void (*finalize)(void *obj);
  /* What JS asks of every object kind alike (addon_obj.c): start
   * receiving, queue SQEs for what JS pushed, keep the loop alive or not. */
  int (*start)(void *obj);
  void (*flush)(void *obj);
  void (*set_ref)(void *obj, int ref);
} ion_obj_ops;

/* How an object moves its data on a poll backend (io_uring refused, or not
 * wanted): the addon watches fd() with one uv_poll_t for what events()
 * asks and calls back here. Plain C like the rest of the object, so the
 * same code runs without Node in the native tests. */
typedef struct ion_poll_ops {
  int (*fd)(const void *obj);
  /* POLLIN | POLLOUT wanted now; 0 = no watcher needed. */
  int (*events)(const void *obj);
  void (*readable)(void *obj);
  void (*writable)(void *obj);
  /* The poll reported an error (libuv turns POLLERR into UV_EBADF and
   * stops watching): find the real error, report it. */
  void (*error)(void *obj, int err);
} ion_poll_ops;

typedef struct ion_obj {
  const ion_obj_ops *ops;
  const ion_poll_ops *poll; /* set on poll-backend objects, else NULL */
  uint32_t id;
  uint32_t inflight; /* SQEs submitted whose final CQE has not arrived */
  uint32_t events;   /* ION_EV_* not yet reported */
  bool queued;       /* in the ready list */
  bool closing;
  bool keeps_alive; /* counted in reactor.alive */
  bool finalized;   /* resources released; id freed after the dispatch */
  int32_t *ctrl;    /* control words shared with JS (may be NULL) */
} ion_obj;

/* Control word indices shared by every object kind (Int32Array in JS). */
enum {
  ION_C_EVENTS = 0,
  ION_C_RCOUNT = 1, /* packets in the current receive batch */
  ION_C_RERR = 2,   /* last receive error, -errno */
  ION_C_STAIL = 3,  /* JS: send descriptors pushed (wrapping counter) */
  ION_C_SDONE = 4,  /* native: every send before this has completed */
  ION_C_SSUB = 5,   /* native: send descriptors taken by native */
  ION_C_SWANT = 6,  /* JS: 1 = report ION_EV_SENT when SDONE moves */
  ION_C_WORDS = 16
};

struct ion_reactor {
  ion_ring ring;
  int efd;
  uint8_t ops[ION_OP_LAST_KNOWN];
  bool multishot_recvmsg; /* kernel 6.0+ */
  bool pbuf_ring;         /* kernel 5.19+ */
  int ring_err;           /* -errno if the ring could not be set up */
  ion_obj **objs;
  uint32_t objs_cap;
  uint32_t free_id; /* head of a free list threaded through objs[] */
  uint32_t nobjs;
  int32_t *ready; /* ids of objects with events, shared with JS */
  uint32_t ready_cap;
  uint32_t ready_n;
  uint32_t alive; /* objects that keep the event loop alive */
  double enters;  /* io_uring_enter calls, for stats */
  double wakeups; /* times the loop woke for the ring's eventfd, for stats */
  /* Called when an object's id is released (after JS saw ION_EV_CLOSED),
   * just before its memory is freed: the addon drops its JS references. */
  void (*release_hook)(struct ion_reactor *rx, ion_obj *o);
  void *hook_data;
  /* Called when a poll-backend object wants other poll events (o->poll). */
  void (*poll_hook)(struct ion_reactor *rx, ion_obj *o);
  double overflows;
  bool draining;
};

/* Creates the ring and eventfd. Returns 0 or -errno; on failure the
 * reactor is still usable without a ring (ring.fd == -1): objects that move
 * data with plain syscalls (the poll backends) work, ring requests do not. */
int ion_reactor_init(ion_reactor *rx, unsigned entries);
/* Frees everything; objects must have been finalized. */
void ion_reactor_destroy(ion_reactor *rx);

/* Register an object; returns its id (>= 1) or -errno. */
int ion_reactor_add(ion_reactor *rx, ion_obj *o, const ion_obj_ops *ops);
ion_obj *ion_reactor_get(ion_reactor *rx, uint32_t id);

/* An SQE for the object; submits to make room when the SQ is full. NULL
 * only if the kernel refuses to take SQEs. Counts the request in inflight. */
struct ion_sqe *ion_reactor_sqe(ion_reactor *rx, ion_obj *o);
/* Submit queued SQEs (one io_uring_enter), optionally running task work. */
int ion_reactor_submit(ion_reactor *rx, bool getevents);

/* Mark events for JS and queue the object in the ready list. */
void ion_reactor_notify(ion_reactor *rx, ion_obj *o, uint32_t events);
/* Keep the event loop alive for this object, or stop. */
void ion_reactor_set_alive(ion_reactor *rx, ion_obj *o, bool alive);

/* Reap every completion; deliver each to its object. Returns how many
 * objects are in the ready list afterwards. */
unsigned ion_reactor_reap(ion_reactor *rx);
/* After JS has seen the first n entries of the ready list: let each of
 * them recycle and re-arm (or release its id if finalized) and drop them
 * from the list. Entries added meanwhile stay for the next round. */
void ion_reactor_after_dispatch(ion_reactor *rx, uint32_t n);
/* Finalize the object now if it is closing and nothing is in flight. */
void ion_reactor_maybe_finalize(ion_reactor *rx, ion_obj *o);

/* Cancel everything and wait (bounded) until the kernel has returned every
 * request, so that no buffer is written after we free it. */
void ion_reactor_shutdown(ion_reactor *rx);

#endif
