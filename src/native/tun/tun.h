/*
 * TUN devices: create or attach through /dev/net/tun (TUNSETIFF), and the
 * few ioctls the library needs around them. Plain C with no Node headers;
 * every function returns 0, a value, or -errno.
 *
 * The fd is opened O_NONBLOCK: io_uring then tries each read without
 * blocking and, when no packet is queued, waits through its internal poll
 * instead of parking a kernel worker thread on the read (which is what a
 * blocking fd would need, and what makes cancelling slow). The poll-based
 * fallback wants a non-blocking fd as well.
 */
#ifndef ION_TUN_H
#define ION_TUN_H

#include <stddef.h>

/* ion_tun_open flags */
enum {
  ION_TUN_PI = 1,          /* keep the 4-byte packet information header */
  ION_TUN_MULTI_QUEUE = 2, /* IFF_MULTI_QUEUE: one fd per queue */
  ION_TUN_PERSIST = 4,     /* TUNSETPERSIST: the interface outlives the fd */
  ION_TUN_VNET_HDR = 8,    /* IFF_VNET_HDR: packets carry a virtio_net_hdr
                            * (tun/tunsetup.h turns the offloads on) */
};

/* Which step of ion_tun_open failed, so the caller can say what to fix. */
enum {
  ION_TUN_STAGE_OPEN = 0,    /* open("/dev/net/tun") */
  ION_TUN_STAGE_SETIFF = 1,  /* TUNSETIFF (needs CAP_NET_ADMIN) */
  ION_TUN_STAGE_PERSIST = 2, /* TUNSETPERSIST */
  ION_TUN_STAGE_MTU = 3,     /* SIOCSIFMTU */
};

/* Name buffers hold IFNAMSIZ (16) bytes including the NUL. */
#define ION_TUN_NAMELEN 16

/* Create (or attach to) the TUN interface `name` ("" or a pattern such as
 * "tun%d" lets the kernel choose) and set its MTU when mtu > 0. Writes the
 * interface's name to name_out and which step failed to *stage. Returns the
 * fd or -errno. */
int ion_tun_open(const char *name, int flags, int mtu, char *name_out,
                 int *stage);

/* TUNGETIFF: the interface name and IFF_* flags of an attached TUN fd.
 * Returns the flags or -errno (-EBADFD: not attached; -ENOTTY/-EINVAL: not
 * a TUN fd). */
int ion_tun_info(int fd, char *name_out);

int ion_tun_set_persist(int fd, int on);

/* SIOCGIFMTU / SIOCSIFMTU by interface name, in this network namespace. */
int ion_tun_get_mtu(const char *name);
int ion_tun_set_mtu(const char *name, int mtu);

/* Make fd non-blocking (see the header comment). */
int ion_fd_set_nonblock(int fd);

#endif
