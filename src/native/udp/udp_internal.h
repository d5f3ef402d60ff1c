/* ion_udp internals shared by udp.c (lifecycle, options) and udp_io.c
 * (receive and send paths). Not for other files. */
#ifndef ION_UDP_INTERNAL_H
#define ION_UDP_INTERNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "core/dring.h"
#include "core/mem.h"
#include "core/rpool.h"
#include "udp/udp.h"

/* Operation kinds in user_data (reactor.h). */
enum {
  K_RECV_MULTI = 1,
  K_RECV_SINGLE = 2,
  K_SEND = 3,
  K_CANCEL = 4,
  K_LOST_CHECK = 5, /* after dropped CQEs: is the multishot still there? */
};

/* A single-shot receive keeps its own header and peer address. */
typedef struct ion_udp_single {
  struct msghdr msg;
  struct iovec iov;
  struct sockaddr_in6 name;
  uint8_t control[ION_UDP_CTRLLEN];
} ion_udp_single;

typedef struct ion_udp_send {
  struct msghdr msg;
  struct iovec iov;
  struct sockaddr_in6 name;
  /* A GSO run's head carries UDP_SEGMENT here. */
  union {
    struct cmsghdr align;
    uint8_t bytes[CMSG_SPACE(sizeof(uint16_t))];
  } control;
} ion_udp_send;

struct ion_udp {
  ion_obj obj; /* first: the reactor frees ion_udp through it */
  ion_reactor *rx;
  int fd;
  ion_udp_config cfg;
  ion_udp_layout lay;
  ion_mem *block; /* the memory shared with JS (mem.h); ours until finalize */
  uint8_t *mem;   /* block->base */
  int32_t *ctrl;
  double *stats;
  int32_t *rmeta;
  /* receive */
  ion_rpool pool;
  bool receiving;
  bool multishot;
  bool multishot_armed;
  bool multishot_ever_delivered;
  bool refd;
  bool cancel_queued; /* the close's cancel is in the SQ */
  struct msghdr ms_msg; /* multishot: only namelen/controllen matter */
  ion_udp_single *singles;
  uint32_t *unarmed; /* single: slots whose receive found no SQE */
  uint32_t unarmed_n;
  /* send */
  ion_dring dr;
  ion_udp_send *sends;
  /* GSO (ring backend): a run of descriptors goes out as one sendmsg whose
   * iovecs are giov[head..head+n); gcount[head] = n, 0 for the others. */
  bool gso;              /* the socket may group sends now */
  bool gro;              /* UDP_GRO is set on the socket */
  uint32_t gso_max_seg;  /* refused once at this segment size: stay below */
  uint32_t nogso_until;  /* mmsg: descriptors before this go out alone */
  struct iovec *giov;
  uint8_t *gcount;
  /* poll backend (mmsg.c) */
  bool want_write;          /* a send hit EAGAIN: wait for POLLOUT */
  uint32_t mm_used;         /* receive slots filled since the dispatch */
  struct mmsghdr *mm_hdrs;  /* MMSG_BATCH entries */
  ion_udp_single *mm_bufs;  /* names/control for receives */
};

#define ION_MMSG_BATCH 64

/* Payload bytes a receive slot holds. */
static inline uint32_t ion_udp_room(const ion_udp *u) {
  return u->cfg.rslot - ION_UDP_SLOT_HDR;
}

/* Bytes one single-datagram receive (recvmsg, recvmmsg) asks for: the
 * datagram cap, or the whole slot when GRO may coalesce (datagrams are cut
 * at delivery then, ion_udp_deliver_gro). */
static inline uint32_t ion_udp_recv_len(const ion_udp *u) {
  return u->gro ? ion_udp_room(u) : u->cfg.max_payload;
}

/* Shared by the ring path (udp_io.c) and the poll path (mmsg.c). */
void ion_udp_deliver(ion_udp *u, uint8_t *payload, uint32_t len, bool trunc,
                     const void *name, uint32_t namelen);
void ion_udp_recv_error(ion_udp *u, int32_t res);
/* Reads the control messages of a receive: stores the kernel's drop count,
 * returns the GRO segment size (0: one datagram). */
uint32_t ion_udp_read_cmsgs(ion_udp *u, const uint8_t *ctl, size_t len);
/* Delivers a receive: one entry, or one per segment of a GRO receive. */
void ion_udp_deliver_gro(ion_udp *u, uint8_t *payload, uint32_t len,
                         bool trunc, const void *name, uint32_t namelen,
                         uint32_t seg);
int ion_udp_build_send(ion_udp *u, uint32_t slot, const int32_t *d);
void ion_udp_send_done(ion_udp *u, uint32_t slot, int32_t res);
/* Tell JS about finished sends (dring.h ion_dring_report). */
void ion_udp_report_sends(ion_udp *u, bool tell);
/* JS published an impossible send tail: fail the socket (-EPROTO). */
void ion_udp_protocol_error(ion_udp *u);

/* GSO runs (udp_gso.c). gso_run: with the descriptor at sequence seq
 * built, how many descriptors from it (tail: JS's push count) go out in
 * its sendmsg, which it sets up; 1 = alone. unrun: make the head a single
 * datagram again. learn: the kernel refused a run with res. done: give
 * every descriptor of a finished run its result. */
uint32_t ion_udp_gso_run(ion_udp *u, uint32_t seq, uint32_t tail);
void ion_udp_gso_unrun(ion_udp *u, uint32_t head);
void ion_udp_gso_learn(ion_udp *u, uint32_t head, int32_t res);
void ion_udp_gso_done(ion_udp *u, uint32_t head, uint32_t n, int32_t res);

/* The recvmmsg/sendmmsg backend (mmsg.c). */
void ion_mmsg_flush(ion_udp *u);
/* Set on mmsg sockets: how the addon's uv_poll drives them. */
extern const ion_poll_ops ion_mmsg_poll_ops;

void ion_udp_io_complete(void *obj, unsigned kind, uint32_t idx, int32_t res,
                         uint32_t flags);
void ion_udp_io_after_dispatch(void *obj);
/* ion_obj_ops.lost: after dropped CQEs, check the multishot receive. */
bool ion_udp_io_lost(void *obj);
void ion_udp_io_resume(void *obj);
void ion_udp_queue_cancel(ion_udp *u);
int ion_udp_io_arm(ion_udp *u);
/* Fail every descriptor JS pushed that native has not taken yet. */
void ion_udp_io_fail_pending(ion_udp *u, int32_t err);
void ion_udp_update_alive(ion_udp *u);

/* sockaddr <-> the (port, family, scope, addr[16]) words of an entry. */
socklen_t ion_udp_to_sockaddr(int family, const uint8_t *addr, uint32_t scope,
                              int port, struct sockaddr_in6 *out);
void ion_udp_from_sockaddr(const struct sockaddr *sa, socklen_t len,
                           int32_t *words);

#endif
