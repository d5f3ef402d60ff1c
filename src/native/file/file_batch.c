/* A TUN device seen from native code in another object (WireGuard, the
 * tunnel's forwarders): the packets of the batch JS is handling, and
 * windows of the write ring to fill (file.h). Batch entries are checked
 * against the read pool, windows against native's counters (dring.h). */
#include <errno.h>

#include "file/file_internal.h"

int ion_file_batch_get(ion_file *f, uint32_t i, uint8_t **data,
                       uint32_t *len) {
  if (f->cfg.kind != ION_FILE_TUN || i >= f->obj.rcount ||
      i >= f->lay.rmeta_n)
    return -EINVAL;
  const int32_t *m = &f->rmeta[(size_t)i * ION_R_WORDS];
  /* Written by native, but JS can write there too: stay in the read pool
   * or the split area right after it (vnet devices). */
  uint32_t off = (uint32_t)m[ION_R_OFF], n = (uint32_t)m[ION_R_LEN];
  uint32_t lo = f->lay.rpool, span = f->lay.split + f->cfg.split_len - lo;
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

int ion_file_batch_truncated(ion_file *f, uint32_t i) {
  if (i >= f->obj.rcount || i >= f->lay.rmeta_n) return 0;
  return (f->rmeta[(size_t)i * ION_R_WORDS + ION_R_FLAGS] & ION_RF_TRUNC) != 0;
}

uint32_t ion_file_write_headroom(const ion_file *f) {
  return f->cfg.vnet ? ION_FILE_HEADROOM : 0;
}

/* vnet: the packet starts 16 bytes into its room, 16-byte aligned, with
 * the virtio header's 10 bytes right in front of it. */
#define VNET_ROOM 16

uint8_t *ion_file_window_next(ion_file *f, ion_dring_window *w,
                              uint32_t len) {
  uint8_t *payload;
  uint32_t room = f->cfg.vnet ? VNET_ROOM : 0;
  if (len > UINT32_MAX - room) return NULL;
  int32_t *d = ion_dring_window_next(&f->dr, w, len + room, 16, &payload);
  if (!d) return NULL;
  d[ION_Q_OFF] += (int32_t)room;
  d[ION_Q_LEN] = (int32_t)len;
  payload += room;
  d[ION_Q_OP] = ION_QOP_WRITE;
  d[ION_Q_POS_LO] = -1; /* a TUN fd has no position */
  d[ION_Q_POS_HI] = -1;
  return payload;
}
