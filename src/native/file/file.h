/*
 * A file-like fd on the reactor's ring: a TUN queue (packets read into a
 * pool, packets written from a request ring) or a regular file (reads and
 * writes at an offset from the request ring). All memory JS sees lives in
 * one block the object owns (core/mem.h; JS gets views of it) laid out by
 * ion_file_layout_of:
 *
 *   ctrl   Int32[16]          control words JS writes (reactor.h, ION_C_*)
 *   stats  Float64[16]        counters (ION_FS_*)
 *   rmeta  Int32[rmeta_n*4]   one entry per packet read (ION_R_*)
 *   qdesc  Int32[qslots*12]   one entry per request (ION_Q_*)
 *   rpool  rslots * rslot     read buffers (TUN only)
 *   split  split_len bytes    vnet TUN: packets split from super-segments
 *   qdata  qdata_len bytes    request payloads (JS allocates inside it)
 *
 * A TUN opened with IFF_VNET_HDR (cfg.vnet, tun/tun_vnet.h) reads a
 * virtio_net_hdr before every packet, and a packet may be a TSO/USO
 * super-segment: native completes partial checksums in place and splits
 * super-segments into the split area, so every rmeta entry is one plain IP
 * packet (rmeta_n = rslots + split_entries). Writes need ION_FILE_HEADROOM
 * bytes free in front of each packet (the descriptor's OFF names the IP
 * packet): native coalesces the writes of one flush as GRO would and
 * writes each group with one IORING_OP_WRITEV (writev on the poll backend).
 *
 * TUN reads, two modes:
 *   multishot  one IORING_OP_READ_MULTISHOT (6.7+) picking buffers from a
 *              provided buffer ring; re-armed when it ends (ENOBUFS...).
 *   single     plain READs chained with IOSQE_IO_HARDLINK, so the kernel
 *              starts each only when the previous one has finished: never
 *              more than one read in flight on the fd (Tailscale's net/uring
 *              found concurrent TUN reads unreliable), yet the next read is
 *              already in the kernel when one completes. Hard links, because
 *              a TUN read is always "short" and a short read cuts a plain
 *              link. The kernel starts one link per task-work pass, so
 *              batches stay small here (measured: ~2 packets per drain under
 *              load, against ~1 with one read re-armed per completion and
 *              the whole window with multishot).
 *
 * The poll backend (file_poll.c) fills the same memory with the same
 * events: TUN packets are read() when uv_poll says the fd is readable,
 * writes are write()n at flush; regular files, which cannot be polled, are
 * read and written with pread/pwrite at flush, on the loop thread.
 *
 * Requests are the descriptor ring every object kind shares (core/dring.h),
 * so src/core/sendqueue.ts drives both. Native never trusts an
 * offset, length or op found in shared memory: each is checked first.
 */
#ifndef ION_FILE_H
#define ION_FILE_H

#include <stdint.h>

#include "core/reactor.h"

/* Words of one rmeta entry. */
enum {
  ION_R_OFF = 0,   /* packet offset in mem (after any PI header) */
  ION_R_LEN = 1,   /* packet length (after truncation) */
  ION_R_FLAGS = 2, /* ION_RF_* */
  ION_R_PROTO = 3, /* packetInfo: the header's ethertype; else 0 */
  ION_R_WORDS = 4
};
enum { ION_RF_TRUNC = 1 };

/* Words of one qdesc entry. OFF/LEN/RES are udp.h's OFF/LEN/FLAGS. */
enum {
  ION_Q_OFF = 0,    /* payload offset in mem */
  ION_Q_LEN = 1,    /* payload length */
  ION_Q_RES = 2,    /* result: bytes, or -errno */
  ION_Q_OP = 3,     /* ION_QOP_* */
  ION_Q_POS_LO = 4, /* file position, low 32 bits */
  ION_Q_POS_HI = 5, /* high 32 bits; -1/-1: the file's current position */
  ION_Q_WORDS = 12
};
enum { ION_QOP_WRITE = 1, ION_QOP_READ = 2 };

/* Counters in the stats area. */
enum {
  ION_FS_PKTS_IN = 0,
  ION_FS_BYTES_IN,
  ION_FS_PKTS_OUT, /* TUN: packets written; file: requests done */
  ION_FS_BYTES_OUT,
  ION_FS_TRUNC,
  ION_FS_ENOBUFS, /* multishot read stopped for lack of buffers */
  ION_FS_REARMS,  /* multishot re-armed, or a new single-read chain */
  ION_FS_WRITE_ERRORS,
  ION_FS_READ_ERRORS,
  ION_FS_BATCHES,
  /* vnet TUN (tun/tun_vnet.h) */
  ION_FS_SUPER_IN,      /* super-segments read and split */
  ION_FS_COALESCED,     /* writes that carried several packets */
  ION_FS_COALESCED_PKTS, /* packets in them */
  ION_FS_OFFLOAD_FALLBACKS, /* coalesced writes refused, re-sent one by one */
  ION_FS_VNET_ERRORS,   /* reads with a malformed virtio header: dropped */
  ION_FS_SPLIT_DEFERRED, /* reads kept for the next batch (split area full) */
  ION_FS_WORDS = 16
};

