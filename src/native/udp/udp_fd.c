/* Existing descriptors for UDP sockets (see udp.h): what kind an fd is,
 * whether it can be adopted, and duplicates. node:dgram's bind({ fd }) and
 * cluster workers hand the layer descriptors made elsewhere; these checks
 * keep a wrong one from ever reaching the ring. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "udp/udp.h"

static int ip_family(sa_family_t f) {
  return f == AF_INET ? 4 : f == AF_INET6 ? 6 : 0;
}

/* A socket: UDP or TCP by its type and address family; a stream socket of
 * AF_UNIX is a pipe to Node; anything else is unknown. */
static int socket_kind(int fd, int *family) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  int type = 0;
  socklen_t tlen = sizeof(type);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0)
    return ION_FD_UNKNOWN;
  *family = ip_family(ss.ss_family);
  if (type == SOCK_DGRAM && *family) return ION_FD_UDP;
  if (type == SOCK_STREAM && *family) return ION_FD_TCP;
  if (type == SOCK_STREAM && ss.ss_family == AF_UNIX) return ION_FD_PIPE;
  return ION_FD_UNKNOWN;
}

int ion_fd_kind(int fd, int *family) {
  struct stat st;
  *family = 0;
  if (fd < 0) return ION_FD_UNKNOWN;
  /* A terminal first: Node reports it as TTY whatever its file type. */
  if (isatty(fd)) return ION_FD_TTY;
  if (fstat(fd, &st) < 0) return ION_FD_UNKNOWN;
  /* Character devices count as files, as in libuv. */
  if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) return ION_FD_FILE;
  if (S_ISFIFO(st.st_mode)) return ION_FD_PIPE;
  if (!S_ISSOCK(st.st_mode)) return ION_FD_UNKNOWN;
  return socket_kind(fd, family);
}

int ion_fd_dup(int fd) {
  if (fd < 0) return -EBADF;
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return d < 0 ? -errno : d;
}

int ion_fd_check_udp(int fd, int family) {
  int type = 0, domain = 0, proto = 0;
  socklen_t len = sizeof(int);
  if (fd < 0) return -EBADF;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return -errno;
  len = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) return -errno;
  len = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0) return -errno;
  /* The ring reads sockaddrs of the socket's own family: a socket of the
   * other one (or not UDP at all) cannot be driven. */
  if (type != SOCK_DGRAM || proto != IPPROTO_UDP) return -ENOTSOCK;
  if (ip_family((sa_family_t)domain) != family) return -EAFNOSUPPORT;
  return 0;
}
