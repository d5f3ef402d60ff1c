/* TUN device setup (see tun.h). */
#define _GNU_SOURCE
#include "tun/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void copy_name(char *dst, const char *src) {
  /* IFNAMSIZ includes the NUL; longer names are refused before this. */
  memset(dst, 0, ION_TUN_NAMELEN);
  if (src) memcpy(dst, src, strnlen(src, ION_TUN_NAMELEN - 1));
}

/* Interface ioctls (MTU) go through any socket of this namespace. */
static int ifreq_ioctl(const char *name, unsigned long req, struct ifreq *ifr) {
  if (!name || strlen(name) >= IFNAMSIZ) return -EINVAL;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  copy_name(ifr->ifr_name, name);
  int rc = ioctl(s, req, ifr) < 0 ? -errno : 0;
  close(s);
  return rc;
}

int ion_tun_set_mtu(const char *name, int mtu) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_mtu = mtu;
  return ifreq_ioctl(name, SIOCSIFMTU, &ifr);
}

int ion_tun_get_mtu(const char *name) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  int rc = ifreq_ioctl(name, SIOCGIFMTU, &ifr);
  return rc < 0 ? rc : ifr.ifr_mtu;
}

int ion_fd_set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -errno;
  if (fl & O_NONBLOCK) return 0;
  return fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

int ion_tun_set_persist(int fd, int on) {
  return ioctl(fd, TUNSETPERSIST, (unsigned long)(on ? 1 : 0)) < 0 ? -errno
                                                                   : 0;
}

int ion_tun_info(int fd, char *name_out) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  if (ioctl(fd, TUNGETIFF, &ifr) < 0) return -errno;
  copy_name(name_out, ifr.ifr_name);
  return (unsigned short)ifr.ifr_flags;
}

/* Steps after TUNSETIFF; returns 0 or -errno with *stage set. */
static int configure(int fd, int flags, int mtu, const char *name,
                     int *stage) {
  int rc = 0;
  if (flags & ION_TUN_PERSIST) {
    *stage = ION_TUN_STAGE_PERSIST;
    rc = ion_tun_set_persist(fd, 1);
  }
  if (rc == 0 && mtu > 0) {
    *stage = ION_TUN_STAGE_MTU;
    rc = ion_tun_set_mtu(name, mtu);
  }
  return rc;
}

int ion_tun_open(const char *name, int flags, int mtu, char *name_out,
                 int *stage) {
  *stage = ION_TUN_STAGE_OPEN;
  if (name && strlen(name) >= IFNAMSIZ) return -EINVAL;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  copy_name(ifr.ifr_name, name);
  ifr.ifr_flags = IFF_TUN;
  if (!(flags & ION_TUN_PI)) ifr.ifr_flags |= IFF_NO_PI;
  if (flags & ION_TUN_MULTI_QUEUE) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  if (flags & ION_TUN_VNET_HDR) ifr.ifr_flags |= IFF_VNET_HDR;
  *stage = ION_TUN_STAGE_SETIFF;
  int rc = ioctl(fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
  if (rc == 0) {
    copy_name(name_out, ifr.ifr_name);
    /* Attaching to an existing persistent device must leave it so. */
    char unused[ION_TUN_NAMELEN];
    int before = ion_tun_info(fd, unused);
    bool was_persistent = before > 0 && (before & IFF_PERSIST);
    rc = configure(fd, flags, mtu, name_out, stage);
    /* A device we made persistent must not outlive a failed open. */
    if (rc < 0 && (flags & ION_TUN_PERSIST) && !was_persistent)
      ion_tun_set_persist(fd, 0);
  }
  if (rc < 0) {
    close(fd);
    return rc;
  }
  return fd;
}
