/* The poll backend: recvmmsg/sendmmsg in batches when io_uring is refused
 * (seccomp, io_uring_disabled, old kernels). The addon watches the socket
 * with uv_poll and calls in here; packets land in the same shared memory,
 * with the same events, as on the ring path, so JS cannot tell the
 * difference except by socket.backend. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "udp/udp_internal.h"

static uint8_t *payload_of(ion_udp *u, uint32_t slot) {
  return ion_rpool_slot(&u->pool, slot) + ION_UDP_SLOT_HDR;
}

/* Receive into slots mm_used.. (every slot is free again after each
 * dispatch). A GRO receive fills a whole slot with several datagrams. */
static int recv_batch(ion_udp *u) {
  uint32_t room = u->cfg.rslots - u->mm_used;
  unsigned n = room < ION_MMSG_BATCH ? room : ION_MMSG_BATCH;
  uint32_t len = ion_udp_recv_len(u);
  for (unsigned k = 0; k < n; k++) {
    ion_udp_single *b = &u->mm_bufs[k];
    struct msghdr *m = &u->mm_hdrs[k].msg_hdr;
    b->iov.iov_base = payload_of(u, u->mm_used + k);
    b->iov.iov_len = len;
    memset(m, 0, sizeof(*m));
    m->msg_name = &b->name;
    m->msg_namelen = sizeof(b->name);
    m->msg_iov = &b->iov;
    m->msg_iovlen = 1;
    m->msg_control = b->control;
    m->msg_controllen = sizeof(b->control);
  }
  int r;
  do {
    r = recvmmsg(u->fd, u->mm_hdrs, n, MSG_DONTWAIT, NULL);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return -errno;
  for (int k = 0; k < r; k++) {
    ion_udp_single *b = &u->mm_bufs[k];
    struct msghdr *m = &u->mm_hdrs[k].msg_hdr;
    size_t ctl = m->msg_controllen < ION_UDP_CTRLLEN ? m->msg_controllen
                                                     : ION_UDP_CTRLLEN;
    uint32_t seg = ion_udp_read_cmsgs(u, b->control, ctl);
    ion_udp_deliver_gro(u, payload_of(u, u->mm_used), u->mm_hdrs[k].msg_len,
                        (m->msg_flags & MSG_TRUNC) != 0, &b->name,
                        m->msg_namelen, seg);
    u->mm_used++;
  }
  return r;
}

void ion_mmsg_on_readable(ion_udp *u) {
  if (u->obj.closing || !u->receiving) return;
  while (u->mm_used < u->cfg.rslots) {
    int r = recv_batch(u);
    if (r == -EAGAIN || r == -EWOULDBLOCK) break;
    if (r < 0) {
      ion_udp_recv_error(u, r);
      break;
    }
    if (r < ION_MMSG_BATCH) break; /* the queue is empty for now */
  }
}

/* Send the n messages built in mm_hdrs. Returns how many the kernel took,
 * or -errno for the first one. */
static int send_batch(ion_udp *u, unsigned n) {
  int r;
  do {
    r = sendmmsg(u->fd, u->mm_hdrs, n, MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}

/* Build up to ION_MMSG_BATCH messages from send_next, each one descriptor
 * or a GSO run of several (udp_gso.c); invalid descriptors before the first
 * valid one fail on the spot. Returns the message count. */
static unsigned build_run(ion_udp *u, uint32_t tail, bool *failed) {
  uint32_t seq = u->dr.next;
  unsigned n = 0;
  /* Bounded: the tail is at most sslots past the frontier (dring.h). */
  while (n < ION_MMSG_BATCH && seq != tail) {
    uint32_t slot = ion_dring_slot(&u->dr, seq);
    int rc = ion_udp_build_send(u, slot, ion_dring_desc(&u->dr, slot));
    if (rc == 0) {
      seq += ion_udp_gso_run(u, seq, tail);
      u->mm_hdrs[n].msg_hdr = u->sends[slot].msg;
      u->mm_hdrs[n].msg_len = 0;
      n++;
      continue;
    }
    if (n) break; /* send the run first; this one fails next time */
    ion_udp_send_done(u, slot, rc);
    u->dr.next++;
    seq++;
    *failed = true;
  }
  return n;
}

static uint32_t run_len(const ion_udp *u, uint32_t slot) {
  return u->gcount && u->gcount[slot] ? u->gcount[slot] : 1;
}

void ion_mmsg_flush(ion_udp *u) {
  uint32_t tail;
  if (ion_dring_tail(&u->dr, &tail) < 0) {
    ion_udp_protocol_error(u);
    return;
  }
  bool failed = false, wanted = u->want_write;
  u->want_write = false;
  for (;;) {
    unsigned n = build_run(u, tail, &failed);
    if (n == 0) break;
    int r = send_batch(u, n);
    if (r == -EAGAIN || r == -EWOULDBLOCK || r == -ENOBUFS) {
      u->want_write = true; /* the addon polls for POLLOUT, then retries */
      break;
    }
    uint32_t head = ion_dring_slot(&u->dr, u->dr.next);
    if (r < 0 && run_len(u, head) > 1) {
      /* The route refused the run: its datagrams go out one by one. */
      ion_udp_gso_learn(u, head, r);
      u->nogso_until = u->dr.next + run_len(u, head);
      continue;
    }
    if (r < 0) { /* this datagram is refused (EMSGSIZE, ECONNREFUSED...) */
      ion_udp_send_done(u, head, r);
      u->dr.next++;
      failed = true;
      continue;
    }
    for (int k = 0; k < r; k++) {
      uint32_t slot = ion_dring_slot(&u->dr, u->dr.next), g = run_len(u, slot);
      ion_udp_gso_done(u, slot, g, (int32_t)u->mm_hdrs[k].msg_len);
      u->dr.next += g;
    }
  }
  ion_udp_report_sends(u, failed);
  ion_udp_update_alive(u);
  if (wanted != u->want_write && u->rx->poll_hook)
    u->rx->poll_hook(u->rx, &u->obj);
}

/* libuv reports POLLERR as a poll error (UV_EBADF) and stops watching. On
 * a UDP socket POLLERR means a pending socket error, typically ICMP port
 * unreachable on a connected socket: report the real one (ECONNREFUSED). */
void ion_mmsg_on_error(ion_udp *u, int fallback) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = 0;
  if (!u->obj.closing) ion_udp_recv_error(u, err ? -err : fallback);
}

void ion_mmsg_on_writable(ion_udp *u) {
  if (!u->obj.closing) ion_mmsg_flush(u);
}

int ion_mmsg_poll_events(const ion_udp *u) {
  if (u->obj.closing) return 0;
  return (u->receiving ? POLLIN : 0) | (u->want_write ? POLLOUT : 0);
}

/* The addon's uv_poll drives a mmsg socket through these (reactor.h). */
static int mmsg_fd(const void *o) { return ion_udp_fd(o); }
static int mmsg_events(const void *o) { return ion_mmsg_poll_events(o); }
static void mmsg_readable(void *o) { ion_mmsg_on_readable(o); }
static void mmsg_writable(void *o) { ion_mmsg_on_writable(o); }
static void mmsg_error(void *o, int err) { ion_mmsg_on_error(o, err); }

const ion_poll_ops ion_mmsg_poll_ops = {
    .fd = mmsg_fd,
    .events = mmsg_events,
    .readable = mmsg_readable,
    .writable = mmsg_writable,
    .error = mmsg_error,
};
