/* ChaCha20-Poly1305 over OpenSSL, on the low-level or the EVP path (see
 * aead.h for why two). OpenSSL comes from Node's own headers; at run time
 * the symbols resolve to the OpenSSL inside node (the addon) or to the
 * system's libcrypto.so.3 (the C tests, which therefore take EVP). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "wg/aead.h"
#include "wg/aead_lowlevel.h"

static int evp_init(wg_aead *a, const uint8_t key[WG_AEAD_KEY_LEN]) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return -ENOMEM;
  if (EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, NULL,
                        a->seal ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return -EIO;
  }
  a->ctx = ctx;
  return 0;
}

int wg_aead_init_path(wg_aead *a, const uint8_t key[WG_AEAD_KEY_LEN],
                      bool seal, bool lowlevel) {
  memset(a, 0, sizeof(*a));
  a->seal = seal;
  a->lowlevel = lowlevel;
  if (lowlevel) {
    if (!wg_ll_available()) return -ENOSYS;
    wg_ll_key_words(a->key, key);
  } else {
    int rc = evp_init(a, key);
    if (rc < 0) return rc;
  }
  a->ready = true;
  return 0;
}

int wg_aead_init(wg_aead *a, const uint8_t key[WG_AEAD_KEY_LEN], bool seal) {
  return wg_aead_init_path(a, key, seal,
                           wg_aead_backend() == WG_AEAD_LOWLEVEL);
}

void wg_aead_free(wg_aead *a) {
  /* EVP_CIPHER_CTX_free has the cipher cleanse its key schedule. */
  EVP_CIPHER_CTX_free(a->ctx);
  a->ctx = NULL;
  OPENSSL_cleanse(a->key, sizeof(a->key));
  a->ready = false;
}

void wg_aead_nonce(uint8_t nonce[WG_AEAD_NONCE_LEN], uint64_t counter) {
  memset(nonce, 0, 4);
  for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* EVP: only the nonce changes per packet, the key stays in the context. */
static int start(wg_aead *a, const uint8_t *nonce, const uint8_t *aad,
                 size_t aad_len) {
  int n;
  if (EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, nonce, -1) != 1)
    return -EIO;
  if (aad_len &&
      EVP_CipherUpdate(a->ctx, NULL, &n, aad, (int)aad_len) != 1)
    return -EIO;
  return 0;
}

static bool bad_lengths(const wg_aead *a, size_t aad_len, size_t len) {
  return !a->ready || aad_len > WG_AEAD_MAX_LEN || len > WG_AEAD_MAX_LEN;
}

static int evp_seal(wg_aead *a, const uint8_t *nonce, const uint8_t *aad,
                    size_t aad_len, const uint8_t *in, size_t len, size_t pad,
                    uint8_t *out, uint8_t *tag) {
  static const uint8_t zeros[16];
  int n, rc;
  if ((rc = start(a, nonce, aad, aad_len)) < 0) return rc;
  if (len && EVP_EncryptUpdate(a->ctx, out, &n, in, (int)len) != 1)
    return -EIO;
  /* Zero bytes to pad with: sealing them from a constant avoids copying
   * the packet just to append padding. */
  if (pad && EVP_EncryptUpdate(a->ctx, out + len, &n, zeros, (int)pad) != 1)
    return -EIO;
  if (EVP_EncryptFinal_ex(a->ctx, out + len + pad, &n) != 1) return -EIO;
  if (EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, WG_AEAD_TAG_LEN,
                          tag) != 1)
    return -EIO;
  return 0;
}

int wg_aead_seal(wg_aead *a, const uint8_t nonce[WG_AEAD_NONCE_LEN],
                 const uint8_t *aad, size_t aad_len, const uint8_t *in,
                 size_t len, size_t pad, uint8_t *out,
                 uint8_t tag[WG_AEAD_TAG_LEN]) {
  if (bad_lengths(a, aad_len, len) || !a->seal || pad >= 16) return -EINVAL;
  if (!a->lowlevel)
    return evp_seal(a, nonce, aad, aad_len, in, len, pad, out, tag);
  wg_ll_seal(a->key, nonce, aad, aad_len, in, len, pad, out, tag);
  return 0;
}

int wg_aead_open(wg_aead *a, const uint8_t nonce[WG_AEAD_NONCE_LEN],
                 const uint8_t *aad, size_t aad_len, const uint8_t *in,
                 size_t len, uint8_t *out, const uint8_t tag[WG_AEAD_TAG_LEN]) {
  int n, rc;
  if (bad_lengths(a, aad_len, len) || a->seal) return -EINVAL;
  if (a->lowlevel)
    return wg_ll_open(a->key, nonce, aad, aad_len, in, len, out, tag)
               ? 0
               : -EBADMSG;
  if ((rc = start(a, nonce, aad, aad_len)) < 0) return rc;
  if (len && EVP_DecryptUpdate(a->ctx, out, &n, in, (int)len) != 1)
    return -EIO;
  /* The ctrl takes a non-const pointer but only copies the tag. */
  if (EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, WG_AEAD_TAG_LEN,
                          (void *)tag) != 1)
    return -EIO;
  /* Final compares the tag in constant time; a mismatch is the only
   * expected failure here. */
  if (EVP_DecryptFinal_ex(a->ctx, out + len, &n) != 1) return -EBADMSG;
  return 0;
}

