/* ChaCha20-Poly1305 (RFC 8439), one keyed state per direction of a
 * keypair, over one of two OpenSSL paths:
 *
 * - low-level (aead_lowlevel.h): OpenSSL's ChaCha20_ctr32 and Poly1305_*
 *   called directly, when the process's OpenSSL exports them (Node's
 *   bundled one does) and they agree with EVP on a known-answer check run
 *   once. The key words live in the wg_aead itself; wg_aead_free cleanses
 *   them. A 1420-byte seal: 916 ns vs EVP's 1,169 on the reference machine.
 * - EVP: one EVP context keyed once per direction (keying and fetching the
 *   cipher is the expensive part of EVP; each packet then only sets a
 *   nonce). The raw key lives only in the context, which OpenSSL cleanses
 *   when it is freed.
 *
 * IOURING_NET_WG_CRYPTO=evp forces EVP. Callers cleanse their copy of the
 * key.
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
  struct evp_cipher_ctx_st *ctx; /* EVP path; NULL on the low-level one */
  uint32_t key[8];               /* low-level path: the key words */
  bool lowlevel;
  bool ready; /* keyed, not yet freed */
  bool seal;  /* the direction it was keyed for */
} wg_aead;

/* Which path wg_aead_init takes in this process, and why; decided on the
 * first call (thread-safe) and fixed after. */
typedef enum {
  WG_AEAD_LOWLEVEL = 0,     /* symbols found and checked against EVP */
  WG_AEAD_EVP_NO_SYMBOLS,   /* this OpenSSL does not export them */
  WG_AEAD_EVP_FORCED,       /* IOURING_NET_WG_CRYPTO=evp */
  WG_AEAD_EVP_CHECK_FAILED, /* found, but disagreed with EVP */
} wg_aead_backend_t;
wg_aead_backend_t wg_aead_backend(void);
/* A short name for the path: "openssl-lowlevel" or "openssl-evp". */
const char *wg_aead_backend_name(wg_aead_backend_t b);

/* Key for sealing (seal=true) or opening, on wg_aead_backend()'s path.
 * 0, -ENOMEM, or -EIO when OpenSSL refuses (no chacha20-poly1305). */
int wg_aead_init(wg_aead *a, const uint8_t key[WG_AEAD_KEY_LEN], bool seal);
/* Same on a chosen path (tests compare the two): -ENOSYS for lowlevel
 * when the symbols are missing. */
int wg_aead_init_path(wg_aead *a, const uint8_t key[WG_AEAD_KEY_LEN],
                      bool seal, bool lowlevel);
/* Free and cleanse the key state. Idempotent. */
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
