/* UDP socket lifecycle, addresses and options (see udp.h). The I/O paths
 * are in udp_io.c. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/prep.h"
#include "udp/udp_internal.h"

#define ALIGN64(x) (((x) + 63U) & ~63U)
#define MAX_SLOTS (1U << 16) /* bids are 16 bits */

static bool pow2(uint32_t v) { return v && !(v & (v - 1)); }

int ion_udp_layout_of(const ion_udp_config *cfg, ion_udp_layout *out) {
  if (cfg->family != 4 && cfg->family != 6) return -EINVAL;
  if (!pow2(cfg->rslots) || cfg->rslots > MAX_SLOTS) return -EINVAL;
  if (!pow2(cfg->sslots) || cfg->sslots > MAX_SLOTS) return -EINVAL;
  if (cfg->rslot <= ION_UDP_SLOT_HDR || cfg->rslot > 65536 + 128 ||
      (cfg->rslot & 7))
    return -EINVAL;
  if (cfg->sdata_len < 1 || cfg->sdata_len > (1U << 28)) return -EINVAL;
  /* A coalesced receive that does not fit is cut, and its datagrams lost. */
  if (cfg->gro && cfg->rslot < ION_UDP_SLOT_HDR + ION_UDP_GRO_PAYLOAD)
    return -EINVAL;
  uint64_t rmeta_n = (uint64_t)cfg->rslots * (cfg->gro ? ION_UDP_GRO_SEGS : 1);
  if (rmeta_n > (1U << 20)) return -EINVAL;
  out->rmeta_n = (uint32_t)rmeta_n;
  uint64_t o = 0;
  out->ctrl = 0;
  o += ION_C_WORDS * 4;
  out->stats = (uint32_t)o;
  o += ION_S_WORDS * 8;
  out->rmeta = (uint32_t)o;
  o += rmeta_n * ION_M_WORDS * 4;
  out->sdesc = (uint32_t)o;
  o += (uint64_t)cfg->sslots * ION_M_WORDS * 4;
  o = ALIGN64(o);
  out->rpool = (uint32_t)o;
  o += (uint64_t)cfg->rslots * cfg->rslot;
  o = ALIGN64(o);
  out->sdata = (uint32_t)o;
  o += cfg->sdata_len;
  if (o > (1U << 30)) return -EINVAL;
  out->total = (uint32_t)o;
  return 0;
}

static void udp_close_op(void *obj) { ion_udp_close(obj); }

/* Native state only; the shared block goes with the last reference. */
static void release(ion_udp *u) {
  ion_rpool_free(&u->pool, &u->rx->ring);
  ion_dring_free(&u->dr);
  free(u->singles);
  free(u->unarmed);
  free(u->sends);
  free(u->mm_hdrs);
  free(u->mm_bufs);
  free(u->giov);
  free(u->gcount);
  u->giov = NULL;
  u->gcount = NULL;
  u->mm_hdrs = NULL;
  u->mm_bufs = NULL;
  u->singles = NULL;
  u->unarmed = NULL;
  u->sends = NULL;
}

static void udp_finalize(void *obj) {
  ion_udp *u = obj;
  release(u);
  /* Only now: the kernel has returned every request that used the fd
   * and the memory. JS views keep the block alive as long as they live. */
  if (u->fd >= 0) close(u->fd);
  u->fd = -1;
  ion_mem_unref(u->block);
  u->block = NULL;
}

static int udp_start_op(void *obj) { return ion_udp_start(obj); }
static void udp_flush_op(void *obj) { ion_udp_flush(obj); }
static void udp_ref_op(void *obj, int ref) { ion_udp_set_ref(obj, ref); }
static int udp_fd_op(const void *obj) { return ion_udp_fd(obj); }

const ion_obj_ops ion_udp_ops = {
    .complete = ion_udp_io_complete,
    .after_dispatch = ion_udp_io_after_dispatch,
    .close = udp_close_op,
    .finalize = udp_finalize,
    .start = udp_start_op,
    .flush = udp_flush_op,
    .set_ref = udp_ref_op,
    .resume = ion_udp_io_resume,
    .lost = ion_udp_io_lost,
    .fd = udp_fd_op,
};

