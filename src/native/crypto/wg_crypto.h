/* The two primitives WireGuard needs that node:crypto does not offer, built
 * from the OpenSSL that Node ships (its own headers, its exported symbols):
 *
 *  - keyed BLAKE2s with a short output (MAC1/MAC2 are BLAKE2s-128 keyed with
 *    a 32-byte key): OpenSSL's EVP_MAC "BLAKE2SMAC" with OSSL_MAC_PARAM_SIZE;
 *  - XChaCha20-Poly1305 (cookie replies): HChaCha20 derived from the raw
 *    "chacha20" keystream, then OpenSSL's chacha20-poly1305 with the subkey
 *    (draft-irtf-cfrg-xchacha-03, sections 2.2 and 2.3).
 *
 * No cipher or hash is implemented here: only OpenSSL calls, and the
 * subtraction that turns one ChaCha20 block back into HChaCha20's output.
 * Every function returns 0 or a negative errno (liburing style):
 * -EINVAL for bad sizes or NULL pointers, -ENOMEM, -EIO when OpenSSL fails,
 * -ENOSYS when this OpenSSL lacks the algorithm, -EBADMSG when an AEAD tag
 * does not verify. Plain C (no Node-API): addon_crypto.c is the glue. */
#ifndef WG_CRYPTO_H
#define WG_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define WG_BLAKE2S_MAX_KEY 32
#define WG_BLAKE2S_MAX_OUT 32
#define WG_XCHACHA_KEY 32
#define WG_XCHACHA_NONCE 24
#define WG_HCHACHA_NONCE 16
#define WG_AEAD_TAG 16
/* EVP takes int lengths; cookie replies seal 16 bytes. A generous bound that
 * keeps every length (and length + tag) far from INT_MAX. */
#define WG_XCHACHA_MAX_LEN (1u << 30)

/* out[0..outlen) = BLAKE2s(key, msg) with digest length outlen (1..32) and
 * key length 1..32 (RFC 7693 keyed mode). */
int wg_blake2s_mac(uint8_t *out, size_t outlen, const uint8_t *key,
                   size_t keylen, const uint8_t *msg, size_t msglen);

/* out = HChaCha20(key, nonce16): 32 bytes (draft section 2.2). */
int wg_hchacha20(uint8_t out[32], const uint8_t key[32],
                 const uint8_t nonce[16]);

/* dst[0..len+16) = XChaCha20-Poly1305 seal of src[0..len) with ad: the
 * ciphertext followed by the 16-byte tag. dst must not partly overlap src
 * (dst == src is allowed). */
int wg_xchacha20poly1305_seal(uint8_t *dst, const uint8_t *src, size_t len,
                              const uint8_t *ad, size_t adlen,
                              const uint8_t nonce[24], const uint8_t key[32]);

/* dst[0..len-16) = open of src[0..len) (ciphertext || tag). -EBADMSG when
 * the tag does not verify; dst is then zeroed. */
int wg_xchacha20poly1305_open(uint8_t *dst, const uint8_t *src, size_t len,
                              const uint8_t *ad, size_t adlen,
                              const uint8_t nonce[24], const uint8_t key[32]);

#endif
