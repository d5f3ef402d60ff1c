/*
 * Reading a TUN device opened with IFF_VNET_HDR (file/file.h): every read
 * is a virtio_net_hdr and an IP packet, possibly a TSO/USO super-segment
 * of up to 64 KiB. Each read becomes plain IP packets in the batch, in C
 * and before JS (or a native forwarder) sees it:
 *
 *   - a non-GSO packet is finished in place (its partial checksum
 *     completed, offload.h ion_vnet_complete); its entry points just past
 *     the header, in the read slot;
 *   - a super-segment is split (ion_vnet_split_from) into the split area
 *     of the shared memory, one entry per packet.
 *
 * The split area and the entries are finite (sized by JS for a batch of
 * typical super-segments). What does not fit now is kept: the read slot
 * stays out of the pool, with how far it was split, and is finished into
 * the next batch right after the dispatch (ion_tun_vnet_after_dispatch).
 * Once anything is kept, later reads queue behind it, so packets reach the
 * batch in the order the kernel gave them. Nothing is dropped but reads
 * the engine calls malformed (counted, ION_FS_VNET_ERRORS).
 *
 * Works the same for multishot, single and poll reading: they all hand
 * each read to ion_file_deliver, and take back the held slots after the
 * dispatch.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "file/file_internal.h"
#include "tun/offload.h"

#define SPLIT_CHUNK 64  /* packets per ion_vnet_split_from call */
#define SPLIT_ALIGN 16U /* split packets start 16-byte aligned (copies) */

struct ion_tun_vread {
  uint8_t *area;      /* the split area in the shared memory */
  uint32_t area_off;  /* area - mem */
  uint32_t area_len;
  uint32_t fill;      /* bytes of the area used by this batch */
  uint32_t rmeta_n;
  /* Reads kept for the next batch, in order: a ring of rslots entries
   * (each slot is in it at most once). */
  uint32_t *kept_slot, *kept_len, *kept_seg;
  uint32_t kept_head, kept_n;
  struct ion_pkt out[SPLIT_CHUNK];
};

int ion_tun_vnet_alloc(ion_file *f) {
  struct ion_tun_vread *r = calloc(1, sizeof(*r));
  if (!r) return -ENOMEM;
  f->vr = r;
  r->area = f->mem + f->lay.split;
  r->area_off = f->lay.split;
  r->area_len = f->cfg.split_len;
  r->rmeta_n = f->lay.rmeta_n;
  uint32_t n = f->cfg.rslots;
  r->kept_slot = calloc(n, sizeof(uint32_t));
  r->kept_len = calloc(n, sizeof(uint32_t));
  r->kept_seg = calloc(n, sizeof(uint32_t));
  if (!r->kept_slot || !r->kept_len || !r->kept_seg) return -ENOMEM;
  return ion_tun_vwrite_alloc(f);
}

void ion_tun_vnet_free(ion_file *f) {
  struct ion_tun_vread *r = f->vr;
  if (r) {
    free(r->kept_slot);
    free(r->kept_len);
    free(r->kept_seg);
    free(r);
    f->vr = NULL;
  }
  ion_tun_vwrite_free(f);
}

/* One entry of the batch: a plain IP packet at mem + off. */
static void add_entry(ion_file *f, uint32_t off, uint32_t len) {
  int32_t *m = &f->rmeta[(size_t)f->obj.rcount * ION_R_WORDS];
  m[ION_R_OFF] = (int32_t)off;
  m[ION_R_LEN] = (int32_t)len;
  m[ION_R_FLAGS] = 0;
  m[ION_R_PROTO] = 0;
  f->obj.rcount++;
  f->stats[ION_FS_PKTS_IN]++;
  f->stats[ION_FS_BYTES_IN] += len;
  ion_reactor_notify(f->rx, &f->obj, ION_EV_RECV);
}

/* Split what fits of a super-segment, from segment *seg on. True when it
 * is finished (or found malformed), false when the rest must wait. */
