/* UDP receive and send paths (see udp.h). Completions only fill shared
 * memory and mark the socket ready; JS sees them in one batch per drain, and
 * buffers go back to the kernel after JS returns (ion_udp_io_after_dispatch).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>

#include "core/prep.h"
#include "udp/udp_internal.h"

static uint8_t *slot_ptr(ion_udp *u, uint32_t i) {
  return ion_rpool_slot(&u->pool, i);
}

static void arm_multishot(ion_udp *u) {
  struct ion_sqe *sqe = ion_reactor_sqe(u->rx, &u->obj);
  if (!sqe) return;
  memset(&u->ms_msg, 0, sizeof(u->ms_msg));
  u->ms_msg.msg_namelen = ION_UDP_NAMELEN;
  u->ms_msg.msg_controllen = ION_UDP_CTRLLEN;
  ion_prep_recvmsg_multishot(sqe, u->fd, &u->ms_msg, u->pool.br.bgid,
                             ION_UD(u->obj.id, K_RECV_MULTI, 0));
  u->multishot_armed = true;
}

static void arm_single(ion_udp *u, uint32_t i) {
  ion_udp_single *s = &u->singles[i];
  struct ion_sqe *sqe = ion_reactor_sqe(u->rx, &u->obj);
  if (!sqe) { /* no room in the SQ: resume() arms it later */
    if (u->unarmed_n < u->cfg.rslots) u->unarmed[u->unarmed_n++] = i;
    return;
  }
  memset(&s->msg, 0, sizeof(s->msg));
  s->iov.iov_base = slot_ptr(u, i) + ION_UDP_SLOT_HDR;
  s->iov.iov_len = ion_udp_recv_len(u);
  s->msg.msg_name = &s->name;
  s->msg.msg_namelen = sizeof(s->name);
  s->msg.msg_iov = &s->iov;
  s->msg.msg_iovlen = 1;
  s->msg.msg_control = s->control;
  s->msg.msg_controllen = sizeof(s->control);
  ion_prep_recvmsg(sqe, u->fd, &s->msg, ION_UD(u->obj.id, K_RECV_SINGLE, i));
}

/* Multishot is unavailable for this socket: use single-shot receives. */
static int switch_to_single(ion_udp *u) {
  if (!u->singles) u->singles = calloc(u->cfg.rslots, sizeof(*u->singles));
  if (!u->unarmed) u->unarmed = calloc(u->cfg.rslots, sizeof(*u->unarmed));
  if (!u->singles || !u->unarmed) return -ENOMEM;
  u->multishot = false;
  u->multishot_armed = false;
  ion_bufring_free(&u->rx->ring, &u->pool.br);
  /* Not after close began: nothing would cancel these and the close
   * would never finish. */
  if (u->receiving)
    for (uint32_t i = 0; i < u->cfg.rslots; i++) arm_single(u, i);
  return 0;
}

int ion_udp_io_arm(ion_udp *u) {
  if (u->multishot) {
    if (!u->pool.br.registered &&
        ion_rpool_ring_setup(&u->pool, &u->rx->ring, u->obj.id) < 0)
      return switch_to_single(u);
    arm_multishot(u);
    return 0;
  }
  if (!u->singles) return -ENOMEM;
  for (uint32_t i = 0; i < u->cfg.rslots; i++) arm_single(u, i);
  return 0;
}

/* Ask again for what found no SQE (reactor.h resume): receives, the
 * close's cancel, and sends. */
void ion_udp_io_resume(void *obj) {
  ion_udp *u = obj;
  if (u->obj.closing) {
    if (!u->cancel_queued) ion_udp_queue_cancel(u);
    return;
  }
  if (u->cfg.backend != ION_BACKEND_URING) return;
  if (u->receiving && u->multishot && !u->multishot_armed &&
      u->pool.br.registered)
    arm_multishot(u);
  uint32_t n = u->unarmed_n;
  u->unarmed_n = 0;
  for (uint32_t k = 0; k < n && u->receiving; k++) arm_single(u, u->unarmed[k]);
  ion_udp_flush(u);
}

/* The kernel's drop counter (SO_RXQ_OVFL) and the GRO segment size
 * (UDP_GRO), read with memcpy because the control area need not be aligned
 * for struct cmsghdr. */
