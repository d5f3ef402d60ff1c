/*
 * One short prep function per io_uring operation (liburing style). Each
 * fills an SQE that ion_ring_get_sqe already zeroed.
 */
#ifndef ION_PREP_H
#define ION_PREP_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "core/uapi.h"

static inline void ion_prep_rw(struct ion_sqe *sqe, uint8_t op, int fd,
                               const void *addr, uint32_t len, uint64_t off,
                               uint64_t user_data) {
  sqe->opcode = op;
  sqe->fd = fd;
  sqe->addr = (uint64_t)(uintptr_t)addr;
  sqe->len = len;
  sqe->off = off;
  sqe->user_data = user_data;
}

/* recvmsg(2); man io_uring_prep_recvmsg */
static inline void ion_prep_recvmsg(struct ion_sqe *sqe, int fd,
                                    struct msghdr *msg, uint64_t user_data) {
  ion_prep_rw(sqe, ION_OP_RECVMSG, fd, msg, 1, 0, user_data);
}

/* Multishot recvmsg into a provided buffer group (6.0+); man
 * io_uring_prep_recvmsg_multishot. msg supplies only namelen/controllen. */
static inline void ion_prep_recvmsg_multishot(struct ion_sqe *sqe, int fd,
                                              struct msghdr *msg,
                                              uint16_t bgid,
                                              uint64_t user_data) {
  ion_prep_rw(sqe, ION_OP_RECVMSG, fd, msg, 1, 0, user_data);
  sqe->ioprio = ION_RECV_MULTISHOT;
  sqe->flags = ION_SQE_BUFFER_SELECT;
  sqe->buf_group = bgid;
}

/* sendmsg(2); man io_uring_prep_sendmsg */
static inline void ion_prep_sendmsg(struct ion_sqe *sqe, int fd,
                                    const struct msghdr *msg,
                                    uint64_t user_data) {
  ion_prep_rw(sqe, ION_OP_SENDMSG, fd, msg, 1, 0, user_data);
}

/* read(2)/write(2) at an offset (-1: the file position); man
 * io_uring_prep_read */
static inline void ion_prep_read(struct ion_sqe *sqe, int fd, void *buf,
                                 uint32_t len, uint64_t off,
                                 uint64_t user_data) {
  ion_prep_rw(sqe, ION_OP_READ, fd, buf, len, off, user_data);
}

static inline void ion_prep_write(struct ion_sqe *sqe, int fd, const void *buf,
                                  uint32_t len, uint64_t off,
                                  uint64_t user_data) {
  ion_prep_rw(sqe, ION_OP_WRITE, fd, buf, len, off, user_data);
}

/* writev(2) at an offset; man io_uring_prep_writev. The iovecs must stay
 * put until the SQE is submitted (IORING_FEAT_SUBMIT_STABLE, 5.5+). */
static inline void ion_prep_writev(struct ion_sqe *sqe, int fd,
                                   const struct iovec *iov, uint32_t n,
                                   uint64_t off, uint64_t user_data) {
  ion_prep_rw(sqe, ION_OP_WRITEV, fd, iov, n, off, user_data);
}

/* Cancel the request whose user_data is target (its first match);
 * man io_uring_prep_cancel64 */
static inline void ion_prep_cancel_ud(struct ion_sqe *sqe, uint64_t target,
                                      uint64_t user_data) {
  ion_prep_rw(sqe, ION_OP_ASYNC_CANCEL, -1, NULL, 0, 0, user_data);
  sqe->addr = target;
  sqe->op_flags = 0;
}

/* Cancel every request on fd (5.19+); man io_uring_prep_cancel_fd */
static inline void ion_prep_cancel_fd(struct ion_sqe *sqe, int fd,
                                      uint64_t user_data) {
  ion_prep_rw(sqe, ION_OP_ASYNC_CANCEL, fd, 0, 0, 0, user_data);
  sqe->op_flags = ION_ASYNC_CANCEL_FD | ION_ASYNC_CANCEL_ALL;
}

static inline void ion_prep_nop(struct ion_sqe *sqe, uint64_t user_data) {
  ion_prep_rw(sqe, ION_OP_NOP, -1, 0, 0, 0, user_data);
}

#endif
