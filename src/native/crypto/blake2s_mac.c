/* Keyed BLAKE2s through OpenSSL's EVP_MAC "BLAKE2SMAC" (OpenSSL >= 3.0).
 * node:crypto's createHash('blake2s256') takes no key and no output length,
 * so MAC1/MAC2 (BLAKE2s-128, 32-byte key) must come from here. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "crypto/wg_crypto.h"

/* Fetched once: a fetch walks the provider tables, a context is cheap.
 * EVP_MAC objects are immutable and safe to share between threads (worker
 * threads load the addon too); never freed, as it lives as long as the
 * process's OpenSSL. Not pthread_once, which would make the addon need
 * glibc 2.34: threads racing on the first call each fetch, the first
 * stored wins and the others free theirs. */
static EVP_MAC *mac_alg;

static EVP_MAC *the_mac(void) {
  EVP_MAC *m = __atomic_load_n(&mac_alg, __ATOMIC_ACQUIRE);
  if (m) return m;
  m = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_BLAKE2SMAC, NULL);
  if (!m) return NULL; /* not in this OpenSSL: asked again next time */
  EVP_MAC *expected = NULL;
  if (__atomic_compare_exchange_n(&mac_alg, &expected, m, false,
                                  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    return m;
  EVP_MAC_free(m);
  return expected;
}

int wg_blake2s_mac(uint8_t *out, size_t outlen, const uint8_t *key,
                   size_t keylen, const uint8_t *msg, size_t msglen) {
  if (!out || !key || (!msg && msglen) || outlen < 1 ||
      outlen > WG_BLAKE2S_MAX_OUT || keylen < 1 || keylen > WG_BLAKE2S_MAX_KEY)
    return -EINVAL;
  EVP_MAC *alg = the_mac();
  if (!alg) return -ENOSYS;
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(alg);
  if (!ctx) return -ENOMEM;
  /* The size must be set with (or before) the key: BLAKE2s mixes the digest
   * length into its parameter block, so it changes every output byte. */
  size_t size = outlen;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
      OSSL_PARAM_construct_end(),
  };
  size_t got = 0;
  int rc = -EIO;
  if (EVP_MAC_init(ctx, key, keylen, params) == 1 &&
      (msglen == 0 || EVP_MAC_update(ctx, msg, msglen) == 1) &&
      EVP_MAC_final(ctx, out, &got, outlen) == 1 && got == outlen)
    rc = 0;
  /* The context holds the key; OpenSSL's BLAKE2 MAC clears it when freed. */
  EVP_MAC_CTX_free(ctx);
  return rc;
}