uint32_t ion_udp_read_cmsgs(ion_udp *u, const uint8_t *ctl, size_t len) {
  uint32_t seg = 0;
  while (len >= sizeof(struct cmsghdr)) {
    struct cmsghdr h;
    memcpy(&h, ctl, sizeof(h));
    if (h.cmsg_len < sizeof(h) || h.cmsg_len > len) break;
    /* Data starts CMSG_LEN(0) bytes in; CMSG_DATA would dereference a
     * possibly misaligned struct cmsghdr pointer (undefined behaviour). */
    if (h.cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
      uint32_t v;
      memcpy(&v, ctl + CMSG_LEN(0), sizeof(v));
      if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SO_RXQ_OVFL)
        u->stats[ION_S_DROPS] = v;
      else if (h.cmsg_level == SOL_UDP && h.cmsg_type == UDP_GRO)
        seg = v;
    }
    size_t step = CMSG_ALIGN(h.cmsg_len);
    if (step >= len) break;
    ctl += step;
    len -= step;
  }
  return seg;
}

void ion_udp_deliver(ion_udp *u, uint8_t *payload, uint32_t len, bool trunc,
                    const void *name, uint32_t namelen) {
  /* Cannot happen: rmeta has room for every datagram of every buffer. */
  if (u->obj.rcount >= u->lay.rmeta_n) return;
  int32_t *m = &u->rmeta[(size_t)u->obj.rcount * ION_M_WORDS];
  m[ION_M_OFF] = (int32_t)(payload - u->mem);
  m[ION_M_LEN] = (int32_t)len;
  m[ION_M_FLAGS] = trunc ? ION_MF_TRUNC : 0;
  ion_udp_from_sockaddr(name, namelen, m);
  u->obj.rcount++;
  u->stats[ION_S_PKTS_IN]++;
  u->stats[ION_S_BYTES_IN] += len;
  if (trunc) u->stats[ION_S_TRUNC]++;
  ion_reactor_notify(u->rx, &u->obj, ION_EV_RECV);
}

/* A GRO receive holds datagrams of seg bytes back to back (the last may be
 * shorter), all from one sender: one entry each, cut at max_payload like
 * any datagram. trunc (the kernel cut the whole receive) marks the last. */
void ion_udp_deliver_gro(ion_udp *u, uint8_t *payload, uint32_t len,
                         bool trunc, const void *name, uint32_t namelen,
                         uint32_t seg) {
  uint32_t cap = u->cfg.max_payload;
  if (seg == 0 || seg >= len) {
    bool cut = trunc || len > cap;
    ion_udp_deliver(u, payload, len > cap ? cap : len, cut, name, namelen);
    return;
  }
  u->stats[ION_S_GRO_RECVS]++;
  for (uint32_t off = 0; off < len; off += seg) {
    uint32_t n = len - off < seg ? len - off : seg;
    bool last = off + n >= len;
    bool cut = n > cap || (last && trunc);
    ion_udp_deliver(u, payload + off, n > cap ? cap : n, cut, name, namelen);
  }
}

void ion_udp_recv_error(ion_udp *u, int32_t res) {
  u->stats[ION_S_RECV_ERRORS]++;
  ion_reactor_fail(u->rx, &u->obj, res);
}

static void on_recv_multi(ion_udp *u, int32_t res, uint32_t flags) {
  if (!(flags & ION_CQE_F_MORE)) {
    u->multishot_armed = false;
    /* Re-arm (after JS returns buffers) unless we are closing. */
    if (!u->obj.closing) ion_reactor_notify(u->rx, &u->obj, 0);
  }
  if (res < 0) {
    if (res == -ENOBUFS) {
      u->stats[ION_S_ENOBUFS]++;
    } else if (res == -EINVAL && !u->multishot_ever_delivered) {
      u->rx->multishot_recvmsg = false;
      if (switch_to_single(u) < 0) ion_udp_recv_error(u, -ENOMEM);
    } else if (res != -ECANCELED) {
      ion_udp_recv_error(u, res);
    }
    return;
  }
  if (!(flags & ION_CQE_F_BUFFER)) return;
  uint32_t bid = flags >> ION_CQE_BUFFER_SHIFT;
  if (bid >= u->cfg.rslots) return;
  uint8_t *slot = slot_ptr(u, bid);
  struct ion_recvmsg_out out;
  memcpy(&out, slot, sizeof(out));
  /* payloadlen is the datagram's length even when the buffer cut it. */
  uint32_t room = ion_udp_room(u);
  uint32_t len = out.payloadlen;
  bool trunc = (out.flags & MSG_TRUNC) || len > room;
  if (len > room) len = room;
  uint32_t ctl_len = out.controllen < ION_UDP_CTRLLEN ? out.controllen
                                                      : ION_UDP_CTRLLEN;
  uint32_t seg = ion_udp_read_cmsgs(u, slot + 16 + ION_UDP_NAMELEN, ctl_len);
  u->multishot_ever_delivered = true;
  if (!ion_rpool_hold(&u->pool, bid)) return;
  uint32_t namelen = out.namelen < ION_UDP_NAMELEN ? out.namelen
                                                   : ION_UDP_NAMELEN;
  struct sockaddr_in6 name;
  memcpy(&name, slot + 16, sizeof(name));
  ion_udp_deliver_gro(u, slot + ION_UDP_SLOT_HDR, len, trunc, &name, namelen,
                      seg);
}