static int alloc_state(ion_udp *u) {
  const ion_udp_config *c = &u->cfg;
  u->sends = calloc(c->sslots, sizeof(*u->sends));
  if (!u->sends) return -ENOMEM;
  if (c->backend == ION_BACKEND_MMSG) {
    u->mm_hdrs = calloc(ION_MMSG_BATCH, sizeof(*u->mm_hdrs));
    u->mm_bufs = calloc(ION_MMSG_BATCH, sizeof(*u->mm_bufs));
    if (!u->mm_hdrs || !u->mm_bufs) return -ENOMEM;
  } else if (!c->multishot) {
    u->singles = calloc(c->rslots, sizeof(*u->singles));
    u->unarmed = calloc(c->rslots, sizeof(*u->unarmed));
    if (!u->singles || !u->unarmed) return -ENOMEM;
  }
  if (c->gso) {
    u->giov = calloc(c->sslots, sizeof(*u->giov));
    u->gcount = calloc(c->sslots, 1);
    if (!u->giov || !u->gcount) return -ENOMEM;
  }
  return 0;
}

/* Socket options of the offloads; a kernel that refuses one only costs
 * speed, so the socket goes on without it. */
static void setup_offloads(ion_udp *u) {
  int one = 1;
  if (u->cfg.gro)
    u->gro = setsockopt(u->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
  /* UDP_SEGMENT is a per-send control message; reading it as an option
   * tells whether the kernel has it at all (Linux 4.18+). */
  int seg = 0;
  socklen_t len = sizeof(seg);
  u->gso = u->giov != NULL &&
           getsockopt(u->fd, SOL_UDP, UDP_SEGMENT, &seg, &len) == 0;
  u->gso_max_seg = ION_UDP_GSO_BYTES;
}

/* The block JS will see, laid out by ion_udp_layout_of, and the shared
 * structures over it. */
static int map_mem(ion_udp *u) {
  u->block = ion_mem_new(u->lay.total);
  if (!u->block) return -ENOMEM;
  uint8_t *mem = u->mem = u->block->base;
  u->ctrl = (int32_t *)(mem + u->lay.ctrl);
  u->stats = (double *)(mem + u->lay.stats);
  u->rmeta = (int32_t *)(mem + u->lay.rmeta);
  int rc = ion_rpool_init(&u->pool, mem + u->lay.rpool, u->cfg.rslots,
                          u->cfg.rslot);
  if (rc == 0)
    rc = ion_dring_init(&u->dr, (int32_t *)(mem + u->lay.sdesc), u->ctrl,
                        u->cfg.sslots);
  return rc;
}

/* The socket: a new one, or the caller's (cfg->adopt) once it is known to
 * be a UDP socket of the right family. The poll backend needs it
 * nonblocking (libuv's uv_udp_open does the same to an adopted fd). */
static int open_socket(const ion_udp_config *cfg, bool mmsg) {
  if (!cfg->adopt) {
    int fd = socket(cfg->family == 4 ? AF_INET : AF_INET6,
                    SOCK_DGRAM | SOCK_CLOEXEC | (mmsg ? SOCK_NONBLOCK : 0), 0);
    return fd < 0 ? -errno : fd;
  }
  int rc = ion_fd_check_udp(cfg->fd, cfg->family);
  if (rc < 0) return rc;
  if (mmsg) {
    int fl = fcntl(cfg->fd, F_GETFL);
    if (fl < 0 || fcntl(cfg->fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  }
  return cfg->fd;
}

/* Options every socket gets; an adopted one keeps its own IPV6_V6ONLY. */
static void setup_socket(ion_udp *u, const ion_udp_config *cfg) {
  int one = 1;
  /* Ask for the kernel's drop counter with every datagram. */
  setsockopt(u->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
  setup_offloads(u);
  if (cfg->family == 6 && !cfg->adopt) {
    int v6only = cfg->ipv6_only ? 1 : 0;
    setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
}

int ion_udp_create(ion_reactor *rx, const ion_udp_config *cfg,
                   ion_udp **out) {
  ion_udp_layout lay;
  int rc = ion_udp_layout_of(cfg, &lay);
  if (rc < 0) return rc;
  bool mmsg = cfg->backend == ION_BACKEND_MMSG;
  if (!mmsg && cfg->backend != ION_BACKEND_URING) return -EINVAL;
  if (!mmsg && rx->ring.fd < 0) return rx->ring_err ? rx->ring_err : -ENOSYS;
  ion_udp *u = calloc(1, sizeof(*u));
  if (!u) return -ENOMEM;
  u->cfg = *cfg;
  uint32_t room = cfg->rslot - ION_UDP_SLOT_HDR;
  if (u->cfg.max_payload == 0 || u->cfg.max_payload > room)
    u->cfg.max_payload = room;
  /* Fall back for this feature only when the kernel lacks it. */
  u->cfg.multishot = !mmsg && cfg->multishot && rx->multishot_recvmsg;
  u->lay = lay;
  u->rx = rx;
  u->refd = true;
  u->fd = open_socket(cfg, mmsg);
  if (u->fd < 0) rc = u->fd;
  if (rc == 0) rc = alloc_state(u);
  if (rc == 0) rc = map_mem(u);
  if (rc == 0) {
    setup_socket(u, cfg);
    rc = ion_reactor_add(rx, &u->obj, &ion_udp_ops);
  }
  if (rc < 0) {
    if (cfg->adopt) u->fd = -1; /* a failed adoption leaves the fd open */
    udp_finalize(u);
    free(u);
    return rc;
  }
  u->multishot = u->cfg.multishot != 0;
  *out = u;
  return rc;
}

socklen_t ion_udp_to_sockaddr(int family, const uint8_t *addr, uint32_t scope,
                              int port, struct sockaddr_in6 *out) {
  memset(out, 0, sizeof(*out));
  if (family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    memcpy(&sin->sin_addr, addr, 4);
    return sizeof(*sin);
  }
  out->sin6_family = AF_INET6;
  out->sin6_port = htons((uint16_t)port);
  out->sin6_scope_id = scope;
  memcpy(&out->sin6_addr, addr, 16);
  return sizeof(*out);
}

void ion_udp_from_sockaddr(const struct sockaddr *sa, socklen_t len,
                           int32_t *words) {
  uint8_t *addr = (uint8_t *)&words[ION_M_ADDR];
  memset(addr, 0, 16);
  words[ION_M_SCOPE] = 0;
  if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
    words[ION_M_FAMILY] = 4;
    words[ION_M_PORT] = ntohs(sin->sin_port);
    memcpy(addr, &sin->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6 &&
             len >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
    words[ION_M_FAMILY] = 6;
    words[ION_M_PORT] = ntohs(sin6->sin6_port);
    words[ION_M_SCOPE] = (int32_t)sin6->sin6_scope_id;
    memcpy(addr, &sin6->sin6_addr, 16);
  } else {
    words[ION_M_FAMILY] = 0;
    words[ION_M_PORT] = 0;
  }
}

/* JS maps IPv4 peers of an IPv6 socket to v4-mapped addresses. */
static int check_family(const ion_udp *u, int family) {
  return family == u->cfg.family ? 0 : -EAFNOSUPPORT;
}

int ion_udp_bind(ion_udp *u, int family, const uint8_t *addr, uint32_t scope,
                 int port, int flags) {
  if (u->obj.closing) return -EBADF;
  if (check_family(u, family) < 0 || port < 0 || port > 65535)
    return -EINVAL;
  int one = 1;
  if ((flags & ION_BIND_REUSEADDR) &&
      setsockopt(u->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
    return -errno;
  if ((flags & ION_BIND_REUSEPORT) &&
      setsockopt(u->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
    return -errno;
  if (u->cfg.family == 6 && (flags & ION_BIND_V6ONLY) &&
      setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
    return -errno;
  struct sockaddr_in6 sa;
  socklen_t len = ion_udp_to_sockaddr(family, addr, scope, port, &sa);
  return bind(u->fd, (struct sockaddr *)&sa, len) < 0 ? -errno : 0;
}

int ion_udp_connect(ion_udp *u, int family, const uint8_t *addr,
                    uint32_t scope, int port) {
  if (u->obj.closing) return -EBADF;
  if (check_family(u, family) < 0 || port < 1 || port > 65535) return -EINVAL;
  struct sockaddr_in6 sa;
  socklen_t len = ion_udp_to_sockaddr(family, addr, scope, port, &sa);
  return connect(u->fd, (struct sockaddr *)&sa, len) < 0 ? -errno : 0;
}

int ion_udp_disconnect(ion_udp *u) {
  if (u->obj.closing) return -EBADF;
  struct sockaddr sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_family = AF_UNSPEC;
  return connect(u->fd, &sa, sizeof(sa)) < 0 ? -errno : 0;
}

int ion_udp_name(ion_udp *u, int peer, int32_t *out) {
  if (u->obj.closing) return -EBADF;
  struct sockaddr_in6 sa;
  socklen_t len = sizeof(sa);
  int rc = peer ? getpeername(u->fd, (struct sockaddr *)&sa, &len)
                : getsockname(u->fd, (struct sockaddr *)&sa, &len);
  if (rc < 0) return -errno;
  ion_udp_from_sockaddr((struct sockaddr *)&sa, len, out);
  return 0;
}

/* level/name for an option on this socket's family; -1 if unknown. */
static int opt_of(const ion_udp *u, int opt, int *level, int *name) {
  bool v6 = u->cfg.family == 6;
  switch (opt) {
    case ION_OPT_REUSEADDR: *level = SOL_SOCKET, *name = SO_REUSEADDR; break;
    case ION_OPT_REUSEPORT: *level = SOL_SOCKET, *name = SO_REUSEPORT; break;
    case ION_OPT_RCVBUF: *level = SOL_SOCKET, *name = SO_RCVBUF; break;
    case ION_OPT_SNDBUF: *level = SOL_SOCKET, *name = SO_SNDBUF; break;
    case ION_OPT_BROADCAST: *level = SOL_SOCKET, *name = SO_BROADCAST; break;
    case ION_OPT_MARK: *level = SOL_SOCKET, *name = SO_MARK; break;
    case ION_OPT_TTL:
      *level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
      *name = v6 ? IPV6_UNICAST_HOPS : IP_TTL;
      break;
    case ION_OPT_MULTICAST_TTL:
      *level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
      *name = v6 ? IPV6_MULTICAST_HOPS : IP_MULTICAST_TTL;
      break;
    case ION_OPT_MULTICAST_LOOP:
      *level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
      *name = v6 ? IPV6_MULTICAST_LOOP : IP_MULTICAST_LOOP;
      break;
    default: return -1;
  }
  return 0;
}

int ion_udp_setopt(ion_udp *u, int opt, int value) {
  int level, name;
  if (u->obj.closing) return -EBADF;
  if (opt_of(u, opt, &level, &name) < 0) return -EINVAL;
  return setsockopt(u->fd, level, name, &value, sizeof(value)) < 0 ? -errno
                                                                   : 0;
}

int ion_udp_getopt(ion_udp *u, int opt) {
  int level, name, value = 0;
  socklen_t len = sizeof(value);
  if (u->obj.closing) return -EBADF;
  if (opt_of(u, opt, &level, &name) < 0) return -EINVAL;
  if (getsockopt(u->fd, level, name, &value, &len) < 0) return -errno;
  return value < 0 ? 0 : value;
}

/* Multicast membership. group/source/iface are 16-byte address words of the
 * socket's family (IPv4: first 4 bytes); source and iface may be NULL. For
 * IPv6 the interface is the scope id (ifindex). */
static int membership4(ion_udp *u, int join, const uint8_t *group,
                       const uint8_t *source, const uint8_t *iface) {
  if (source) {
    struct ip_mreq_source m;
    memset(&m, 0, sizeof(m));
    memcpy(&m.imr_multiaddr, group, 4);
    memcpy(&m.imr_sourceaddr, source, 4);
    if (iface) memcpy(&m.imr_interface, iface, 4);
    int opt = join ? IP_ADD_SOURCE_MEMBERSHIP : IP_DROP_SOURCE_MEMBERSHIP;
    return setsockopt(u->fd, IPPROTO_IP, opt, &m, sizeof(m)) < 0 ? -errno : 0;
  }
  struct ip_mreq m;
  memset(&m, 0, sizeof(m));
  memcpy(&m.imr_multiaddr, group, 4);
  if (iface) memcpy(&m.imr_interface, iface, 4);
  int opt = join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP;
  return setsockopt(u->fd, IPPROTO_IP, opt, &m, sizeof(m)) < 0 ? -errno : 0;
}

static int membership6(ion_udp *u, int join, const uint8_t *group,
                       const uint8_t *source, uint32_t scope) {
  if (source) {
    struct group_source_req g;
    memset(&g, 0, sizeof(g));
    g.gsr_interface = scope;
    struct sockaddr_in6 *gr = (struct sockaddr_in6 *)&g.gsr_group;
    struct sockaddr_in6 *sr = (struct sockaddr_in6 *)&g.gsr_source;
    gr->sin6_family = sr->sin6_family = AF_INET6;
    memcpy(&gr->sin6_addr, group, 16);
    memcpy(&sr->sin6_addr, source, 16);
    int opt = join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP;
    return setsockopt(u->fd, IPPROTO_IPV6, opt, &g, sizeof(g)) < 0 ? -errno
                                                                   : 0;
  }
  struct ipv6_mreq m;
  memset(&m, 0, sizeof(m));
  memcpy(&m.ipv6mr_multiaddr, group, 16);
  m.ipv6mr_interface = scope;
  int opt = join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP;
  return setsockopt(u->fd, IPPROTO_IPV6, opt, &m, sizeof(m)) < 0 ? -errno : 0;
}

int ion_udp_membership(ion_udp *u, int join, int family,
                       const uint8_t *group, const uint8_t *source,
                       const uint8_t *iface, uint32_t scope) {
  if (u->obj.closing) return -EBADF;
  /* The group's family picks the option set, not the socket's: the kernel
   * then answers a mismatch itself (ENOPROTOOPT), as it does for libuv. */
  return family == 4 ? membership4(u, join, group, source, iface)
                            : membership6(u, join, group, source, scope);
}

int ion_udp_multicast_if(ion_udp *u, const uint8_t *addr, uint32_t scope) {
  if (u->obj.closing) return -EBADF;
  if (u->cfg.family == 4) {
    struct in_addr a;
    memcpy(&a, addr, 4);
    return setsockopt(u->fd, IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof(a)) < 0
               ? -errno
               : 0;
  }
  int ifindex = (int)scope;
  return setsockopt(u->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex,
                    sizeof(ifindex)) < 0
             ? -errno
             : 0;
}

int ion_udp_start(ion_udp *u) {
  if (u->obj.closing) return -EBADF;
  if (u->receiving) return 0;
  u->receiving = true;
  /* The poll backend receives when the addon's uv_poll fires. */
  int rc = u->cfg.backend == ION_BACKEND_MMSG ? 0 : ion_udp_io_arm(u);
  if (rc < 0) u->receiving = false;
  ion_udp_update_alive(u);
  return rc;
}

void ion_udp_set_ref(ion_udp *u, int ref) {
  u->refd = ref != 0;
  ion_udp_update_alive(u);
}

void ion_udp_update_alive(ion_udp *u) {
  /* want_write (mmsg): sends wait for POLLOUT, not yet taken (send_next). */
  bool alive = u->obj.closing || ion_dring_busy(&u->dr) ||
               u->want_write || (u->refd && u->receiving);
  if (!u->obj.finalized) ion_reactor_set_alive(u->rx, &u->obj, alive);
}

/* One cancel for everything on the fd; it also gives the close a
 * completion to finish on when nothing else was in flight. No SQE: the
 * reactor's retry asks again (ion_udp_io_resume). */
void ion_udp_queue_cancel(ion_udp *u) {
  struct ion_sqe *sqe = ion_reactor_sqe(u->rx, &u->obj);
  if (!sqe) return;
  ion_prep_cancel_fd(sqe, u->fd, ION_UD(u->obj.id, K_CANCEL, 0));
  u->cancel_queued = true;
}

void ion_udp_close(ion_udp *u) {
  if (u->obj.closing) return;
  u->obj.closing = true;
  u->receiving = false;
  ion_udp_io_fail_pending(u, -ECANCELED);
  if (u->cfg.backend == ION_BACKEND_MMSG) {
    /* Nothing is in flight in the kernel: finish now. */
    ion_udp_update_alive(u);
    ion_reactor_maybe_finalize(u->rx, &u->obj);
    return;
  }
  ion_udp_queue_cancel(u);
  ion_udp_update_alive(u);
  ion_reactor_maybe_finalize(u->rx, &u->obj);
}

int ion_udp_fd(const ion_udp *u) { return u->fd; }
int ion_udp_is_multishot(const ion_udp *u) { return u->multishot; }
int ion_udp_gro_on(const ion_udp *u) { return u->gro; }
int ion_udp_gso_on(const ion_udp *u) { return u->gso; }
struct ion_mem *ion_udp_mem(ion_udp *u) { return u->block; }
