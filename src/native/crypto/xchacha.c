/* XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) from OpenSSL's raw
 * "chacha20" and "chacha20-poly1305", which OpenSSL ships while it has no
 * XChaCha. WireGuard seals cookie replies with it (24-byte random nonces).
 *
 * HChaCha20 without re-implementing ChaCha: OpenSSL's chacha20 IV is the
 * 16 bytes of state words 12..15 (32-bit counter, then 96-bit nonce), which
 * is exactly where HChaCha20 puts its 16-byte nonce. One keystream block is
 * rounds(state) + state (RFC 8439 2.3); HChaCha20's output is rounds(state)
 * words 0..3 and 12..15, so subtracting the known input words (the
 * constants and the nonce) from those keystream words gives it back. */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/wg_crypto.h"

/* "expand 32-byte k" as little-endian words (RFC 8439 2.3). */
static const uint32_t SIGMA[4] = {0x61707865, 0x3320646e, 0x79622d32,
                                  0x6b206574};

static uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static void store_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

int wg_hchacha20(uint8_t out[32], const uint8_t key[32],
                 const uint8_t nonce[16]) {
  if (!out || !key || !nonce) return -EINVAL;
  static const uint8_t zero[64];
  uint8_t block[64], iv[16];
  /* A private copy: out may be where the caller keeps the nonce. */
  memcpy(iv, nonce, sizeof(iv));
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return -ENOMEM;
  int len = 0, rc = -EIO;
  if (EVP_EncryptInit_ex(ctx, EVP_chacha20(), NULL, key, iv) == 1 &&
      EVP_EncryptUpdate(ctx, block, &len, zero, sizeof(zero)) == 1 &&
      len == (int)sizeof(block)) {
    for (int i = 0; i < 4; i++) {
      store_le32(out + 4 * i, load_le32(block + 4 * i) - SIGMA[i]);
      store_le32(out + 16 + 4 * i,
                 load_le32(block + 48 + 4 * i) - load_le32(iv + 4 * i));
    }
    rc = 0;
  }
  /* The block is key material (it determines the subkey). */
  OPENSSL_cleanse(block, sizeof(block));
  EVP_CIPHER_CTX_free(ctx);
  return rc;
}

/* Set up ctx for chacha20-poly1305 with the subkey of (key, nonce[0..16))
 * and the IV 0x00000000 || nonce[16..24), in direction enc. */
static int xchacha_init(EVP_CIPHER_CTX *ctx, int enc, const uint8_t key[32],
                        const uint8_t nonce[24]) {
  uint8_t subkey[32], iv[12] = {0};
  int rc = wg_hchacha20(subkey, key, nonce);
  if (rc < 0) return rc;
  memcpy(iv + 4, nonce + WG_HCHACHA_NONCE, 8);
  /* chacha20-poly1305's default IV length is 12 bytes: nothing to set. */
  if (EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, subkey, iv,
                        enc) != 1)
    rc = -EIO;
  OPENSSL_cleanse(subkey, sizeof(subkey));
  return rc;
}

/* Feed the associated data (skipped when empty: no NULL into EVP). */
static int xchacha_ad(EVP_CIPHER_CTX *ctx, const uint8_t *ad, size_t adlen) {
  int outl = 0;
  if (adlen && EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)adlen) != 1)
    return -EIO;
  return 0;
}

static int check_args(const uint8_t *dst, const uint8_t *src, size_t len,
                      const uint8_t *ad, size_t adlen, const uint8_t *nonce,
                      const uint8_t *key) {
  if (!key || !nonce || (len && (!dst || !src)) || (adlen && !ad) ||
      len > WG_XCHACHA_MAX_LEN || adlen > WG_XCHACHA_MAX_LEN)
    return -EINVAL;
  return 0;
}

int wg_xchacha20poly1305_seal(uint8_t *dst, const uint8_t *src, size_t len,
                              const uint8_t *ad, size_t adlen,
                              const uint8_t nonce[24], const uint8_t key[32]) {
  if (!dst || check_args(dst, src, len, ad, adlen, nonce, key) < 0)
    return -EINVAL;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return -ENOMEM;
  int outl = 0, fin = 0;
  int rc = xchacha_init(ctx, 1, key, nonce);
  if (rc == 0) rc = xchacha_ad(ctx, ad, adlen);
  if (rc == 0 && len &&
      EVP_CipherUpdate(ctx, dst, &outl, src, (int)len) != 1)
    rc = -EIO;
  if (rc == 0 && (EVP_CipherFinal_ex(ctx, dst + outl, &fin) != 1 ||
                  (size_t)(outl + fin) != len ||
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, WG_AEAD_TAG,
                                      dst + len) != 1))
    rc = -EIO;
  EVP_CIPHER_CTX_free(ctx);
  return rc;
}

int wg_xchacha20poly1305_open(uint8_t *dst, const uint8_t *src, size_t len,
                              const uint8_t *ad, size_t adlen,
                              const uint8_t nonce[24], const uint8_t key[32]) {
  if (!src || len < WG_AEAD_TAG ||
      check_args(dst, src, len - WG_AEAD_TAG, ad, adlen, nonce, key) < 0)
    return -EINVAL;
  size_t plen = len - WG_AEAD_TAG;
  uint8_t tag[WG_AEAD_TAG];
  /* Copied first: with dst == src the plaintext overwrites what we read. */
  memcpy(tag, src + plen, sizeof(tag));
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return -ENOMEM;
  int outl = 0, fin = 0;
  int rc = xchacha_init(ctx, 0, key, nonce);
  if (rc == 0) rc = xchacha_ad(ctx, ad, adlen);
  if (rc == 0 && plen &&
      EVP_CipherUpdate(ctx, dst, &outl, src, (int)plen) != 1)
    rc = -EIO;
  if (rc == 0 && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, WG_AEAD_TAG,
                                     tag) != 1)
    rc = -EIO;
  /* Final is where Poly1305 is checked: a failure here is a forgery (or a
   * wrong key), not an OpenSSL fault. It writes no bytes for this stream
   * cipher but wants a pointer even when dst is NULL (empty plaintext). */
  uint8_t sink[1];
  if (rc == 0 && EVP_CipherFinal_ex(ctx, plen ? dst + outl : sink, &fin) != 1)
    rc = -EBADMSG;
  if (rc < 0 && plen) OPENSSL_cleanse(dst, plen);
  EVP_CIPHER_CTX_free(ctx);
  return rc;
}
