/*
 * Writing a TUN device opened with IFF_VNET_HDR (file/file.h): the
 * packets JS (or a native producer) pushed are coalesced as the kernel's
 * GRO would (offload.h ion_gro_coalesce) and each group leaves in one
 * IORING_OP_WRITEV (writev on the poll backend) with its virtio_net_hdr,
 * so the kernel's stack sees one 64 KiB TCP segment instead of ~45
 * packets. Every descriptor still gets its own result: the packet's
 * length, or the write's error.
 *
 * A flush takes the descriptors JS pushed in passes of at most
 * ION_GRO_MAX_BATCH, plans the writes of each pass (a record per write, at
 * its first packet's descriptor slot) and submits them in order. Planned
 * writes wait in a FIFO when the SQ is full or the poll backend's write
 * says EAGAIN: coalescing rewrote the first packets' headers, so a plan is
 * never made twice.
 *
 * A coalesced write the kernel refuses (EINVAL, EIO, EMSGSIZE, EOPNOTSUPP:
 * offloads it does not take after all) turns that kind of coalescing off
 * for this device (counted, ION_FS_OFFLOAD_FALLBACKS), and its packets are
 * written again one by one, the first one's headers restored: nothing is
 * lost.
 *
 * The iovecs of coalesced writes live in an arena until the write
 * completes; it is reset whenever no coalesced write is planned or in
 * flight (which under load happens at every flush: TUN writes complete
 * within the enter that submits them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/prep.h"
#include "file/file_internal.h"
#include "tun/csum.h"
#include "tun/offload.h"

#define PASS ION_GRO_MAX_BATCH

struct ion_tun_vwrite {
  unsigned gro; /* ION_GRO_* still in use */
  bool trusted;  /* written packets' checksums are vouched for (WireGuard) */
  bool deferred; /* a pass waited for arena room: flush when it frees */
  uint32_t inject_refuse; /* tests: refuse the next n coalesced writes */
  /* Per descriptor slot (qslots each); the w_* words only at a write's
   * first packet (its record). */
  uint32_t *poff;    /* the packet's offset in mem (native's own copy) */
  uint32_t *plen;    /* its length */
  uint32_t *next;    /* the next packet of its write: slot + 1, 0 = last */
  uint32_t *w_iov;   /* coalesced: first iovec in the arena */
  uint32_t *w_niov;  /* coalesced: iovecs; 0 = one packet, plain write */
  /* Planned writes not yet submitted, in order: their first slots. */
  uint32_t *pend;
  uint32_t pend_head, pend_n;
  struct iovec *arena;
  uint32_t arena_cap, arena_fill, arena_users;
  /* Scratch of one pass. */
  struct ion_gro gro_state;
  struct ion_pkt pk[PASS];
  uint32_t pslot[PASS];
  struct ion_gro_write gw[PASS];
  struct iovec giov[PASS];
};

int ion_tun_vwrite_alloc(ion_file *f) {
  struct ion_tun_vwrite *w = calloc(1, sizeof(*w));
  if (!w) return -ENOMEM;
  f->vw = w;
  uint32_t n = f->cfg.qslots;
  w->gro = f->cfg.gro;
  w->poff = calloc(n, sizeof(uint32_t));
  w->plen = calloc(n, sizeof(uint32_t));
  w->next = calloc(n, sizeof(uint32_t));
  w->w_iov = calloc(n, sizeof(uint32_t));
  w->w_niov = calloc(n, sizeof(uint32_t));
  w->pend = calloc(n, sizeof(uint32_t));
  /* Room for every descriptor's iovec and one more pass. */
  w->arena_cap = n + PASS;
  w->arena = calloc(w->arena_cap, sizeof(struct iovec));
  if (!w->poff || !w->plen || !w->next || !w->w_iov || !w->w_niov ||
      !w->pend || !w->arena)
    return -ENOMEM;
  return 0;
}

void ion_tun_vwrite_free(ion_file *f) {
  struct ion_tun_vwrite *w = f->vw;
  if (!w) return;
  free(w->poff);
  free(w->plen);
  free(w->next);
  free(w->w_iov);
  free(w->w_niov);
  free(w->pend);
  free(w->arena);
  free(w);
  f->vw = NULL;
}

unsigned ion_tun_vnet_gro(const ion_file *f) { return f->vw->gro; }

void ion_tun_vnet_trust(ion_file *f, bool on) {
  if (f->vw) f->vw->trusted = on;
}

void ion_tun_vnet_test_refuse(ion_file *f, uint32_t n) {
  if (f->vw) f->vw->inject_refuse = n;
}

static void pend_push(struct ion_tun_vwrite *w, uint32_t qslots,
                      uint32_t slot) {
  /* Each slot is planned at most once at a time: never full. */
  if (w->pend_n < qslots)
    w->pend[(w->pend_head + w->pend_n++) & (qslots - 1)] = slot;
}

/* Every packet of the write at slot finished with res (bytes or -errno):
 * each descriptor gets its own result. */