static void on_recv_single(ion_udp *u, uint32_t i, int32_t res) {
  if (i >= u->cfg.rslots || !u->singles || res == -ECANCELED) return;
  ion_udp_single *s = &u->singles[i];
  if (!ion_rpool_hold(&u->pool, i)) return; /* re-armed after the dispatch */
  if (res < 0) {
    ion_udp_recv_error(u, res);
    return;
  }
  uint32_t ctl_len = s->msg.msg_controllen < ION_UDP_CTRLLEN
                         ? (uint32_t)s->msg.msg_controllen
                         : ION_UDP_CTRLLEN;
  uint32_t seg = ion_udp_read_cmsgs(u, s->control, ctl_len);
  bool trunc = (s->msg.msg_flags & MSG_TRUNC) != 0;
  ion_udp_deliver_gro(u, slot_ptr(u, i) + ION_UDP_SLOT_HDR, (uint32_t)res,
                      trunc, &s->name, s->msg.msg_namelen, seg);
}

void ion_udp_report_sends(ion_udp *u, bool tell) {
  ion_dring_report(&u->dr, u->rx, &u->obj, tell);
}

void ion_udp_protocol_error(ion_udp *u) {
  /* Reported once: the ring stays poisoned and takes nothing more. */
  if (u->obj.rerr != -EPROTO) ion_reactor_fail(u->rx, &u->obj, -EPROTO);
}

void ion_udp_send_done(ion_udp *u, uint32_t slot, int32_t res) {
  ion_dring_done(&u->dr, slot, res);
  if (res >= 0) {
    u->stats[ION_S_PKTS_OUT]++;
    u->stats[ION_S_BYTES_OUT] += res;
  } else {
    u->stats[ION_S_SEND_ERRORS]++;
  }
}

static int submit_send(ion_udp *u, uint32_t slot) {
  struct ion_sqe *sqe = ion_reactor_sqe(u->rx, &u->obj);
  if (!sqe) return -EAGAIN;
  ion_prep_sendmsg(sqe, u->fd, &u->sends[slot].msg,
                   ION_UD(u->obj.id, K_SEND, slot));
  return 0;
}

/* A GSO run was refused (ion_udp_gso_learn says why): send its datagrams
 * one by one so that each gets its own result; nothing is lost. True if
 * some could not be queued (no SQE) and failed with res instead. */
static bool gso_refused(ion_udp *u, uint32_t head, uint32_t n, int32_t res) {
  bool failed = false;
  ion_udp_gso_learn(u, head, res);
  ion_udp_gso_unrun(u, head);
  for (uint32_t k = 0; k < n; k++) {
    if (submit_send(u, head + k) < 0) {
      ion_udp_send_done(u, head + k, res);
      failed = true;
    }
  }
  return failed;
}

static void on_send(ion_udp *u, uint32_t slot, int32_t res) {
  if (slot >= u->cfg.sslots) return;
  uint32_t n = u->gcount ? u->gcount[slot] : 0;
  if (n > 1) {
    u->gcount[slot] = 0;
    if (res < 0 && res != -ECANCELED && !u->obj.closing) {
      ion_udp_report_sends(u, gso_refused(u, slot, n, res));
      ion_udp_update_alive(u);
      return;
    }
    ion_udp_gso_done(u, slot, n, res);
  } else {
    ion_udp_send_done(u, slot, res);
  }
  ion_udp_report_sends(u, res < 0);
  ion_udp_update_alive(u);
}

/* The kernel dropped completions: if the multishot receive's final one
 * was among them, it ended unseen and nothing would re-arm it. */