/* ---- choosing the path ------------------------------------------------ */

/* One length/padding/AAD case of the check: the low-level path must seal
 * exactly as EVP does, open what it sealed, and refuse a flipped tag. */
static bool agree(size_t len, size_t pad, size_t aad_len, uint8_t *buf) {
  uint8_t key[32], nonce[12], aad[32], t1[16], t2[16];
  uint8_t *pt = buf, *c1 = buf + 2048, *c2 = buf + 4096;
  for (size_t i = 0; i < sizeof(key); i++) key[i] = (uint8_t)(i * 7 + len);
  for (size_t i = 0; i < sizeof(nonce); i++) nonce[i] = (uint8_t)(i + pad);
  for (size_t i = 0; i < sizeof(aad); i++) aad[i] = (uint8_t)(0xa0 + i);
  for (size_t i = 0; i < len; i++) pt[i] = (uint8_t)(i * 131 + 17);
  wg_aead e = {0}, l = {0}, lo = {0};
  bool ok = wg_aead_init_path(&e, key, true, false) == 0 &&
            wg_aead_init_path(&l, key, true, true) == 0 &&
            wg_aead_init_path(&lo, key, false, true) == 0 &&
            wg_aead_seal(&e, nonce, aad, aad_len, pt, len, pad, c1, t1) == 0 &&
            wg_aead_seal(&l, nonce, aad, aad_len, pt, len, pad, c2, t2) == 0 &&
            memcmp(c1, c2, len + pad) == 0 && memcmp(t1, t2, 16) == 0 &&
            wg_aead_open(&lo, nonce, aad, aad_len, c2, len + pad, c2, t2) ==
                0 &&
            memcmp(c2, pt, len) == 0;
  t1[3] ^= 0x10;
  /* c1 still holds the ciphertext: a wrong tag must not authenticate. */
  ok = ok && wg_aead_open(&lo, nonce, aad, aad_len, c1, len + pad, c1, t1) ==
                 -EBADMSG;
  wg_aead_free(&e);
  wg_aead_free(&l);
  wg_aead_free(&lo);
  return ok;
}

static bool lowlevel_agrees(void) {
  /* Lengths around the block sizes the assembly switches on, and the
   * WireGuard shapes: empty (keepalive), padded, MTU-sized. */
  static const size_t lens[] = {0,   1,   15,  16,  63,   64,   65,   127,
                                128, 129, 255, 256, 257,  511,  512,  513,
                                767, 768, 769, 1023, 1024, 1419, 1420, 2031};
  uint8_t *buf = malloc(3 * 2048);
  if (!buf) return false;
  bool ok = true;
  for (size_t i = 0; ok && i < sizeof(lens) / sizeof(lens[0]); i++) {
    size_t len = lens[i], pad = (16 - len % 16) % 16;
    ok = agree(len, 0, 0, buf) && agree(len, pad, 0, buf) &&
         agree(len, 0, 12, buf) && agree(len, pad, 32, buf);
  }
  free(buf);
  return ok;
}

static wg_aead_backend_t choose(void) {
  const char *force = getenv("IOURING_NET_WG_CRYPTO");
  if (force && strcmp(force, "evp") == 0) return WG_AEAD_EVP_FORCED;
  if (!wg_ll_available()) return WG_AEAD_EVP_NO_SYMBOLS;
  return lowlevel_agrees() ? WG_AEAD_LOWLEVEL : WG_AEAD_EVP_CHECK_FAILED;
}

/* -1 until chosen. Not pthread_once: that would make the addon need glibc
 * 2.34. Threads racing on the first call each run the same check; the
 * first answer stored is the one every caller sees from then on. */
static int chosen = -1;

wg_aead_backend_t wg_aead_backend(void) {
  int v = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
  if (v >= 0) return (wg_aead_backend_t)v;
  int mine = (int)choose(), expected = -1;
  if (__atomic_compare_exchange_n(&chosen, &expected, mine, false,
                                  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    return (wg_aead_backend_t)mine;
  return (wg_aead_backend_t)expected; /* another thread stored first */
}

const char *wg_aead_backend_name(wg_aead_backend_t b) {
  return b == WG_AEAD_LOWLEVEL ? "openssl-lowlevel" : "openssl-evp";
}
