/*
 * io_uring kernel UAPI: our own definitions.
 *
 * Why not <linux/io_uring.h>: Debian 12 ships 6.1 headers, which lack
 * NO_SQARRAY, READ_MULTISHOT, bundles and more. Depending on the installed
 * headers would make the build differ from machine to machine, so (like
 * libuv's linux.c) we define the structs and constants we use, and pin every
 * layout to the kernel ABI with static asserts. Values come from the kernel's
 * include/uapi/linux/io_uring.h; they are ABI and never change.
 */
#ifndef ION_UAPI_H
#define ION_UAPI_H

#include <stddef.h>
#include <stdint.h>

/* Syscall numbers are the same on every architecture since 5.1 (unified). */
#define ION_NR_io_uring_setup 425
#define ION_NR_io_uring_enter 426
#define ION_NR_io_uring_register 427

/* One submission queue entry (64 bytes). Only the fields we use are named;
 * the op-specific 32-bit flags word is "op_flags" (msg_flags, cancel_flags,
 * rw_flags... share it in the kernel's union). */
struct ion_sqe {
  uint8_t opcode;
  uint8_t flags;
  uint16_t ioprio;
  int32_t fd;
  uint64_t off;
  uint64_t addr;
  uint32_t len;
  uint32_t op_flags;
  uint64_t user_data;
  uint16_t buf_group;
  uint16_t personality;
  uint32_t file_index;
  uint64_t addr3;
  uint64_t pad2;
};

struct ion_cqe {
  uint64_t user_data;
  int32_t res;
  uint32_t flags;
};

struct ion_sqring_offsets {
  uint32_t head, tail, ring_mask, ring_entries, flags, dropped, array, resv1;
  uint64_t user_addr;
};

struct ion_cqring_offsets {
  uint32_t head, tail, ring_mask, ring_entries, overflow, cqes, flags, resv1;
  uint64_t user_addr;
};

struct ion_params {
  uint32_t sq_entries;
  uint32_t cq_entries;
  uint32_t flags;
  uint32_t sq_thread_cpu;
  uint32_t sq_thread_idle;
  uint32_t features;
  uint32_t wq_fd;
  uint32_t resv[3];
  struct ion_sqring_offsets sq_off;
  struct ion_cqring_offsets cq_off;
};

struct ion_probe_op {
  uint8_t op;
  uint8_t resv;
  uint16_t flags;
  uint32_t resv2;
};

struct ion_probe {
  uint8_t last_op;
  uint8_t ops_len;
  uint16_t resv;
  uint32_t resv2[3];
  struct ion_probe_op ops[];
};

/* A provided buffer: also the ring's slot type. In the ring's first slot the
 * kernel overlays the tail index on the last 16 bits ("resv"). */
struct ion_buf {
  uint64_t addr;
  uint32_t len;
  uint16_t bid;
  uint16_t resv;
};

struct ion_buf_reg {
  uint64_t ring_addr;
  uint32_t ring_entries;
  uint16_t bgid;
  uint16_t flags;
  uint64_t resv[3];
};

/* Header the kernel writes at the start of each buffer used by a multishot
 * recvmsg; name, control and payload follow. */
struct ion_recvmsg_out {
  uint32_t namelen;
  uint32_t controllen;
  uint32_t payloadlen;
  uint32_t flags;
};

_Static_assert(sizeof(struct ion_sqe) == 64, "sqe ABI");
_Static_assert(offsetof(struct ion_sqe, user_data) == 32, "sqe ABI");
_Static_assert(offsetof(struct ion_sqe, buf_group) == 40, "sqe ABI");
_Static_assert(offsetof(struct ion_sqe, addr3) == 48, "sqe ABI");
_Static_assert(sizeof(struct ion_cqe) == 16, "cqe ABI");
_Static_assert(sizeof(struct ion_sqring_offsets) == 40, "sq offsets ABI");
_Static_assert(sizeof(struct ion_cqring_offsets) == 40, "cq offsets ABI");
_Static_assert(sizeof(struct ion_params) == 120, "params ABI");
_Static_assert(sizeof(struct ion_probe) == 16, "probe ABI");
_Static_assert(sizeof(struct ion_probe_op) == 8, "probe op ABI");
_Static_assert(sizeof(struct ion_buf) == 16, "buf ABI");
_Static_assert(sizeof(struct ion_buf_reg) == 40, "buf reg ABI");
_Static_assert(sizeof(struct ion_recvmsg_out) == 16, "recvmsg out ABI");

