/* Time the data path's ChaCha20-Poly1305 on one core, for the WireGuard
 * benchmark's account of where the CPU goes (bench/wireguard.ts): what one
 * seal and one open of a len-byte packet cost on a given OpenSSL path.
 * Plain C, no Node-API. */
#ifndef ION_WG_AEAD_BENCH_H
#define ION_WG_AEAD_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WG_AEAD_BENCH_MAX_LEN 65536u
#define WG_AEAD_BENCH_MAX_ITERS 10000000u

/* Nanoseconds per seal (in place, as the data path seals) and per open,
 * each the mean of `iters` calls. 0, -EINVAL (len or iters out of range),
 * -ENOSYS (lowlevel where the symbols are missing), -ENOMEM, -EIO. */
int wg_aead_bench(bool lowlevel, size_t len, uint32_t iters, double *seal_ns,
                  double *open_ns);

#endif
