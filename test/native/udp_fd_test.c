/*
 * Native tests of existing descriptors for UDP sockets (udp_fd.c and the
 * adopt path of ion_udp_create): what kind an fd is, in node's
 * guessHandleType terms; which fds can be adopted; duplicates; and an
 * adopted socket's lifetime (made nonblocking for the poll backend, kept
 * open by a refused adoption, closed with the socket that owns it).
 *
 * The adoption tests use a ring-less reactor and the poll backend, so they
 * run where io_uring is refused too. TAP output and helpers: test_util.h.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/reactor.h"
#include "test_util.h"
#include "udp/udp.h"
#include "udp/udp_internal.h"

static int socket_of(int domain, int type) {
  return socket(domain, type | SOCK_CLOEXEC, 0);
}

static bool is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static void close_all(const int *fds, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

static int kind_of(int fd, int *family) {
  *family = -1;
  return ion_fd_kind(fd, family);
}

/* Sockets: UDP and TCP of either family, unix stream (a pipe to Node),
 * unix datagram (unknown). */
static int t_kind_sockets(void) {
  int st = FAIL, fam;
  int u4 = socket_of(AF_INET, SOCK_DGRAM), u6 = socket_of(AF_INET6, SOCK_DGRAM);
  int t4 = socket_of(AF_INET, SOCK_STREAM), us = socket_of(AF_UNIX, SOCK_STREAM);
  int ud = socket_of(AF_UNIX, SOCK_DGRAM);
  CHECK(u4 >= 0 && t4 >= 0 && us >= 0 && ud >= 0);
  CHECK(kind_of(u4, &fam) == ION_FD_UDP && fam == 4);
  if (u6 >= 0) CHECK(kind_of(u6, &fam) == ION_FD_UDP && fam == 6);
  CHECK(kind_of(t4, &fam) == ION_FD_TCP && fam == 4);
  CHECK(kind_of(us, &fam) == ION_FD_PIPE && fam == 0);
  CHECK(kind_of(ud, &fam) == ION_FD_UNKNOWN && fam == 0);
  st = PASS;
out:
  close_all((int[]){u4, u6, t4, us, ud}, 5);
  return st;
}

/* Files, character devices, FIFOs, terminals, closed and negative fds. */
static int t_kind_files(void) {
  int st = FAIL, fam, pfd[2] = {-1, -1}, pty = -1;
  char path[] = "/tmp/ion-udp-fd-XXXXXX";
  int file = mkstemp(path);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  CHECK(file >= 0 && null >= 0 && pipe2(pfd, O_CLOEXEC) == 0);
  unlink(path);
  CHECK(kind_of(file, &fam) == ION_FD_FILE && fam == 0);
  CHECK(kind_of(null, &fam) == ION_FD_FILE);
  CHECK(kind_of(pfd[0], &fam) == ION_FD_PIPE);
  CHECK(kind_of(-1, &fam) == ION_FD_UNKNOWN && fam == 0);
  int closed = dup(file);
  CHECK(closed >= 0 && close(closed) == 0);
  CHECK(kind_of(closed, &fam) == ION_FD_UNKNOWN);
  pty = posix_openpt(O_RDWR | O_NOCTTY);
  SKIP_IF(pty < 0, "no pseudo-terminal here (%s)", strerror(errno));
  CHECK(kind_of(pty, &fam) == ION_FD_TTY);
  st = PASS;
out:
  close_all((int[]){file, null, pfd[0], pfd[1], pty}, 5);
  return st;
}

/* Only a UDP socket of the asked family passes; dup gives a new fd of the
 * same socket, close-on-exec, and refuses a bad fd. */