bool ion_udp_io_lost(void *obj) {
  ion_udp *u = obj;
  return ion_reactor_check_standing(u->rx, &u->obj,
                                    u->multishot && u->multishot_armed,
                                    K_RECV_MULTI, K_LOST_CHECK);
}

void ion_udp_io_complete(void *obj, unsigned kind, uint32_t idx, int32_t res,
                         uint32_t flags) {
  ion_udp *u = obj;
  if (kind == K_RECV_MULTI)
    on_recv_multi(u, res, flags);
  else if (kind == K_LOST_CHECK) /* re-armed after the dispatch if lost */
    ion_reactor_standing_answer(u->rx, &u->obj, res, &u->multishot_armed);
  else if (kind == K_RECV_SINGLE)
    on_recv_single(u, idx, res);
  else if (kind == K_SEND)
    on_send(u, idx, res);
  else if (kind == K_CANCEL)
    u->cancel_queued = false;
}

/* Check one descriptor from JS and build its msghdr in u->sends[slot].
 * 0, or -errno that fails this send only. */
int ion_udp_build_send(ion_udp *u, uint32_t slot, const int32_t *d) {
  uint32_t off = (uint32_t)d[ION_M_OFF], len = (uint32_t)d[ION_M_LEN];
  uint32_t lo = u->lay.sdata, span = u->cfg.sdata_len;
  if (d[ION_M_OFF] < 0 || d[ION_M_LEN] < 0 || off < lo || len > span ||
      off - lo > span - len)
    return -EFAULT;
  int family = d[ION_M_FAMILY], port = d[ION_M_PORT];
  if ((family != 0 && family != u->cfg.family) || port < 0 || port > 65535)
    return -EINVAL;
  ion_udp_send *s = &u->sends[slot];
  memset(&s->msg, 0, sizeof(s->msg));
  s->iov.iov_base = u->mem + off;
  s->iov.iov_len = len;
  s->msg.msg_iov = &s->iov;
  s->msg.msg_iovlen = 1;
  if (family) {
    s->msg.msg_name = &s->name;
    s->msg.msg_namelen = ion_udp_to_sockaddr(
        family, (const uint8_t *)&d[ION_M_ADDR], (uint32_t)d[ION_M_SCOPE],
        port, &s->name);
  }
  return 0;
}

void ion_udp_flush(ion_udp *u) {
  if (u->obj.closing) return;
  if (u->cfg.backend == ION_BACKEND_MMSG) {
    ion_mmsg_flush(u);
    return;
  }
  uint32_t tail;
  if (ion_dring_tail(&u->dr, &tail) < 0) {
    ion_udp_protocol_error(u);
    return;
  }
  bool failed = false;
  /* Bounded: the tail is at most sslots past the frontier (dring.h). */
  while (u->dr.next != tail) {
    uint32_t slot = ion_dring_slot(&u->dr, u->dr.next);
    int rc = ion_udp_build_send(u, slot, ion_dring_desc(&u->dr, slot));
    if (rc < 0) {
      u->dr.next++;
      ion_udp_send_done(u, slot, rc);
      failed = true;
      continue;
    }
    uint32_t n = ion_udp_gso_run(u, u->dr.next, tail);
    if (submit_send(u, slot) < 0) {
      /* No SQE: the head is rebuilt by resume(), whole run again. */
      ion_udp_gso_unrun(u, slot);
      break;
    }
    u->dr.next += n;
  }
  if (failed) ion_udp_report_sends(u, true);
  ion_udp_update_alive(u);
}

void ion_udp_io_fail_pending(ion_udp *u, int32_t err) {
  if (ion_dring_fail_pending(&u->dr, err)) ion_udp_report_sends(u, true);
}

void ion_udp_io_after_dispatch(void *obj) {
  ion_udp *u = obj;
  if (u->obj.closing) return;
  if (u->cfg.backend == ION_BACKEND_MMSG) {
    /* Nothing to hand back: the next recvmmsg reuses every slot. */
    u->mm_used = 0;
    u->pool.held_n = 0;
  } else if (u->multishot) {
    ion_rpool_recycle_ring(&u->pool);
    if (u->receiving && !u->multishot_armed) {
      u->stats[ION_S_REARMS]++;
      arm_multishot(u);
    }
  } else {
    for (uint32_t i = 0; i < u->pool.held_n && u->receiving; i++)
      arm_single(u, u->pool.held[i]);
    u->pool.held_n = 0;
  }
  if (u->obj.rcount) u->stats[ION_S_BATCHES]++;
  u->obj.rcount = 0;
  ion_udp_flush(u);
}
