/* ChaCha20-Poly1305 through OpenSSL EVP with a context keyed once (see
 * aead.h for why). OpenSSL comes from Node's own headers; at run time the
 * symbols resolve to the OpenSSL inside node (the addon) or to the
 * system's libcrypto.so.3 (the C tests). */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "wg/aead.h"

int wg_aead_init(wg_aead *a, const uint8_t key[WG_AEAD_KEY_LEN], bool seal) {
  a->ctx = NULL;
  a->seal = seal;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return -ENOMEM;
  if (EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, NULL,
                        seal ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return -EIO;
  }
  a->ctx = ctx;
  return 0;
}

void wg_aead_free(wg_aead *a) {
  /* EVP_CIPHER_CTX_free has the cipher cleanse its key schedule. */
  EVP_CIPHER_CTX_free(a->ctx);
  a->ctx = NULL;
}

void wg_aead_nonce(uint8_t nonce[WG_AEAD_NONCE_LEN], uint64_t counter) {
  memset(nonce, 0, 4);
  for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* Only the nonce changes per packet: the key stays in the context. */
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
  return !a->ctx || aad_len > WG_AEAD_MAX_LEN || len > WG_AEAD_MAX_LEN;
}

int wg_aead_seal(wg_aead *a, const uint8_t nonce[WG_AEAD_NONCE_LEN],
                 const uint8_t *aad, size_t aad_len, const uint8_t *in,
                 size_t len, size_t pad, uint8_t *out,
                 uint8_t tag[WG_AEAD_TAG_LEN]) {
  /* Zero bytes to pad with: sealing them from a constant avoids copying
   * the packet just to append padding. */
  static const uint8_t zeros[16];
  int n, rc;
  if (bad_lengths(a, aad_len, len) || !a->seal || pad >= sizeof(zeros))
    return -EINVAL;
  if ((rc = start(a, nonce, aad, aad_len)) < 0) return rc;
  if (len && EVP_EncryptUpdate(a->ctx, out, &n, in, (int)len) != 1)
    return -EIO;
  if (pad && EVP_EncryptUpdate(a->ctx, out + len, &n, zeros, (int)pad) != 1)
    return -EIO;
  if (EVP_EncryptFinal_ex(a->ctx, out + len + pad, &n) != 1) return -EIO;
  if (EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, WG_AEAD_TAG_LEN,
                          tag) != 1)
    return -EIO;
  return 0;
}

int wg_aead_open(wg_aead *a, const uint8_t nonce[WG_AEAD_NONCE_LEN],
                 const uint8_t *aad, size_t aad_len, const uint8_t *in,
                 size_t len, uint8_t *out, const uint8_t tag[WG_AEAD_TAG_LEN]) {
  int n, rc;
  if (bad_lengths(a, aad_len, len) || a->seal) return -EINVAL;
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