static void finish(ion_file *f, uint32_t slot, int32_t res) {
  struct ion_tun_vwrite *w = f->vw;
  uint32_t qslots = f->cfg.qslots;
  /* Bounded: a chain holds distinct slots. */
  for (uint32_t k = 0; k < qslots && slot < qslots; k++) {
    uint32_t nx = w->next[slot];
    int32_t r = res < 0 ? res : (int32_t)w->plen[slot];
    ion_dring_done(&f->dr, slot, r);
    if (r >= 0) {
      f->stats[ION_FS_PKTS_OUT]++;
      f->stats[ION_FS_BYTES_OUT] += r;
    } else {
      f->stats[ION_FS_WRITE_ERRORS]++;
    }
    if (!nx) break;
    slot = nx - 1;
  }
  ion_dring_report(&f->dr, f->rx, &f->obj, res < 0);
}

/* The kernel refused a coalesced write: stop coalescing that protocol,
 * restore the first packet and plan each packet as its own write. */
static void refused(ion_file *f, uint32_t slot) {
  struct ion_tun_vwrite *w = f->vw;
  uint8_t *lead = f->mem + w->poff[slot];
  uint8_t proto = (lead[0] >> 4) == 4 ? lead[9] : lead[6];
  w->gro &= ~(unsigned)(proto == ION_IPPROTO_TCP ? ION_GRO_TCP : ION_GRO_UDP);
  f->stats[ION_FS_OFFLOAD_FALLBACKS]++;
  ion_gro_restore(lead, w->plen[slot]);
  for (uint32_t k = 0; k < f->cfg.qslots && slot < f->cfg.qslots; k++) {
    uint32_t nx = w->next[slot];
    w->next[slot] = 0;
    w->w_niov[slot] = 0;
    memset(f->mem + w->poff[slot] - ION_VNET_HDR_LEN, 0, ION_VNET_HDR_LEN);
    pend_push(w, f->cfg.qslots, slot);
    if (!nx) break;
    slot = nx - 1;
  }
}

static bool is_refusal(int32_t res) {
  return res == -EINVAL || res == -EIO || res == -EMSGSIZE ||
         res == -EOPNOTSUPP;
}

static bool submit_pending(ion_file *f);

/* A write finished (from the ring, the poll backend or an injected
 * refusal). */
static void write_done(ion_file *f, uint32_t slot, int32_t res) {
  struct ion_tun_vwrite *w = f->vw;
  bool coalesced = w->w_niov[slot] != 0;
  if (coalesced && w->arena_users) w->arena_users--;
  if (coalesced && res < 0 && is_refusal(res) && !f->obj.closing)
    refused(f, slot);
  else
    finish(f, slot, res);
  if (w->deferred && w->arena_users == 0) {
    w->deferred = false;
    ion_reactor_notify(f->rx, &f->obj, 0); /* after-dispatch flushes */
  }
}

void ion_tun_vnet_complete(ion_file *f, uint32_t slot, int32_t res) {
  if (slot >= f->cfg.qslots) return;
  write_done(f, slot, res);
  /* A refusal planned its packets again: send them now. */
  if (f->vw->pend_n && !f->obj.closing) submit_pending(f);
  ion_file_update_alive(f);
}

/* ---- submitting planned writes ---- */

