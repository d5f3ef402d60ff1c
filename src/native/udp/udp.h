/*
 * A UDP socket on the reactor's ring: multishot recvmsg with a provided
 * buffer ring (or a fixed set of single-shot recvmsg), and sendmsg from a
 * send region that JS fills. All memory JS sees lives in one block the
 * socket owns (core/mem.h; JS gets views of it) laid out by ion_udp_layout:
 *
 *   ctrl   Int32[16]          control words JS writes (reactor.h, ION_C_*)
 *   stats  Float64[16]        counters (ION_S_*)
 *   rmeta  Int32[rslots*12]   one entry per received packet (ION_M_*)
 *   sdesc  Int32[sslots*12]   one entry per send (ION_M_*)
 *   rpool  rslots * rslot     receive buffers
 *   sdata  sdata_len bytes    send payloads (JS allocates inside it)
 *
 * Native never trusts an offset or length found there: each is checked
 * against the layout before use.
 */
#ifndef ION_UDP_H
#define ION_UDP_H

#include <stdint.h>

#include "core/reactor.h"

/* Words of one rmeta/sdesc entry. */
enum {
  ION_M_OFF = 0,    /* payload offset in mem */
  ION_M_LEN = 1,    /* payload length */
  ION_M_FLAGS = 2,  /* recv: ION_MF_*; send: result (bytes or -errno) */
  ION_M_PORT = 3,   /* peer port */
  ION_M_FAMILY = 4, /* 4, 6, or 0 (send: use the connected peer) */
  ION_M_SCOPE = 5,  /* IPv6 scope id */
  ION_M_ADDR = 6,   /* 16 address bytes (IPv4: the first 4) */
  ION_M_WORDS = 12
};

enum { ION_MF_TRUNC = 1 };

/* Counters in the stats area. */
enum {
  ION_S_PKTS_IN = 0,
  ION_S_BYTES_IN,
  ION_S_PKTS_OUT,
  ION_S_BYTES_OUT,
  ION_S_DROPS, /* kernel receive queue drops (SO_RXQ_OVFL) */
  ION_S_TRUNC,
  ION_S_ENOBUFS,
  ION_S_REARMS,
  ION_S_SEND_ERRORS,
  ION_S_RECV_ERRORS,
  ION_S_BATCHES,
  ION_S_GSO_SENDS, /* sendmsg calls that carried several datagrams (GSO) */
  ION_S_GRO_RECVS, /* receives that held several coalesced datagrams (GRO) */
  ION_S_GSO_FALLBACKS, /* GSO sends refused, then sent one by one */
  ION_S_WORDS = 16
};

/* Receive slot layout: the multishot header, room for the peer address and
 * two control messages (SO_RXQ_OVFL, UDP_GRO), then the payload. */
#define ION_UDP_NAMELEN 32 /* sockaddr_in6 (28), padded to keep 8-byte alignment */
#define ION_UDP_CTRLLEN 48 /* 2 * CMSG_SPACE(sizeof(uint32_t)) */
#define ION_UDP_SLOT_HDR (16 + ION_UDP_NAMELEN + ION_UDP_CTRLLEN) /* 96 */

/* GRO: the kernel coalesces at most this many datagrams into one receive
 * (UDP_GRO_CNT_MAX), and one coalesced receive needs a 64 KiB buffer. */
#define ION_UDP_GRO_SEGS 64
#define ION_UDP_GRO_PAYLOAD 65535
/* GSO: datagrams per sendmsg (UDP_MAX_SEGMENTS on every kernel that has
 * UDP_SEGMENT) and payload bytes per sendmsg (an IPv4 datagram's limit). */
#define ION_UDP_GSO_SEGS 64
#define ION_UDP_GSO_BYTES 65507

typedef struct ion_udp_config {
  int family;         /* 4 or 6 */
  uint32_t rslots;    /* receive buffers, power of two */
  uint32_t rslot;     /* bytes per receive buffer, incl. ION_UDP_SLOT_HDR */
  uint32_t sslots;    /* send descriptors, power of two */
  uint32_t sdata_len; /* bytes of send payload space */
  int multishot;      /* 1: multishot if the kernel has it; 0: single-shot */
  int ipv6_only;
  uint32_t max_payload; /* payload bytes delivered whole; 0: all the slot */
  int backend;          /* ION_BACKEND_* */
  int gro;              /* ask for coalesced receives (needs 64 KiB slots) */
  int gso;              /* send runs of equal datagrams with UDP_SEGMENT */
} ion_udp_config;

/* How a socket moves packets: through the ring, or with recvmmsg/sendmmsg
 * when the addon's uv_poll says the socket is ready (io_uring refused). */
enum { ION_BACKEND_URING = 0, ION_BACKEND_MMSG = 1 };

typedef struct ion_udp_layout {
  uint32_t ctrl, stats, rmeta, sdesc, rpool, sdata, total;
  uint32_t rmeta_n; /* receive entries: rslots, or rslots * GRO segments */
} ion_udp_layout;