static bool split_some(ion_file *f, const uint8_t *buf, uint32_t len,
                       const struct ion_vnet_info *in, uint32_t *seg) {
  struct ion_tun_vread *r = f->vr;
  uint32_t stride = (in->seg_max + SPLIT_ALIGN - 1) & ~(SPLIT_ALIGN - 1);
  /* Bounded: each pass makes progress or returns. */
  while (*seg < in->segs) {
    uint32_t n = in->segs - *seg;
    uint32_t entries = r->rmeta_n - f->obj.rcount;
    uint32_t fit = (r->area_len - r->fill) / stride;
    if (n > entries) n = entries;
    if (n > fit) n = fit;
    if (n > SPLIT_CHUNK) n = SPLIT_CHUNK;
    if (n == 0) return false;
    for (uint32_t k = 0; k < n; k++) {
      r->out[k].data = r->area + r->fill + k * stride;
      r->out[k].cap = stride;
    }
    int got = ion_vnet_split_from(buf, len, *seg, r->out, n);
    if (got <= 0) { /* parsed once already: cannot happen */
      f->stats[ION_FS_VNET_ERRORS]++;
      return true;
    }
    for (int k = 0; k < got; k++)
      add_entry(f, r->area_off + r->fill + (uint32_t)k * stride,
                r->out[k].len);
    r->fill += (uint32_t)got * stride;
    *seg += (uint32_t)got;
  }
  f->stats[ION_FS_SUPER_IN]++;
  return true;
}

/* Turn the read in slot into batch entries, from segment *seg on. True
 * when the slot is done with (it is then held until the dispatch ends),
 * false when it must wait for room. */
static bool take(ion_file *f, uint32_t slot, uint32_t len, uint32_t *seg) {
  uint8_t *buf = ion_file_slot(f, slot);
  struct ion_vnet_info in;
  bool done = true;
  if (ion_vnet_parse(buf, len, &in) < 0) {
    f->stats[ION_FS_VNET_ERRORS]++; /* nothing we could send: dropped */
  } else if (in.gso == ION_VNET_GSO_NONE) {
    if (f->obj.rcount >= f->vr->rmeta_n) return false;
    ion_vnet_complete(buf, len); /* parsed above: returns 0 */
    add_entry(f, (uint32_t)(buf - f->mem) + ION_VNET_HDR_LEN,
              len - ION_VNET_HDR_LEN);
  } else {
    done = split_some(f, buf, len, &in, seg);
  }
  if (done) ion_rpool_hold(&f->pool, slot);
  return done;
}

static void keep(ion_file *f, uint32_t slot, uint32_t len, uint32_t seg) {
  struct ion_tun_vread *r = f->vr;
  uint32_t n = f->cfg.rslots;
  if (r->kept_n >= n) return; /* cannot happen: each slot at most once */
  uint32_t at = (r->kept_head + r->kept_n) % n;
  r->kept_slot[at] = slot;
  r->kept_len[at] = len;
  r->kept_seg[at] = seg;
  r->kept_n++;
  f->stats[ION_FS_SPLIT_DEFERRED]++;
}

void ion_tun_vnet_deliver(ion_file *f, uint32_t slot, uint32_t len) {
  /* Even a dropped read's slot must come back: ask for the after-dispatch
   * pass (which also finishes kept reads). */
  ion_reactor_notify(f->rx, &f->obj, 0);
  if (slot >= f->cfg.rslots) return;
  if (len > f->cfg.rslot) len = f->cfg.rslot;
  uint32_t seg = 0;
  if (f->vr->kept_n || !take(f, slot, len, &seg)) keep(f, slot, len, seg);
}

void ion_tun_vnet_after_dispatch(ion_file *f) {
  struct ion_tun_vread *r = f->vr;
  r->fill = 0;
  /* Bounded by the kept reads (at most rslots). */
  while (r->kept_n) {
    uint32_t h = r->kept_head;
    if (!take(f, r->kept_slot[h], r->kept_len[h], &r->kept_seg[h])) break;
    r->kept_head = (h + 1) % f->cfg.rslots;
    r->kept_n--;
  }
  /* Still some left (a batch can always take one more packet, so this is
   * progress): the next after-dispatch pass goes on. */
  if (r->kept_n) ion_reactor_notify(f->rx, &f->obj, 0);
}
