/* RFC 8439's AEAD construction over OpenSSL's exported low-level ChaCha20
 * and Poly1305 (see aead_lowlevel.h). The cipher and the MAC are
 * OpenSSL's; this file only arranges their inputs as RFC 8439 section 2.8
 * says: the Poly1305 key is the first 32 bytes of block 0 of the
 * keystream, the data is encrypted from block 1, and the tag covers
 * aad | pad16 | ciphertext | pad16 | le64(aad_len) | le64(ct_len). */
#include <string.h>

#include <openssl/crypto.h>

#include "wg/aead_lowlevel.h"

/* OpenSSL's declarations (include/crypto/chacha.h, poly1305.h), which
 * Node's headers do not ship. Weak: absent symbols read as NULL. */
typedef struct poly1305_context POLY1305;
extern void ChaCha20_ctr32(unsigned char *out, const unsigned char *inp,
                           size_t len, const unsigned int key[8],
                           const unsigned int counter[4])
    __attribute__((weak));
extern size_t Poly1305_ctx_size(void) __attribute__((weak));
extern void Poly1305_Init(POLY1305 *ctx, const unsigned char key[32])
    __attribute__((weak));
extern void Poly1305_Update(POLY1305 *ctx, const unsigned char *inp,
                            size_t len) __attribute__((weak));
extern void Poly1305_Final(POLY1305 *ctx, unsigned char mac[16])
    __attribute__((weak));

/* Room for OpenSSL's POLY1305 (about 250 bytes in 3.x), aligned as its
 * assembly wants; wg_ll_available refuses a larger one. */
#define POLY_CTX_MAX 512
typedef struct {
  _Alignas(64) unsigned char b[POLY_CTX_MAX];
} poly_ctx;

static const uint8_t zeros[16];

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

bool wg_ll_available(void) {
  return ChaCha20_ctr32 && Poly1305_ctx_size && Poly1305_Init &&
         Poly1305_Update && Poly1305_Final &&
         Poly1305_ctx_size() <= POLY_CTX_MAX;
}

void wg_ll_key_words(uint32_t words[8], const uint8_t key[32]) {
  for (int i = 0; i < 8; i++) words[i] = le32(key + 4 * i);
}

static void counter_at(unsigned int c[4], const uint8_t nonce[12],
                       uint32_t block) {
  c[0] = block;
  c[1] = le32(nonce);
  c[2] = le32(nonce + 4);
  c[3] = le32(nonce + 8);
}

/* The tag over (aad, ct) with the one-time key from keystream block 0. */
static void mac(const uint32_t key[8], const uint8_t nonce[12],
                const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                size_t ct_len, uint8_t tag[16]) {
  unsigned int c[4];
  uint8_t block0[64] = {0};
  poly_ctx pc;
  POLY1305 *p = (POLY1305 *)pc.b;
  counter_at(c, nonce, 0);
  ChaCha20_ctr32(block0, block0, sizeof(block0), key, c);
  Poly1305_Init(p, block0);
  OPENSSL_cleanse(block0, sizeof(block0)); /* the one-time key */
  if (aad_len) {
    Poly1305_Update(p, aad, aad_len);
    if (aad_len % 16) Poly1305_Update(p, zeros, 16 - aad_len % 16);
  }
  if (ct_len) {
    Poly1305_Update(p, ct, ct_len);
    if (ct_len % 16) Poly1305_Update(p, zeros, 16 - ct_len % 16);
  }
  uint8_t lens[16];
  for (int i = 0; i < 8; i++) {
    lens[i] = (uint8_t)((uint64_t)aad_len >> (8 * i));
    lens[8 + i] = (uint8_t)((uint64_t)ct_len >> (8 * i));
  }
  Poly1305_Update(p, lens, sizeof(lens));
  Poly1305_Final(p, tag); /* cleanses the Poly1305 state */
}

void wg_ll_seal(const uint32_t key[8], const uint8_t nonce[12],
                const uint8_t *aad, size_t aad_len, const uint8_t *in,
                size_t len, size_t pad, uint8_t *out, uint8_t tag[16]) {
  unsigned int c[4];
  const uint8_t *src = in;
  /* Padding is encrypted from zeros written after the packet in out, so
   * the whole message is one ChaCha20_ctr32 call: a separate call for the
   * last partial block takes OpenSSL's one-block code (~100 ns here),
   * copying the packet first costs about half that. */
  if (pad) {
    if (out != in) memcpy(out, in, len);
    memset(out + len, 0, pad);
    src = out;
  }
  if (len + pad) {
    counter_at(c, nonce, 1);
    ChaCha20_ctr32(out, src, len + pad, key, c);
  }
  mac(key, nonce, aad, aad_len, out, len + pad, tag);
}

bool wg_ll_open(const uint32_t key[8], const uint8_t nonce[12],
                const uint8_t *aad, size_t aad_len, const uint8_t *in,
                size_t len, uint8_t *out, const uint8_t tag[16]) {
  uint8_t want[16];
  unsigned int c[4];
  /* Authenticate first: a forgery costs one MAC and decrypts nothing. */
  mac(key, nonce, aad, aad_len, in, len, want);
  if (CRYPTO_memcmp(want, tag, sizeof(want)) != 0) return false;
  if (len) {
    counter_at(c, nonce, 1);
    ChaCha20_ctr32(out, in, len, key, c);
  }
  return true;
}
