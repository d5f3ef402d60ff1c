/* ChaCha20-Poly1305 (RFC 8439) straight over OpenSSL's own ChaCha20 and
 * Poly1305 routines, without EVP.
 *
 * Why: through EVP each packet pays ~250 ns of fixed cost in OpenSSL 3.0
 * (re-initialising the context for a nonce, parameter lookups by name for
 * the IV length and the tag, cleanses, the last partial block on its
 * own): a 1420-byte seal takes 1,169 ns through EVP and 916 ns here on
 * this project's reference machine (wgAeadBench). The node binary
 * exports OpenSSL's low-level ChaCha20_ctr32 and Poly1305_* (the routines
 * EVP itself ends in), so the addon can call them directly: the same
 * assembly, none of the per-call machinery. They are not public API,
 * so they are weak references resolved when the addon loads; aead.c
 * decides whether to use them (see wg_aead_backend).
 *
 * Plain C, no Node-API. */
#ifndef ION_WG_AEAD_LOWLEVEL_H
#define ION_WG_AEAD_LOWLEVEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether this process's OpenSSL exports the routines (it says nothing of
 * whether they behave: aead.c checks them against EVP before use). */
bool wg_ll_available(void);

/* key: 8 little-endian words of the 32-byte key; nonce: 12 bytes.
 * Seal in[0..len) plus `pad` zero bytes (< 16) into out[0..len+pad) and
 * write tag. out may equal in, must not otherwise overlap. */
void wg_ll_seal(const uint32_t key[8], const uint8_t nonce[12],
                const uint8_t *aad, size_t aad_len, const uint8_t *in,
                size_t len, size_t pad, uint8_t *out, uint8_t tag[16]);
/* Check tag over in[0..len), then decrypt into out (in place allowed).
 * false when the tag does not authenticate; out is then untouched. */
bool wg_ll_open(const uint32_t key[8], const uint8_t nonce[12],
                const uint8_t *aad, size_t aad_len, const uint8_t *in,
                size_t len, uint8_t *out, const uint8_t tag[16]);

/* The key as ChaCha20_ctr32 takes it. */
void wg_ll_key_words(uint32_t words[8], const uint8_t key[32]);

#endif
