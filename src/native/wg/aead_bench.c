/* See aead_bench.h. The key and data are fixed patterns: ChaCha20 and
 * Poly1305 take the same time whatever the bytes. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "wg/aead.h"
#include "wg/aead_bench.h"

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int wg_aead_bench(bool lowlevel, size_t len, uint32_t iters, double *seal_ns,
                  double *open_ns) {
  if (len > WG_AEAD_BENCH_MAX_LEN || iters < 1 ||
      iters > WG_AEAD_BENCH_MAX_ITERS)
    return -EINVAL;
  uint8_t key[WG_AEAD_KEY_LEN], nonce[WG_AEAD_NONCE_LEN], tag[WG_AEAD_TAG_LEN];
  for (size_t i = 0; i < sizeof(key); i++) key[i] = (uint8_t)(i * 29 + 1);
  wg_aead s = {0}, o = {0};
  /* Two buffers: the packet sealed in place in one; each open decrypts it
   * into the other (the same work as in place), so every open sees the
   * intact packet and a valid tag. */
  uint8_t *buf = malloc(2 * (len + 16) + 64);
  int rc = buf ? 0 : -ENOMEM;
  if (rc == 0) rc = wg_aead_init_path(&s, key, true, lowlevel);
  if (rc == 0) rc = wg_aead_init_path(&o, key, false, lowlevel);
  if (rc == 0) {
    uint8_t *a = buf, *b = buf + len + 32;
    for (size_t i = 0; i < len; i++) a[i] = (uint8_t)(i * 131);
    double t0 = now_ns();
    for (uint32_t i = 0; i < iters && rc == 0; i++) {
      wg_aead_nonce(nonce, i);
      rc = wg_aead_seal(&s, nonce, NULL, 0, a, len, 0, a, tag);
    }
    double t1 = now_ns();
    /* a holds the packet sealed under the last nonce. */
    for (uint32_t i = 0; i < iters && rc == 0; i++)
      rc = wg_aead_open(&o, nonce, NULL, 0, a, len, b, tag);
    double t2 = now_ns();
    *seal_ns = (t1 - t0) / iters;
    *open_ns = (t2 - t1) / iters;
  }
  wg_aead_free(&s);
  wg_aead_free(&o);
  free(buf);
  return rc;
}