/* io_uring_setup flags */
#define ION_SETUP_CQSIZE (1U << 3)
#define ION_SETUP_CLAMP (1U << 4)
#define ION_SETUP_SUBMIT_ALL (1U << 7)
#define ION_SETUP_COOP_TASKRUN (1U << 8)
#define ION_SETUP_TASKRUN_FLAG (1U << 9)
#define ION_SETUP_SINGLE_ISSUER (1U << 12)
#define ION_SETUP_DEFER_TASKRUN (1U << 13)
#define ION_SETUP_NO_SQARRAY (1U << 16)

/* features reported by setup */
#define ION_FEAT_SINGLE_MMAP (1U << 0)
#define ION_FEAT_NODROP (1U << 1)
#define ION_FEAT_FAST_POLL (1U << 5)
#define ION_FEAT_EXT_ARG (1U << 8)
#define ION_FEAT_RECVSEND_BUNDLE (1U << 14)

/* opcodes */
enum {
  ION_OP_NOP = 0,
  ION_OP_WRITEV = 2,
  ION_OP_SENDMSG = 9,
  ION_OP_RECVMSG = 10,
  ION_OP_ASYNC_CANCEL = 14,
  ION_OP_READ = 22,
  ION_OP_WRITE = 23,
  ION_OP_SEND = 26,
  ION_OP_RECV = 27,
  ION_OP_SEND_ZC = 47,
  ION_OP_SENDMSG_ZC = 48,
  ION_OP_READ_MULTISHOT = 49,
  ION_OP_LAST_KNOWN = 64
};

/* sqe->flags */
#define ION_SQE_FIXED_FILE (1U << 0)
#define ION_SQE_IO_LINK (1U << 2)
#define ION_SQE_BUFFER_SELECT (1U << 5)
#define ION_SQE_CQE_SKIP_SUCCESS (1U << 6)

/* sqe->ioprio for send/recv */
#define ION_RECVSEND_POLL_FIRST (1U << 0)
#define ION_RECV_MULTISHOT (1U << 1)

/* sqe->op_flags for ASYNC_CANCEL */
#define ION_ASYNC_CANCEL_ALL (1U << 0)
#define ION_ASYNC_CANCEL_FD (1U << 1)
#define ION_ASYNC_CANCEL_ANY (1U << 2)

/* cqe->flags */
#define ION_CQE_F_BUFFER (1U << 0)
#define ION_CQE_F_MORE (1U << 1)
#define ION_CQE_BUFFER_SHIFT 16

/* io_uring_enter flags */
#define ION_ENTER_GETEVENTS (1U << 0)

/* sq_ring->flags */
#define ION_SQ_CQ_OVERFLOW (1U << 1)
#define ION_SQ_TASKRUN (1U << 2)

/* mmap offsets */
#define ION_OFF_SQ_RING 0ULL
#define ION_OFF_CQ_RING 0x8000000ULL
#define ION_OFF_SQES 0x10000000ULL

/* io_uring_register opcodes */
#define ION_REGISTER_EVENTFD 4
#define ION_UNREGISTER_EVENTFD 5
#define ION_REGISTER_PROBE 8
#define ION_REGISTER_PBUF_RING 22
#define ION_UNREGISTER_PBUF_RING 23

#define ION_IO_URING_OP_SUPPORTED (1U << 0)

#endif
