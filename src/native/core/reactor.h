/*
 * The reactor: one per JS thread (per Node environment). It owns the ring,
 * the table of objects (anything whose requests go through the ring, or
 * that a poll backend drives) and the queue of objects ready for JS. Plain
 * C: the addon supplies the wake-up (uv_poll on the eventfd), the retry
 * timer and the single call into JS per drain.
 *
 * user_data of every SQE: object id in the high 32 bits, operation kind in
 * bits 24..31, slot index in bits 0..23. An id is reused only after every
 * request of the previous owner has completed (inflight == 0) and JS has
 * been told it closed, so a completion can never reach the wrong object.
 *
 * What JS learns comes from here, never from memory JS can write: each
 * object's pending events, receive count, send frontier and last error are
 * native fields, copied into the ready entries handed to JS per drain
 * (ion_reactor_entries). Words JS writes (the send tail, descriptors) are
 * validated by the object that reads them.
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
/* Operation kind of the reactor's own recovery cancels (objects use 1..31). */
#define ION_K_RECOVER 0xfe

/* Event bits an object reports to JS in its ready entry. */
enum {
  ION_EV_RECV = 1,   /* a receive batch is waiting */
  ION_EV_SENT = 2,   /* the send frontier moved and JS asked to hear */
  ION_EV_ERROR = 4,  /* an error (entry's rerr) */
  ION_EV_CLOSED = 8, /* everything finished; native resources released */
};

/* A ready entry handed to JS: ION_E_WORDS int32 words per object. */
enum {
  ION_E_ID = 0,
  ION_E_EVENTS = 1,
  ION_E_RCOUNT = 2, /* packets in the receive batch */
  ION_E_SDONE = 3,  /* send frontier: every request before it completed */
  ION_E_RERR = 4,   /* with ION_EV_ERROR: -errno */
  ION_E_WORDS = 5
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
  /* Ask again for what failed for want of an SQE (the SQ was full, or an
   * enter failed): re-arm receives, queue sends, queue the close's cancel. */
  void (*resume)(void *obj);
  /* The fd whose requests the reactor may cancel to recover from dropped
   * completions (-1: none). */
  int (*fd)(const void *obj);
  /* Completions were dropped (EBADR) while the object is live: check the
   * request that stands for its lifetime (a multishot receive), whose
   * final CQE may have been among them (ion_reactor_check_standing).
   * false: no SQE now, ask again later. NULL: nothing standing. */
  bool (*lost)(void *obj);
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
  uint32_t events;   /* ION_EV_* not yet handed to JS */
  uint32_t rcount;   /* packets in the current receive batch */
  uint32_t sdone;    /* send frontier */
  int32_t rerr;      /* last error, -errno */
  bool queued;       /* in the ready queue */
  bool closing;
  bool keeps_alive;  /* counted in reactor.alive */
  bool finalized;    /* resources released */
  bool closed_told;  /* JS got ION_EV_CLOSED: the id may be reused */
  bool starved;      /* wanted an SQE and got none: resume() later */
  uint8_t recover;   /* recovery cancels sent after dropped CQEs */
  double loss_seen;  /* the reactor's lost_cqes when this object checked */
} ion_obj;

/* Control word indices shared by every object kind (Int32Array in JS).
 * Only words JS writes live here now; native never trusts them. */
enum {
  ION_C_STAIL = 3, /* JS: request descriptors pushed (wrapping counter) */
  ION_C_SWANT = 6, /* JS: nonzero = report ION_EV_SENT when SDONE moves */
  ION_C_WORDS = 16
};