static int t_check_and_dup(void) {
  int st = FAIL, d = -1;
  int u4 = socket_of(AF_INET, SOCK_DGRAM), t4 = socket_of(AF_INET, SOCK_STREAM);
  CHECK(u4 >= 0 && t4 >= 0);
  CHECK(ion_fd_check_udp(u4, 4) == 0);
  CHECK(ion_fd_check_udp(u4, 6) == -EAFNOSUPPORT);
  CHECK(ion_fd_check_udp(t4, 4) == -ENOTSOCK);
  CHECK(ion_fd_check_udp(-1, 4) == -EBADF);
  d = ion_fd_dup(u4);
  CHECK(d >= 0 && d != u4 && (fcntl(d, F_GETFD) & FD_CLOEXEC));
  CHECK(ion_fd_check_udp(d, 4) == 0);
  CHECK(ion_fd_dup(-1) == -EBADF);
  st = PASS;
out:
  if (d >= 0) close(d);
  if (u4 >= 0) close(u4);
  if (t4 >= 0) close(t4);
  return st;
}

/* ---- adoption: a ring-less reactor (as when io_uring is refused) ---- */

typedef struct {
  ion_reactor rx;
  ion_udp_layout lay;
  ion_udp_config cfg;
} afix;

static int afix_open(afix *f, int fd) {
  memset(f, 0, sizeof(*f));
  f->rx.ring.fd = -1;
  f->rx.efd = -1;
  f->rx.ring_err = -EPERM;
  f->cfg = (ion_udp_config){.family = 4, .rslots = 8, .rslot = 512,
                            .sslots = 16, .sdata_len = 8192,
                            .backend = ION_BACKEND_MMSG, .adopt = 1, .fd = fd};
  return ion_udp_layout_of(&f->cfg, &f->lay);
}

static void afix_close(afix *f) {
  ion_reactor_shutdown(&f->rx);
  ion_reactor_destroy(&f->rx);
}

/* A bound, blocking UDP socket is adopted as it is: same fd, same port,
 * now nonblocking (poll backend); closing the socket closes the fd. */
static int t_adopt(void) {
  int st = FAIL;
  afix f;
  ion_udp *u = NULL;
  struct sockaddr_in a;
  int fd = udp_bound(&a);
  CHECK(fd >= 0 && afix_open(&f, fd) == 0);
  CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
  int id = ion_udp_create(&f.rx, &f.cfg, &u);
  CHECKF(id > 0, "id=%d", id);
  CHECK(ion_udp_fd(u) == fd && (fcntl(fd, F_GETFL) & O_NONBLOCK));
  int32_t w[ION_M_WORDS];
  CHECK(ion_udp_name(u, 0, w) == 0 && w[ION_M_PORT] == ntohs(a.sin_port));
  ion_udp_close(u); /* nothing in flight on the poll backend: finalized */
  CHECK(!is_open(fd));
  fd = -1;
  st = PASS;
out:
  if (fd >= 0 && st != PASS && !u) close(fd);
  afix_close(&f);
  return st;
}

/* A refused adoption (not UDP, other family) fails and leaves the fd open
 * and untouched (still blocking). */
static int t_adopt_refused(void) {
  int st = FAIL;
  afix f;
  ion_udp *u = NULL;
  int t4 = socket_of(AF_INET, SOCK_STREAM), u6 = socket_of(AF_INET6, SOCK_DGRAM);
  CHECK(t4 >= 0 && afix_open(&f, t4) == 0);
  int rc = ion_udp_create(&f.rx, &f.cfg, &u);
  CHECKF(rc == -ENOTSOCK, "rc=%d", rc);
  CHECK(is_open(t4) && !(fcntl(t4, F_GETFL) & O_NONBLOCK));
  if (u6 >= 0) {
    f.cfg.fd = u6;
    rc = ion_udp_create(&f.rx, &f.cfg, &u);
    CHECKF(rc == -EAFNOSUPPORT, "rc=%d", rc);
    CHECK(is_open(u6));
  }
  CHECK(u == NULL && f.rx.nobjs == 0);
  st = PASS;
out:
  afix_close(&f);
  if (t4 >= 0) close(t4);
  if (u6 >= 0) close(u6);
  return st;
}

int main(void) {
  static const test_case tests[] = {
      {"fd kind: sockets", t_kind_sockets},
      {"fd kind: files, pipes, terminals, bad fds", t_kind_files},
      {"check and dup", t_check_and_dup},
      {"adopt a bound socket; close closes it", t_adopt},
      {"refused adoption leaves the fd open", t_adopt_refused},
  };
  return run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
