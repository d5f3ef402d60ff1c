/*
 * Random-input loop over the offload engine (src/native/tun/split.c,
 * gro.c): valid super-segments and batches from offload_util.h's
 * builders, then random byte changes and truncations, with a fixed-seed
 * PRNG (OFFLOAD_FUZZ_SEED=n picks another; OFFLOAD_FUZZ_ROUNDS=n runs
 * longer). Every input sits in an allocation of exactly its size, so under
 * ASan any read or write out of bounds fails the run. Beyond "no crash":
 *   split:    result agrees with ion_vnet_parse; every packet fits its slot;
 *             every GSO output passes the reference checksum check and the
 *             payloads add up to the input's;
 *   coalesce: verify_writes (each packet in exactly one write, in order,
 *             singles unchanged, coalesced writes split back into exactly
 *             their packets with valid checksums).
 *
 * TAP output and CHECK: test_util.h. Never skips.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offload_util.h"
#include "test_util.h"

#define MAXS 64
#define NMAX 48

static uint64_t g_rng;

static uint32_t rnd(void) { /* xorshift64* */
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return (uint32_t)((g_rng * 2685821657736338717ull) >> 32);
}
static uint32_t below(uint32_t n) { return n ? rnd() % n : 0; }

static unsigned env_num(const char *name, unsigned dflt) {
  const char *v = getenv(name);
  return v && *v ? (unsigned)strtoul(v, NULL, 0) : dflt;
}

static struct spec random_spec(void) {
  struct spec s = spec_default((int)below(2), below(2) ? 6 : 17);
  if (s.proto == 6) {
    s.optlen = (uint8_t)(below(11) * 4);
    for (int i = 0; i < s.optlen; i++) s.opts[i] = (uint8_t)rnd();
    s.flags = (uint8_t)(0x10 | (below(4) ? 0 : rnd() & 0xe9)); /* no SYN/RST */
  }
  s.seq = rnd();
  s.id = (uint16_t)rnd();
  s.seed = rnd();
  return s;
}

/* Flip a few bytes, mostly in the headers; sometimes cut the end. */
static size_t mutate(uint8_t *b, size_t len, size_t hot) {
  uint32_t k = below(4);
  for (uint32_t i = 0; i < k && len; i++) {
    size_t at = below(8) ? below((uint32_t)(hot < len ? hot : len))
                         : below((uint32_t)len);
    b[at] ^= (uint8_t)(1u << below(8));
    if (!below(4)) b[at] = (uint8_t)rnd();
  }
  if (!below(10) && len) len -= below((uint32_t)len) + 1;
  return len;
}

static uint8_t g_buf[ION_VNET_HDR_LEN + 70000];

/* What the rounds reached, printed as TAP comments: a loop that never
 * splits, refuses or coalesces anything would test nothing. */
static struct {
  unsigned split_ok, einval, enospc, writes, coalesced, packets;
} g_seen;

static int split_round(void) {
  int st = FAIL;
  struct ion_pkt out[MAXS + 2] = {{0}};
  uint32_t nslots = 0;
  struct spec s = random_spec();
  s.plen = below(9000);
  uint16_t mss = (uint16_t)(1 + below(1500));
  if ((s.plen + mss - 1) / mss > MAXS) mss = (uint16_t)((s.plen + MAXS - 1) / MAXS);
  size_t len = build_gso(g_buf, &s, mss);
  if (below(3)) len = mutate(g_buf, len, ION_VNET_HDR_LEN + spec_hdr(&s) + 4);
  uint8_t *in = alloc_pkt(g_buf, len);
  struct ion_vnet_info info;
  int prc = ion_vnet_parse(in, len, &info);
  uint32_t want = prc == 0 ? info.segs : 1;
  nslots = want > MAXS ? MAXS : want + below(3) - (below(8) ? 0 : 1);
  uint32_t cap_base = prc == 0 ? info.seg_max : 2000;
  for (uint32_t i = 0; i < nslots; i++) {
    out[i].cap = cap_base + below(8) - (below(16) ? 0 : 3);
    out[i].data = alloc_pkt(NULL, out[i].cap);
  }
  int rc = ion_vnet_split(in, len, out, nslots);
  CHECK(memcmp(in, g_buf, len) == 0);
  g_seen.split_ok += rc > 0;
  g_seen.einval += rc == -EINVAL;
  g_seen.enospc += rc == -ENOSPC;
  if (prc < 0) {
    CHECKF(rc == prc, "parse %d, split %d", prc, rc);
  } else if (rc < 0) {
    CHECKF(rc == -ENOSPC, "split %d after parse 0", rc);
  } else {
    CHECKF((uint32_t)rc == info.segs && (uint32_t)rc <= nslots, "%d", rc);
    uint32_t sum = 0;
    for (int i = 0; i < rc; i++) {
      CHECK(out[i].len <= out[i].cap && out[i].len <= info.seg_max);
      if (info.gso == ION_VNET_GSO_NONE) continue;
      CHECKF(ref_packet_ok(out[i].data, out[i].len), "segment %d", i);
      sum += out[i].len - info.hdr_len;
    }
    if (info.gso != ION_VNET_GSO_NONE)
      CHECK(sum == info.pkt_len - info.hdr_len);
  }
  st = PASS;
out:
  for (uint32_t i = 0; i < nslots; i++) free_pkt(out[i].data);
  free_pkt(in);
  return st;
}

