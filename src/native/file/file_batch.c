/* A TUN device seen from native code in another object (WireGuard, the
 * tunnel's forwarders): the packets of the batch JS is handling, and
 * windows of the write ring to fill (file.h). Batch entries are checked
 * against the read pool, windows against native's counters (dring.h). */
#include <errno.h>

#include "file/file_internal.h"

int ion_file_batch_get(ion_file *f, uint32_t i, uint8_t **data,
                       uint32_t *len) {
  if (f->cfg.kind != ION_FILE_TUN || i >= f->obj.rcount ||
      i >= f->cfg.rslots)
    return -EINVAL;
  const int32_t *m = &f->rmeta[(size_t)i * ION_R_WORDS];
  /* Written by native, but JS can write there too: stay in the pool. */
  uint32_t off = (uint32_t)m[ION_R_OFF], n = (uint32_t)m[ION_R_LEN];
  uint32_t lo = f->lay.rpool, span = f->cfg.rslots * f->cfg.rslot;
  if (m[ION_R_OFF] < 0 || m[ION_R_LEN] < 0 || off < lo || n > span ||
      off - lo > span - n)
    return -EINVAL;
  *data = f->mem + off;
  *len = n;
  return 0;
}

int ion_file_window_open(ion_file *f, ion_dring_window *w, uint32_t seq,
                         uint32_t slots, uint32_t off, uint32_t len) {
  if (f->obj.closing || f->cfg.kind != ION_FILE_TUN) return -EBADF;
  return ion_dring_window_open(&f->dr, w, f->mem, f->lay.qdata,
                               f->cfg.qdata_len, seq, slots, off, len);
}

uint8_t *ion_file_window_next(ion_file *f, ion_dring_window *w,
                              uint32_t len) {
  uint8_t *payload;
  int32_t *d = ion_dring_window_next(&f->dr, w, len, 16, &payload);
  if (!d) return NULL;
  d[ION_Q_OP] = ION_QOP_WRITE;
  d[ION_Q_POS_LO] = -1; /* a TUN fd has no position */
  d[ION_Q_POS_HI] = -1;
  return payload;
}