/* io_uring_enter failures, counted by kind (stats). */
enum {
  ION_ENTER_EAGAIN = 0,
  ION_ENTER_EBUSY,
  ION_ENTER_EBADR,
  ION_ENTER_OTHER,
  ION_ENTER_KINDS
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
  uint32_t *queue; /* ids of objects with something for JS or to recycle */
  uint32_t queue_cap;
  uint32_t queue_n;
  uint32_t alive; /* objects that keep the event loop alive */
  double enters;  /* io_uring_enter calls, for stats */
  double wakeups; /* times the loop woke for the ring's eventfd, for stats */
  double overflows;
  double enter_errors[ION_ENTER_KINDS];
  double lost_cqes;   /* times the kernel said it dropped completions */
  double recoveries;  /* objects finalized after their CQEs were lost */
  double rearms_after_loss; /* live receives re-armed: their end was lost */
  double taskruns;    /* extra enters because IORING_SQ_TASKRUN was set */
  bool cqes_lost;     /* completions were dropped: closes must recover */
  uint32_t starved_n; /* objects waiting for SQ room (obj.starved) */
  bool retry;         /* an enter failed or SQEs were refused: retry later */
  /* Called when an object's id is released (after JS saw ION_EV_CLOSED),
   * just before its memory is freed: the addon drops its JS references. */
  void (*release_hook)(struct ion_reactor *rx, ion_obj *o);
  void *hook_data;
  /* Called when a poll-backend object wants other poll events (o->poll). */
  void (*poll_hook)(struct ion_reactor *rx, ion_obj *o);
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
 * when there is no room even then: the object is marked starved and its
 * resume() runs once room returns (ion_reactor_retry). Counts the request
 * in inflight. */
struct ion_sqe *ion_reactor_sqe(ion_reactor *rx, ion_obj *o);
/* The object could not queue what it needs now (no SQ room): resume()
 * later. ion_reactor_sqe calls it itself. */
void ion_reactor_starve(ion_reactor *rx, ion_obj *o);
/* Submit queued SQEs (one io_uring_enter), optionally running task work.
 * A failed enter is counted, leaves the SQEs queued, and asks for a retry
 * (rx->retry). Returns the enter's result. */
int ion_reactor_submit(ion_reactor *rx, bool getevents);
/* The retry: submit what is queued, then let starved objects ask again.
 * Returns true if a further retry is still needed. */
bool ion_reactor_retry(ion_reactor *rx);

/* Mark events for JS and queue the object. */
void ion_reactor_notify(ion_reactor *rx, ion_obj *o, uint32_t events);
/* The object failed: report err once with ION_EV_ERROR. */
void ion_reactor_fail(ion_reactor *rx, ion_obj *o, int32_t err);
/* Keep the event loop alive for this object, or stop. */
void ion_reactor_set_alive(ion_reactor *rx, ion_obj *o, bool alive);

/* For ion_obj_ops.lost: whether o's standing receive (user_data kind
 * `kind`, idx 0) is still there, asked with a cancel aimed at it whose
 * answer comes back as a completion of kind `check_kind`. armed: o thinks
 * it is (nothing to ask otherwise). false: no SQE now. */
bool ion_reactor_check_standing(ion_reactor *rx, ion_obj *o, bool armed,
                                unsigned kind, unsigned check_kind);
/* That answer. CQEs come in the order they were posted, so had the receive
 * ended normally its final CQE would have been seen before: still *armed
 * and not found (-ENOENT) means its end was dropped. Then it is no longer
 * counted in flight, *armed is cleared, the re-arm is counted and o is
 * queued so that its after_dispatch re-arms it. Found: it ends with
 * -ECANCELED and re-arms as usual. */
void ion_reactor_standing_answer(ion_reactor *rx, ion_obj *o, int32_t res,
                                 bool *armed);

/* Reap every completion; deliver each to its object. Returns how many
 * objects are queued afterwards. */
unsigned ion_reactor_reap(ion_reactor *rx);
/* Fill ION_E_WORDS words per object for the first n queued objects and
 * hand their events over (they are JS's now). Returns how many entries
 * carry events. */
uint32_t ion_reactor_entries(ion_reactor *rx, uint32_t n, int32_t *out);
/* After JS has seen the first n queued objects: let each of them recycle
 * and re-arm (or release its id once JS knows it closed) and drop them
 * from the queue. Objects queued meanwhile stay for the next round. */
void ion_reactor_after_dispatch(ion_reactor *rx, uint32_t n);
/* Finalize the object now if it is closing and nothing is in flight. */
void ion_reactor_maybe_finalize(ion_reactor *rx, ion_obj *o);

/* Cancel everything and wait (bounded) until the kernel has returned every
 * request, so that no buffer is written after we free it. */
void ion_reactor_shutdown(ion_reactor *rx);

#endif