typedef struct ion_udp ion_udp;

/* The reactor's operations of a UDP socket (also how the addon tells a
 * socket from other objects). */
extern const ion_obj_ops ion_udp_ops;

/* -EINVAL if the config is out of range. */
int ion_udp_layout_of(const ion_udp_config *cfg, ion_udp_layout *out);
/* Create the socket and register it, with its shared memory (an ion_mem
 * of layout.total bytes, ion_udp_mem). Returns the id or -errno. */
int ion_udp_create(ion_reactor *rx, const ion_udp_config *cfg,
                   ion_udp **out);
/* The socket's shared block (mem.h); take a reference to keep it. */
struct ion_mem *ion_udp_mem(ion_udp *u);

int ion_udp_bind(ion_udp *u, int family, const uint8_t *addr, uint32_t scope,
                 int port, int flags);
int ion_udp_connect(ion_udp *u, int family, const uint8_t *addr,
                    uint32_t scope, int port);
int ion_udp_disconnect(ion_udp *u);
/* Fills out[ION_M_PORT..] words (port, family, scope, addr). */
int ion_udp_name(ion_udp *u, int peer, int32_t *out);
int ion_udp_setopt(ion_udp *u, int opt, int value);
int ion_udp_getopt(ion_udp *u, int opt);
/* Join (join=1) or leave a multicast group, optionally source-specific.
 * Addresses are 16-byte words of the group's family; NULL = none. */
int ion_udp_membership(ion_udp *u, int join, int family,
                       const uint8_t *group, const uint8_t *source,
                       const uint8_t *iface, uint32_t scope);
/* The outgoing multicast interface: IPv4 address, or IPv6 scope id. */
int ion_udp_multicast_if(ion_udp *u, const uint8_t *addr, uint32_t scope);
/* Start receiving (idempotent). */
int ion_udp_start(ion_udp *u);
/* Queue SQEs for every send descriptor JS pushed. */
void ion_udp_flush(ion_udp *u);
void ion_udp_set_ref(ion_udp *u, int ref);
/* Begin the close: pending sends fail, everything in flight is cancelled.
 * ION_EV_CLOSED follows once the kernel has returned every request. */
void ion_udp_close(ion_udp *u);
int ion_udp_fd(const ion_udp *u);
/* Poll backend: the socket is readable / writable (see mmsg.c). */
void ion_mmsg_on_readable(ion_udp *u);
void ion_mmsg_on_writable(ion_udp *u);
void ion_mmsg_on_error(ion_udp *u, int fallback);
/* Poll backend: does the socket want POLLIN / POLLOUT now? */
int ion_mmsg_poll_events(const ion_udp *u);
int ion_udp_is_multishot(const ion_udp *u);
/* Whether GRO / GSO are in use now (the kernel may refuse them). */
int ion_udp_gro_on(const ion_udp *u);
int ion_udp_gso_on(const ion_udp *u);

/* ---- for native code in other objects (udp_batch.c) ---- */

/* One datagram of the batch JS is handling, and its sender. */
typedef struct ion_udp_pkt {
  uint8_t *data; /* in the receive pool; valid until the dispatch ends */
  uint32_t len;
  int family; /* 4 or 6 */
  uint16_t port;
  uint32_t scope;
  uint8_t addr[16]; /* IPv4: the first 4 */
} ion_udp_pkt;

struct ion_dring_window;
/* Datagram i of the current batch (i < the batch's count): 0, or -EINVAL
 * if i is out of range or its entry (shared memory) points outside the
 * receive pool. */
int ion_udp_batch_get(ion_udp *u, uint32_t i, ion_udp_pkt *out);
/* A window of the send ring JS lent (SendQueue.window): -EINVAL if it
 * does not match native's counters or the send region, -EBADF if closing. */
int ion_udp_window_open(ion_udp *u, struct ion_dring_window *w, uint32_t seq,
                        uint32_t slots, uint32_t off, uint32_t len);
/* The next send of the window, to addr:port: where to write its len bytes
 * (16-byte aligned), or NULL when the window is full. */
uint8_t *ion_udp_window_next(ion_udp *u, struct ion_dring_window *w,
                             uint32_t len, int family, const uint8_t addr[16],
                             int port, uint32_t scope);

/* Options for ion_udp_setopt/getopt (int-valued only). */
enum {
  ION_OPT_REUSEADDR = 1,
  ION_OPT_REUSEPORT,
  ION_OPT_RCVBUF,
  ION_OPT_SNDBUF,
  ION_OPT_TTL,
  ION_OPT_BROADCAST,
  ION_OPT_MULTICAST_TTL,
  ION_OPT_MULTICAST_LOOP,
  ION_OPT_MARK, /* SO_MARK (CAP_NET_ADMIN): WireGuard's fwmark */
};

/* Bind flags */
enum { ION_BIND_REUSEADDR = 1, ION_BIND_REUSEPORT = 2, ION_BIND_V6ONLY = 4 };

#endif