enum { ION_FILE_REGULAR = 0, ION_FILE_TUN = 1 };

/* How an object moves its data: through the ring, or (io_uring refused or
 * not wanted) with plain syscalls on the loop thread, see file_poll.c. The
 * values are udp.h's ION_BACKEND_* (TS maps both with one table). */
enum { ION_FILE_BACKEND_URING = 0, ION_FILE_BACKEND_POLL = 1 };

typedef struct ion_file_config {
  int kind;            /* ION_FILE_* */
  uint32_t rslots;     /* TUN: read buffers, power of two; files: 0 */
  uint32_t rslot;      /* bytes per read buffer, multiple of 8 */
  uint32_t qslots;     /* request descriptors, power of two */
  uint32_t qdata_len;  /* bytes of request payload space */
  int multishot;       /* 1: READ_MULTISHOT when the kernel has it */
  int packet_info;     /* TUN: each packet starts with struct tun_pi */
  uint32_t max_packet; /* TUN: packet bytes delivered whole */
  int backend;         /* ION_FILE_BACKEND_* */
  int vnet;            /* TUN: IFF_VNET_HDR (no packet_info then) */
  unsigned gro;        /* vnet: ION_GRO_* (tun/offload.h) for writes */
  uint32_t split_len;  /* vnet: bytes of the split area, multiple of 64 */
  uint32_t split_entries; /* vnet: read entries beyond rslots */
} ion_file_config;

typedef struct ion_file_layout {
  uint32_t ctrl, stats, rmeta, qdesc, rpool, split, qdata, total;
  uint32_t rmeta_n; /* read entries: rslots + split_entries */
} ion_file_layout;

/* vnet TUN writes: bytes free in front of each packet (the virtio_net_hdr
 * of the write that starts with it goes there). */
#define ION_FILE_HEADROOM 10

typedef struct ion_file ion_file;

/* The reactor's operations of a file object (also how the addon tells a
 * file from other objects). */
extern const ion_obj_ops ion_file_ops;

/* -EINVAL if the config is out of range. */
int ion_file_layout_of(const ion_file_config *cfg, ion_file_layout *out);
/* Register an object for fd (which it owns from then on, closing it at
 * finalize; on failure the caller keeps it), with its shared memory (an
 * ion_mem of layout.total bytes, ion_file_mem). Returns the id or -errno. */
int ion_file_create(ion_reactor *rx, const ion_file_config *cfg, int fd,
                    ion_file **out);
/* The object's shared block (mem.h); take a reference to keep it. */
struct ion_mem *ion_file_mem(ion_file *f);
/* The file object behind o, or NULL if o is something else. */
ion_file *ion_file_of(ion_obj *o);
ion_obj *ion_file_obj(ion_file *f);

/* TUN: start reading (idempotent). */
int ion_file_start(ion_file *f);
/* Queue SQEs for every request JS pushed. */
void ion_file_flush(ion_file *f);
void ion_file_set_ref(ion_file *f, int ref);
/* Begin the close: pending requests fail with ECANCELED, everything in
 * flight is cancelled; ION_EV_CLOSED follows once the kernel has returned
 * every request, and the fd is closed then. */
void ion_file_close(ion_file *f);
int ion_file_fd(const ion_file *f);

/* ---- TUN, for native code in other objects (file_batch.c) ---- */
struct ion_dring_window;
/* Packet i of the current read batch: 0, or -EINVAL if i is out of range
 * or its entry (shared memory) points outside the read pool and the split
 * area. Always a plain IP packet: on a vnet device super-segments were
 * split already (data then points into the split area) and partial
 * checksums completed. Valid until the dispatch ends. */
int ion_file_batch_get(ion_file *f, uint32_t i, uint8_t **data,
                       uint32_t *len);
/* A window of the write ring JS lent (SendQueue.window): -EINVAL if it
 * does not match native's counters or the request region, -EBADF if
 * closing or not a TUN device. */
int ion_file_window_open(ion_file *f, struct ion_dring_window *w,
                         uint32_t seq, uint32_t slots, uint32_t off,
                         uint32_t len);
/* The next packet write of the window: where to write its len bytes
 * (16-byte aligned), or NULL when the window is full. On a vnet device the
 * ION_FILE_HEADROOM bytes in front of that pointer are reserved too (they
 * belong to native: write only [p, p + len)). */
uint8_t *ion_file_window_next(ion_file *f, struct ion_dring_window *w,
                              uint32_t len);
/* Bytes a write needs free in front of its packet: ION_FILE_HEADROOM on a
 * vnet device, else 0 (ion_file_window_next reserves them itself). */
uint32_t ion_file_write_headroom(const ion_file *f);
/* Whether packet i of the current batch was cut (ION_RF_TRUNC); 0 if i is
 * out of range. */
int ion_file_batch_truncated(ion_file *f, uint32_t i);
int ion_file_is_multishot(const ion_file *f);
/* vnet: the ION_GRO_* coalescing in use now (a refusal turns one off). */
unsigned ion_file_gro(const ion_file *f);

#endif