static struct ion_gro g_gro;

/* A batch of up to NMAX packets from one to three flows, some changed. */
static uint32_t random_batch(struct ion_pkt *p, uint8_t **orig) {
  struct spec f[3];
  uint32_t nflows = 1 + below(3), n = 1 + below(NMAX);
  uint16_t mss[3];
  for (uint32_t k = 0; k < nflows; k++) {
    f[k] = random_spec();
    f[k].flags &= (uint8_t)(below(3) ? 0x10 : 0xff);
    mss[k] = (uint16_t)(1 + below(1400));
  }
  for (uint32_t i = 0; i < n; i++) {
    struct spec *s = &f[below(nflows)];
    uint16_t m = mss[s - f];
    s->plen = below(6) ? m : below((uint32_t)m + 1);
    size_t len = build_pkt(g_buf, s, 0);
    if (!below(4)) len = mutate(g_buf, len, spec_hdr(s) + 2);
    p[i].data = alloc_pkt(g_buf, len);
    p[i].len = (uint32_t)len;
    orig[i] = malloc(len + 1);
    if (!orig[i]) abort();
    memcpy(orig[i], g_buf, len);
    s->off += s->plen;
    s->seq += s->plen;
    s->id++;
  }
  return n;
}

static int gro_round(void) {
  int st = FAIL;
  struct ion_pkt p[NMAX];
  uint8_t *orig[NMAX];
  struct ion_gro_write w[NMAX];
  struct iovec iov[NMAX];
  char why[200] = "";
  uint32_t n = random_batch(p, orig);
  int nw = ion_gro_coalesce(&g_gro, p, n, below(4), w, NMAX, iov, NMAX);
  CHECKF(nw > 0 && (uint32_t)nw <= n, "%d writes for %u packets", nw, n);
  CHECKF(verify_writes(p, orig, n, w, nw, iov, why, sizeof(why)), "%s", why);
  g_seen.packets += n;
  g_seen.writes += (unsigned)nw;
  for (int k = 0; k < nw; k++) g_seen.coalesced += w[k].npkts > 1;
  st = PASS;
out:
  for (uint32_t i = 0; i < n; i++) {
    free_pkt(p[i].data);
    free(orig[i]);
  }
  return st;
}

static int fuzz(int (*round)(void), uint64_t salt) {
  unsigned seed = env_num("OFFLOAD_FUZZ_SEED", 1);
  unsigned rounds = env_num("OFFLOAD_FUZZ_ROUNDS", 3000);
  g_rng = 0x9e3779b97f4a7c15ull ^ seed ^ salt;
  for (unsigned r = 0; r < rounds; r++) {
    uint64_t at = g_rng;
    if (round() != PASS) {
      char why[300];
      memcpy(why, g_why, sizeof(why) - 1);
      why[sizeof(why) - 1] = 0;
      snprintf(g_why, sizeof(g_why), "seed %u round %u (state %#llx): %s",
               seed, r, (unsigned long long)at, why);
      return FAIL;
    }
  }
  return PASS;
}

static int t_split(void) { return fuzz(split_round, 0x51); }
static int t_gro(void) { return fuzz(gro_round, 0x6c); }

static const test_case tests[] = {
    {"split: random super-segments, changed and cut", t_split},
    {"coalesce: random batches of flows, changed and cut", t_gro},
};

int main(void) {
  int rc = run_tests(tests, sizeof(tests) / sizeof(tests[0]));
  printf("# split: %u accepted, %u -EINVAL, %u -ENOSPC\n", g_seen.split_ok,
         g_seen.einval, g_seen.enospc);
  printf("# coalesce: %u packets -> %u writes, %u of them coalesced\n",
         g_seen.packets, g_seen.writes, g_seen.coalesced);
  /* A loop that reached none of these outcomes did not test them. */
  if (!g_seen.split_ok || !g_seen.einval || !g_seen.enospc ||
      !g_seen.coalesced || g_seen.writes == g_seen.coalesced) {
    printf("# FAILED: the random inputs missed an outcome\n");
    return 1;
  }
  return rc;
}