/* The write of slot on the poll backend, now: bytes or -errno. */
static int32_t write_now(ion_file *f, uint32_t slot) {
  struct ion_tun_vwrite *w = f->vw;
  ssize_t n;
  do {
    if (w->w_niov[slot])
      n = writev(f->fd, w->arena + w->w_iov[slot], (int)w->w_niov[slot]);
    else
      n = write(f->fd, f->mem + w->poff[slot] - ION_VNET_HDR_LEN,
                w->plen[slot] + ION_VNET_HDR_LEN);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : (int32_t)n;
}

/* The write of slot on the ring: false when there is no SQE now. */
static bool prep_write(ion_file *f, uint32_t slot) {
  struct ion_tun_vwrite *w = f->vw;
  struct ion_sqe *sqe = ion_reactor_sqe(f->rx, &f->obj);
  if (!sqe) return false; /* resume() flushes again */
  uint64_t ud = ION_UD(f->obj.id, K_VWRITE, slot);
  if (w->w_niov[slot])
    ion_prep_writev(sqe, f->fd, w->arena + w->w_iov[slot], w->w_niov[slot], 0,
                    ud);
  else
    ion_prep_write(sqe, f->fd, f->mem + w->poff[slot] - ION_VNET_HDR_LEN,
                   w->plen[slot] + ION_VNET_HDR_LEN, 0, ud);
  return true;
}

/* Submit planned writes in order. False if one had to wait (no SQE, or
 * EAGAIN on the poll backend: want_write). */
static bool submit_pending(ion_file *f) {
  struct ion_tun_vwrite *w = f->vw;
  uint32_t mask = f->cfg.qslots - 1;
  /* Bounded: refusals add at most qslots - pend_n entries, once each. */
  for (uint32_t guard = 0; w->pend_n && guard < 4 * f->cfg.qslots; guard++) {
    uint32_t slot = w->pend[w->pend_head & mask];
    if (w->w_niov[slot] && w->inject_refuse) {
      w->inject_refuse--;
      w->pend_head++;
      w->pend_n--;
      write_done(f, slot, -EINVAL);
      continue;
    }
    if (f->obj.poll) {
      int32_t res = write_now(f, slot);
      if (res == -EAGAIN || res == -EWOULDBLOCK) {
        f->want_write = true;
        return false;
      }
      w->pend_head++;
      w->pend_n--;
      write_done(f, slot, res);
    } else {
      if (!prep_write(f, slot)) return false;
      w->pend_head++;
      w->pend_n--;
    }
  }
  return w->pend_n == 0;
}

/* ---- planning ---- */

/* Check descriptor d (slot) from JS and note its packet: 0 or -errno. */
static int take_packet(ion_file *f, uint32_t slot, uint32_t i) {
  struct ion_tun_vwrite *w = f->vw;
  ion_file_req r;
  int rc = ion_file_check_req(f, ion_dring_desc(&f->dr, slot), &r);
  if (rc < 0) return rc;
  uint32_t off = (uint32_t)(r.buf - f->mem);
  /* The header goes in front of the packet: that room must be ours. */
  if (off - f->lay.qdata < ION_VNET_HDR_LEN) return -EFAULT;
  w->poff[slot] = off;
  w->plen[slot] = r.len;
  w->next[slot] = 0;
  w->w_niov[slot] = 0;
  w->pk[i].data = r.buf;
  w->pk[i].len = r.len;
  w->pk[i].cap = r.len;
  w->pslot[i] = slot;
  return 0;
}

/* Record write k of the pass and queue it. */
static void plan_write(ion_file *f, const struct ion_gro_write *g) {
  struct ion_tun_vwrite *w = f->vw;
  uint32_t lead = w->pslot[g->pkt];
  /* The engine's member chain (per packet index: next member + 1). */
  uint32_t at = g->pkt, prev = lead;
  for (uint32_t k = 1; k < g->npkts && w->gro_state.next[at]; k++) {
    at = w->gro_state.next[at] - 1u;
    w->next[prev] = w->pslot[at] + 1;
    prev = w->pslot[at];
  }
  if (g->npkts > 1) {
    memcpy(w->arena + w->arena_fill, w->giov + g->iov,
           g->niov * sizeof(struct iovec));
    w->w_iov[lead] = w->arena_fill;
    w->w_niov[lead] = g->niov;
    w->arena_fill += g->niov;
    w->arena_users++;
    f->stats[ION_FS_COALESCED]++;
    f->stats[ION_FS_COALESCED_PKTS] += g->npkts;
  }
  pend_push(w, f->cfg.qslots, lead);
}

/* One pass over the descriptors from dr.next (at most PASS of them, up to
 * tail). False when the arena has no room yet (nothing taken). */
static bool plan_pass(ion_file *f, uint32_t tail, bool *failed) {
  struct ion_tun_vwrite *w = f->vw;
  uint32_t n = tail - f->dr.next;
  if (n > PASS) n = PASS;
  if (w->arena_users == 0) w->arena_fill = 0;
  if (w->arena_cap - w->arena_fill < n) {
    w->deferred = true;
    return false;
  }
  uint32_t m = 0;
  for (uint32_t k = 0; k < n; k++) {
    uint32_t slot = ion_dring_slot(&f->dr, f->dr.next + k);
    int rc = take_packet(f, slot, m);
    if (rc == 0) {
      m++;
      continue;
    }
    ion_dring_done(&f->dr, slot, rc); /* fails alone */
    f->stats[ION_FS_WRITE_ERRORS]++;
    *failed = true;
  }
  f->dr.next += n;
  unsigned feat = w->gro | (w->gro && w->trusted ? ION_GRO_TRUSTED : 0);
  int nw = ion_gro_coalesce(&w->gro_state, w->pk, m, feat, w->gw, m,
                            w->giov, m);
  /* Cannot fail (m <= PASS, features checked): never drop writes. */
  if (nw < 0) {
    w->gro = 0;
    nw = ion_gro_coalesce(&w->gro_state, w->pk, m, 0, w->gw, m, w->giov, m);
  }
  for (int k = 0; k < nw; k++) plan_write(f, &w->gw[k]);
  return true;
}

void ion_tun_vnet_flush(ion_file *f) {
  if (f->obj.closing) return;
  bool failed = false;
  /* Bounded: each pass takes at least one descriptor, the tail is at most
   * qslots past the frontier. */
  if (submit_pending(f)) {
    uint32_t tail;
    if (ion_file_tail(f, &tail) < 0) return;
    while (f->dr.next != tail && plan_pass(f, tail, &failed) &&
           submit_pending(f)) {
    }
  }
  if (failed) ion_dring_report(&f->dr, f->rx, &f->obj, true);
  ion_file_update_alive(f);
}

void ion_tun_vnet_close(ion_file *f) {
  struct ion_tun_vwrite *w = f->vw;
  uint32_t mask = f->cfg.qslots - 1;
  while (w->pend_n) {
    uint32_t slot = w->pend[w->pend_head++ & mask];
    w->pend_n--;
    write_done(f, slot, -ECANCELED); /* closing: no refusal path */
  }
}
