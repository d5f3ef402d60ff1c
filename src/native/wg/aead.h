/* ChaCha20-Poly1305 (RFC 8439) over OpenSSL's EVP, one keyed context per
 * direction of a keypair.
 *
 * Why a context per key: keying the EVP context (and fetching the cipher)
 * is the expensive part; with the key set once, each packet only sets a
 * new nonce, which is what makes a 1400-byte seal cost about 0.9 us.
 *
 * The raw key is not kept: it is handed to OpenSSL once and lives only in
 * the context's own state, which OpenSSL cleanses when the context is
 * freed (wg_aead_free). Callers cleanse their copy of the key.
 *
 * Plain C, no Node-API: usable from the C tests and from the addon. */
#ifndef ION_WG_AEAD_H
#define ION_WG_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WG_AEAD_KEY_LEN 32
#define WG_AEAD_TAG_LEN 16
#define WG_AEAD_NONCE_LEN 12
/* Longest input of one call; OpenSSL takes int lengths. */
#define WG_AEAD_MAX_LEN (1u << 30)

struct evp_cipher_ctx_st; /* OpenSSL's EVP_CIPHER_CTX */

typedef struct wg_aead {
  struct evp_cipher_ctx_st *ctx;
  bool seal; /* the direction the context was keyed for */
} wg_aead;

/* Key a context for sealing (seal=true) or opening. 0, -ENOMEM, or -EIO
 * when OpenSSL refuses (no chacha20-poly1305 in this OpenSSL). */
int wg_aead_init(wg_aead *a, const uint8_t key[WG_AEAD_KEY_LEN], bool seal);
/* Free the context; OpenSSL cleanses the key state. Idempotent. */
void wg_aead_free(wg_aead *a);

/* WireGuard's nonce: 4 zero bytes, then the 64-bit counter little-endian. */
void wg_aead_nonce(uint8_t nonce[WG_AEAD_NONCE_LEN], uint64_t counter);

/* Seal in[0..len) followed by `pad` zero bytes into out[0..len+pad), and
 * write the tag. `out` may equal `in` (in place) but must not otherwise
 * overlap it. pad < 16. 0, -EINVAL (wrong direction, too long), -EIO. */
int wg_aead_seal(wg_aead *a, const uint8_t nonce[WG_AEAD_NONCE_LEN],
                 const uint8_t *aad, size_t aad_len, const uint8_t *in,
                 size_t len, size_t pad, uint8_t *out,
                 uint8_t tag[WG_AEAD_TAG_LEN]);

/* Open in[0..len) with its tag into out (in place allowed). 0, or
 * -EBADMSG when the tag does not authenticate (out then holds garbage the
 * caller must not use), -EINVAL, -EIO. */
int wg_aead_open(wg_aead *a, const uint8_t nonce[WG_AEAD_NONCE_LEN],
                 const uint8_t *aad, size_t aad_len, const uint8_t *in,
                 size_t len, uint8_t *out, const uint8_t tag[WG_AEAD_TAG_LEN]);

#endif
