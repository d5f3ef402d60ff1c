/* WireGuard data path primitives: ChaCha20-Poly1305 against RFC 8439's
 * vectors, the replay window against its definition, the AllowedIPs trie
 * against a linear list. The device and round trips are in
 * wg_datapath_test.c. */
#include "test_util.h"

#include "wg/aead.h"
#include "wg/aead_lowlevel.h"
#include "wg/allowedips.h"
#include "wg/replay.h"

/* ---- helpers ---- */

static size_t unhex(const char *s, uint8_t *out, size_t cap) {
  size_t n = 0;
  for (; s[0] && s[1] && n < cap; s += 2) {
    unsigned v;
    if (sscanf(s, "%2x", &v) != 1) break;
    out[n++] = (uint8_t)v;
  }
  return n;
}

/* A fixed xorshift generator: "random" cases that are the same each run. */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

/* ---- AEAD ---- */

/* RFC 8439 section 2.8.2: key 80..9f, nonce 07000000 4041424344454647,
 * AAD 50515253c0c1c2c3c4c5c6c7, the "Ladies and Gentlemen" plaintext. */
static const char *k282_ct =
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116";
static const char *k282_pt =
    "Ladies and Gentlemen of the class of '99: If I could offer you only "
    "one tip for the future, sunscreen would be it.";

static int t_aead_rfc8439_2_8_2(void) {
  int st = FAIL;
  wg_aead s = {0}, o = {0};
  uint8_t key[32], nonce[12], aad[12], want[114], buf[114], tag[16],
      want_tag[16];
  for (int i = 0; i < 32; i++) key[i] = (uint8_t)(0x80 + i);
  unhex("070000004041424344454647", nonce, 12);
  unhex("50515253c0c1c2c3c4c5c6c7", aad, 12);
  unhex("1ae10b594f09e26a7e902ecbd0600691", want_tag, 16);
  CHECK(unhex(k282_ct, want, sizeof(want)) == 114 && strlen(k282_pt) == 114);
  CHECK(wg_aead_init(&s, key, true) == 0 && wg_aead_init(&o, key, false) == 0);
  memcpy(buf, k282_pt, 114);
  CHECK(wg_aead_seal(&s, nonce, aad, 12, buf, 114, 0, buf, tag) == 0);
  CHECK(memcmp(buf, want, 114) == 0);
  CHECK(memcmp(tag, want_tag, 16) == 0);
  CHECK(wg_aead_open(&o, nonce, aad, 12, buf, 114, buf, tag) == 0);
  CHECK(memcmp(buf, k282_pt, 114) == 0);
  /* Wrong direction: a sealing context does not open. */
  CHECK(wg_aead_open(&s, nonce, aad, 12, buf, 114, buf, tag) == -EINVAL);
  st = PASS;
out:
  wg_aead_free(&s);
  wg_aead_free(&o);
  wg_aead_free(&o); /* idempotent */
  return st;
}

/* RFC 8439 appendix A.5: the decryption vector. Its nonce is 4 zero bytes
 * then 0102030405060708, i.e. WireGuard's nonce for the counter
 * 0x0807060504030201. */
static const char *a5_ct =
    "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
    "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
    "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
    "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
    "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
    "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
    "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
    "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
    "a6ad5cb4022b02709b";
static const char *a5_pt =
    "496e7465726e65742d4472616674732061726520647261667420646f63756d65"
    "6e74732076616c696420666f722061206d6178696d756d206f6620736978206d"
    "6f6e74687320616e64206d617920626520757064617465642c207265706c6163"
    "65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65"
    "6e747320617420616e792074696d652e20497420697320696e617070726f7072"
    "6961746520746f2075736520496e7465726e65742d4472616674732061732072"
    "65666572656e6365206d6174657269616c206f7220746f206369746520746865"
    "6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67"
    "726573732e2fe2809d";

static int t_aead_rfc8439_a5(void) {
  int st = FAIL;
  wg_aead s = {0}, o = {0};
  uint8_t key[32], nonce[12], want_nonce[12], aad[12], ct[265], pt[265],
      buf[265], tag[16], got_tag[16];
  unhex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
        key, 32);
  unhex("000000000102030405060708", want_nonce, 12);
  unhex("f33388860000000000004e91", aad, 12);
  unhex("eead9d67890cbb22392336fea1851f38", tag, 16);
  CHECK(unhex(a5_ct, ct, 265) == 265 && unhex(a5_pt, pt, 265) == 265);
  wg_aead_nonce(nonce, 0x0807060504030201ull);
  CHECK(memcmp(nonce, want_nonce, 12) == 0);
  CHECK(wg_aead_init(&o, key, false) == 0 && wg_aead_init(&s, key, true) == 0);
  memcpy(buf, ct, 265);
  CHECK(wg_aead_open(&o, nonce, aad, 12, buf, 265, buf, tag) == 0);
  CHECK(memcmp(buf, pt, 265) == 0);
  /* And the other way: sealing the plaintext gives the vector. */
  CHECK(wg_aead_seal(&s, nonce, aad, 12, pt, 265, 0, buf, got_tag) == 0);
  CHECK(memcmp(buf, ct, 265) == 0 && memcmp(got_tag, tag, 16) == 0);
  /* One flipped bit anywhere (ciphertext, AAD, tag) fails to open. */
  buf[100] ^= 0x10;
  CHECK(wg_aead_open(&o, nonce, aad, 12, buf, 265, buf, tag) == -EBADMSG);
  memcpy(buf, ct, 265);
  aad[11] ^= 1;
  CHECK(wg_aead_open(&o, nonce, aad, 12, buf, 265, buf, tag) == -EBADMSG);
  aad[11] ^= 1;
  memcpy(buf, ct, 265);
  tag[15] ^= 0x80;
  CHECK(wg_aead_open(&o, nonce, aad, 12, buf, 265, buf, tag) == -EBADMSG);
  tag[15] ^= 0x80;
  /* The context is still good after failures. */
  memcpy(buf, ct, 265);
  CHECK(wg_aead_open(&o, nonce, aad, 12, buf, 265, buf, tag) == 0);
  st = PASS;
out:
  wg_aead_free(&s);
  wg_aead_free(&o);
  return st;
}

/* One keyed context reused for many packets gives what a fresh context
 * gives each time; padding sealed from the built-in zeros equals sealing
 * explicit zeros; in place equals out of place; empty plaintext works. */
static int t_aead_reuse(void) {
  int st = FAIL;
  wg_aead reused = {0}, fresh = {0}, o = {0};
  uint8_t key[32], nonce[12], a[1500], b[1500], c[1500], ta[16], tb[16];
  fill(key, 32, 7);
  CHECK(wg_aead_init(&reused, key, true) == 0);
  CHECK(wg_aead_init(&o, key, false) == 0);
  for (unsigned i = 0; i < 20; i++) {
    size_t len = (i * 97) % 1400, pad = i % 16;
    wg_aead_nonce(nonce, i * 1000003ull);
    fill(a, len, i);
    memset(a + len, 0, pad);
    memcpy(c, a, len);
    CHECK(wg_aead_init(&fresh, key, true) == 0);
    CHECK(wg_aead_seal(&fresh, nonce, NULL, 0, a, len + pad, 0, b, tb) == 0);
    wg_aead_free(&fresh);
    CHECK(wg_aead_seal(&reused, nonce, NULL, 0, c, len, pad, c, ta) == 0);
    CHECKF(memcmp(b, c, len + pad) == 0 && memcmp(ta, tb, 16) == 0,
           "packet %u", i);
    CHECK(wg_aead_open(&o, nonce, NULL, 0, c, len + pad, c, ta) == 0);
    CHECK(memcmp(c, a, len + pad) == 0);
  }
  CHECK(wg_aead_seal(&reused, nonce, NULL, 0, a, 0, 16, a, ta) == -EINVAL);
  st = PASS;
out:
  wg_aead_free(&reused);
  wg_aead_free(&fresh);
  wg_aead_free(&o);
  return st;
}

/* The path choice (aead.h): the system libcrypto these tests link does
 * not export OpenSSL's low-level routines, so EVP with that reason and a
 * refused explicit low-level init; were it ever to export them, the
 * low-level path must have passed its check against EVP. (The low-level
 * path itself is tested from node: test/wg-aead-paths.test.ts.) */
static int t_aead_path_choice(void) {
  int st = FAIL;
  wg_aead a = {0};
  uint8_t key[32] = {1};
  wg_aead_backend_t b = wg_aead_backend();
  CHECK(b == wg_aead_backend()); /* fixed once chosen */
  if (getenv("IOURING_NET_WG_CRYPTO") &&
      strcmp(getenv("IOURING_NET_WG_CRYPTO"), "evp") == 0) {
    CHECK(b == WG_AEAD_EVP_FORCED);
  } else if (!wg_ll_available()) {
    CHECK(b == WG_AEAD_EVP_NO_SYMBOLS);
  } else {
    CHECK(b == WG_AEAD_LOWLEVEL);
  }
  CHECK(strcmp(wg_aead_backend_name(b),
               b == WG_AEAD_LOWLEVEL ? "openssl-lowlevel" : "openssl-evp") == 0);
  CHECK(wg_aead_init_path(&a, key, true, true) ==
        (wg_ll_available() ? 0 : -ENOSYS));
  wg_aead_free(&a);
  CHECK(wg_aead_init(&a, key, true) == 0 && a.lowlevel == (b == WG_AEAD_LOWLEVEL));
  st = PASS;
out:
  wg_aead_free(&a);
  return st;
}

/* ---- replay window ---- */

static int t_replay_basic(void) {
  int st = FAIL;
  wg_replay r;
  wg_replay_reset(&r);
  for (uint64_t c = 0; c < 100; c++) CHECK(wg_replay_update(&r, c));
  CHECK(!wg_replay_update(&r, 0) && !wg_replay_update(&r, 99)); /* dups */
  /* Out of order inside the window: each accepted exactly once. */
  CHECK(wg_replay_update(&r, 5000));
  CHECK(wg_replay_check(&r, 4000) && wg_replay_check(&r, 4000));
  CHECK(wg_replay_update(&r, 4000) && !wg_replay_update(&r, 4000));
  CHECK(wg_replay_update(&r, 101) && wg_replay_update(&r, 4999));
  /* The window's far edge: last - WINDOW is in, one further is out. */
  CHECK(wg_replay_update(&r, 20000));
  CHECK(!wg_replay_check(&r, 20000 - WG_REPLAY_WINDOW - 1));
  CHECK(wg_replay_update(&r, 20000 - WG_REPLAY_WINDOW));
  CHECK(!wg_replay_update(&r, 5000)); /* too old now, though never seen */
  /* A jump far beyond the ring clears it: old bits must not alias. */
  uint64_t far = 20000 + 64 * WG_REPLAY_WORDS * 3 + 7;
  CHECK(wg_replay_update(&r, far));
  for (uint64_t c = far - WG_REPLAY_WINDOW; c < far; c += 61)
    CHECKF(wg_replay_update(&r, c), "counter %llu", (unsigned long long)c);
  st = PASS;
out:
  return st;
}

static int t_replay_limits(void) {
  int st = FAIL;
  wg_replay r;
  wg_replay_reset(&r);
  CHECK(WG_REPLAY_WINDOW >= 2048);
  CHECK(WG_REJECT_AFTER_MESSAGES == UINT64_MAX - 8192); /* 2^64-2^13-1 */
  CHECK(!wg_replay_check(&r, WG_REJECT_AFTER_MESSAGES));
  CHECK(!wg_replay_update(&r, UINT64_MAX));
  CHECK(r.last == 0); /* refused counters change nothing */
  CHECK(wg_replay_update(&r, WG_REJECT_AFTER_MESSAGES - 1));
  CHECK(!wg_replay_update(&r, WG_REJECT_AFTER_MESSAGES - 1));
  CHECK(wg_replay_update(&r, WG_REJECT_AFTER_MESSAGES - 2));
  CHECK(!wg_replay_update(&r, 0)); /* far behind */
  st = PASS;
out:
  return st;
}

/* Against the definition: accept c iff below the limit, never accepted
 * before, and not more than WINDOW behind the highest accepted. */
static int t_replay_model(void) {
  int st = FAIL;
  enum { SPAN_BITS = 1 << 25 };
  static uint64_t seen[SPAN_BITS / 64];
  wg_replay r;
  uint64_t max = 0;
  bool any = false;
  memset(seen, 0, sizeof(seen));
  wg_replay_reset(&r);
  for (int i = 0; i < 100000; i++) {
    /* Mostly near the front, some around the window's far edge, rarely a
     * jump ahead. */
    uint64_t k = rnd() % 256, back, c;
    if (k == 0) {
      c = max + 1 + rnd() % 20000;
    } else {
      back = k < 64 ? rnd() % 12000 : rnd() % 300;
      c = max + 8 > back ? max + 8 - back : 0;
    }
    if (c >= SPAN_BITS) break;
    bool dup = seen[c / 64] >> (c % 64) & 1;
    bool want = !dup && (!any || c > max || max - c <= WG_REPLAY_WINDOW);
    bool got = wg_replay_update(&r, c);
    CHECKF(got == want, "step %d counter %llu max %llu", i,
           (unsigned long long)c, (unsigned long long)max);
    if (got) {
      seen[c / 64] |= UINT64_C(1) << (c % 64);
      if (!any || c > max) max = c;
      any = true;
    }
  }
  CHECKF(max > 100000, "max %llu: the walk did not move", (unsigned long long)max);
  st = PASS;
out:
  return st;
}

/* ---- AllowedIPs ---- */

static uint8_t v4[4];
static const uint8_t *ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  v4[0] = a, v4[1] = b, v4[2] = c, v4[3] = d;
  return v4;
}
static uint8_t v6[16];
static const uint8_t *ip6(const char *s) {
  inet_pton(AF_INET6, s, v6);
  return v6;
}

typedef struct listing {
  int n;
  char text[512];
} listing;

static int list_cb(void *arg, int family, const uint8_t *addr, uint8_t cidr) {
  listing *l = arg;
  char a[INET6_ADDRSTRLEN];
  inet_ntop(family, addr, a, sizeof(a));
  size_t used = strlen(l->text);
  snprintf(l->text + used, sizeof(l->text) - used, "%s%s/%u",
           l->n++ ? " " : "", a, cidr);
  return 0;
}

static int t_aips_basic(void) {
  int st = FAIL;
  wg_allowedips t;
  listing l = {0};
  wg_aips_init(&t);
  CHECK(wg_aips_insert(&t, AF_INET, ip4(10, 0, 0, 0), 8, 1) == 0);
  CHECK(wg_aips_insert(&t, AF_INET, ip4(10, 1, 0, 0), 16, 2) == 0);
  CHECK(wg_aips_insert(&t, AF_INET, ip4(10, 1, 2, 3), 32, 3) == 0);
  CHECK(wg_aips_insert(&t, AF_INET, ip4(192, 168, 7, 77), 24, 4) == 0);
  CHECK(wg_aips_lookup(&t, AF_INET, ip4(10, 9, 9, 9)) == 1);
  CHECK(wg_aips_lookup(&t, AF_INET, ip4(10, 1, 9, 9)) == 2);
  CHECK(wg_aips_lookup(&t, AF_INET, ip4(10, 1, 2, 3)) == 3);
  CHECK(wg_aips_lookup(&t, AF_INET, ip4(10, 1, 2, 4)) == 2);
  CHECK(wg_aips_lookup(&t, AF_INET, ip4(11, 0, 0, 1)) == -ENOENT);
  CHECK(wg_aips_lookup(&t, AF_INET, ip4(192, 168, 7, 1)) == 4); /* masked */
  CHECK(wg_aips_lookup(&t, AF_INET6, ip6("::a00:1")) == -ENOENT);
  /* Move: the /16 goes to peer 5; the rest stays. */
  CHECK(wg_aips_insert(&t, AF_INET, ip4(10, 1, 255, 255), 16, 5) == 0);
  CHECK(wg_aips_lookup(&t, AF_INET, ip4(10, 1, 9, 9)) == 5);
  CHECK(t.count == 4);
  /* Remove: only by its owner; then the covering prefix shows through. */
  CHECK(wg_aips_remove(&t, AF_INET, ip4(10, 1, 0, 0), 16, 2) == -ENOENT);
  CHECK(wg_aips_remove(&t, AF_INET, ip4(10, 1, 0, 0), 16, 5) == 0);
  CHECK(wg_aips_remove(&t, AF_INET, ip4(10, 1, 0, 0), 16, 5) == -ENOENT);
  CHECK(wg_aips_remove(&t, AF_INET, ip4(10, 1, 0, 0), 17, 5) == -ENOENT);
  CHECK(wg_aips_lookup(&t, AF_INET, ip4(10, 1, 9, 9)) == 1);
  CHECK(wg_aips_lookup(&t, AF_INET, ip4(10, 1, 2, 3)) == 3);
  /* Default route and bad arguments. */
  CHECK(wg_aips_insert(&t, AF_INET, ip4(1, 2, 3, 4), 0, 9) == 0);
  CHECK(wg_aips_lookup(&t, AF_INET, ip4(11, 0, 0, 1)) == 9);
  CHECK(wg_aips_insert(&t, AF_INET, ip4(1, 2, 3, 4), 33, 9) == -EINVAL);
  CHECK(wg_aips_insert(&t, AF_INET6, ip4(1, 2, 3, 4), 129, 9) == -EINVAL);
  CHECK(wg_aips_insert(&t, AF_UNIX, ip4(1, 2, 3, 4), 8, 9) == -EINVAL);
  CHECK(wg_aips_insert(&t, AF_INET, ip4(1, 2, 3, 4), 8, -1) == -EINVAL);
  CHECK(wg_aips_lookup(&t, AF_UNIX, ip4(1, 2, 3, 4)) == -EINVAL);
  /* Listing is canonical (host bits masked) and in address order. */
  CHECK(wg_aips_insert(&t, AF_INET, ip4(10, 200, 3, 3), 12, 1) == 0);
  CHECK(wg_aips_walk(&t, 1, list_cb, &l) == 0);
  CHECKF(strcmp(l.text, "10.0.0.0/8 10.192.0.0/12") == 0, "%s", l.text);
  CHECK(wg_aips_remove_peer(&t, 1) == 2);
  CHECK(wg_aips_lookup(&t, AF_INET, ip4(10, 9, 9, 9)) == 9);
  CHECK(wg_aips_lookup(&t, AF_INET, ip4(10, 1, 2, 3)) == 3);
  CHECK(t.count == 3);
  st = PASS;
out:
  wg_aips_free(&t);
  return st;
}

static int t_aips_v6(void) {
  int st = FAIL;
  wg_allowedips t;
  listing l = {0};
  wg_aips_init(&t);
  CHECK(wg_aips_insert(&t, AF_INET6, ip6("fd00::"), 8, 1) == 0);
  CHECK(wg_aips_insert(&t, AF_INET6, ip6("fd00:1:2::77"), 48, 2) == 0);
  CHECK(wg_aips_insert(&t, AF_INET6, ip6("fd00:1:2:3::1"), 128, 3) == 0);
  CHECK(wg_aips_insert(&t, AF_INET6, ip6("2001:db8::"), 33, 4) == 0);
  CHECK(wg_aips_insert(&t, AF_INET, ip4(10, 0, 0, 1), 32, 1) == 0);
  CHECK(wg_aips_lookup(&t, AF_INET6, ip6("fdff::1")) == 1);
  CHECK(wg_aips_lookup(&t, AF_INET6, ip6("fd00:1:2:ffff::1")) == 2);
  CHECK(wg_aips_lookup(&t, AF_INET6, ip6("fd00:1:2:3::1")) == 3);
  CHECK(wg_aips_lookup(&t, AF_INET6, ip6("fd00:1:2:3::2")) == 2);
  CHECK(wg_aips_lookup(&t, AF_INET6, ip6("2001:db8:7fff::1")) == 4);
  CHECK(wg_aips_lookup(&t, AF_INET6, ip6("2001:db8:8000::1")) == -ENOENT);
  CHECK(wg_aips_lookup(&t, AF_INET6, ip6("fe80::1")) == -ENOENT);
  CHECK(wg_aips_walk(&t, 1, list_cb, &l) == 0);
  CHECKF(strcmp(l.text, "10.0.0.1/32 fd00::/8") == 0, "%s", l.text);
  CHECK(wg_aips_remove(&t, AF_INET6, ip6("fd00:1:2:3::1"), 128, 3) == 0);
  CHECK(wg_aips_lookup(&t, AF_INET6, ip6("fd00:1:2:3::1")) == 2);
  CHECK(wg_aips_remove(&t, AF_INET6, ip6("fd00:1:2::"), 48, 2) == 0);
  CHECK(wg_aips_lookup(&t, AF_INET6, ip6("fd00:1:2:3::1")) == 1);
  CHECK(t.count == 3);
  st = PASS;
out:
  wg_aips_free(&t);
  return st;
}

/* The trie against a plain list with the same operations: random
 * prefixes (clustered so they overlap), random moves and removals, and
 * lookups of random addresses near them. */
typedef struct model_entry {
  uint8_t key[16];
  uint8_t cidr;
  int32_t peer;
  bool live;
} model_entry;

static bool in_prefix(const uint8_t *key, uint8_t cidr, const uint8_t *a) {
  for (unsigned i = 0; i < cidr; i++) {
    unsigned bit = 7 - (i & 7);
    if (((key[i >> 3] >> bit) & 1) != ((a[i >> 3] >> bit) & 1)) return false;
  }
  return true;
}

static int32_t model_lookup(const model_entry *m, int n, const uint8_t *a) {
  int best = -1;
  for (int i = 0; i < n; i++)
    if (m[i].live && in_prefix(m[i].key, m[i].cidr, a) &&
        (best < 0 || m[i].cidr > m[best].cidr))
      best = i;
  return best < 0 ? -ENOENT : m[best].peer;
}

static void random_addr(uint8_t *a, int bytes) {
  a[0] = (uint8_t)(rnd() % 3 + 10); /* clustered: overlaps are common */
  for (int i = 1; i < bytes; i++)
    a[i] = (uint8_t)(i < 3 ? rnd() % 4 : rnd());
}

static int aips_model_family(int family, int bytes) {
  int st = FAIL;
  enum { N = 400 };
  static model_entry m[N];
  int n = 0;
  wg_allowedips t;
  wg_aips_init(&t);
  for (int step = 0; step < 4000; step++) {
    uint8_t a[16] = {0};
    int op = (int)(rnd() % 10);
    if (op < 5 && n < N) { /* insert (or move an existing one) */
      random_addr(a, bytes);
      uint8_t cidr = (uint8_t)(rnd() % (bytes * 8 + 1));
      int32_t peer = (int32_t)(rnd() % 6);
      CHECK(wg_aips_insert(&t, family, a, cidr, peer) == 0);
      int i;
      for (i = 0; i < n; i++)
        if (m[i].live && m[i].cidr == cidr && in_prefix(m[i].key, cidr, a))
          break;
      if (i == n) n++;
      memcpy(m[i].key, a, 16);
      m[i].cidr = cidr, m[i].peer = peer, m[i].live = true;
    } else if (op < 7 && n) { /* remove one, maybe one already gone */
      model_entry *e = &m[rnd() % n];
      int owner = -1;
      for (int i = 0; i < n; i++)
        if (m[i].live && m[i].cidr == e->cidr &&
            in_prefix(m[i].key, e->cidr, e->key) && m[i].peer == e->peer)
          owner = i;
      int rc = wg_aips_remove(&t, family, e->key, e->cidr, e->peer);
      CHECKF(rc == (owner >= 0 ? 0 : -ENOENT), "rc %d", rc);
      if (owner >= 0) m[owner].live = false;
    } else if (op == 7) { /* remove a whole peer */
      int32_t peer = (int32_t)(rnd() % 6);
      uint32_t want = 0;
      for (int i = 0; i < n; i++)
        if (m[i].live && m[i].peer == peer) m[i].live = false, want++;
      CHECK(wg_aips_remove_peer(&t, peer) == want);
    } else {
      for (int k = 0; k < 20; k++) {
        random_addr(a, bytes);
        int32_t got = wg_aips_lookup(&t, family, a), want = model_lookup(m, n, a);
        CHECKF(got == want, "step %d: got %d want %d", step, got, want);
      }
    }
  }
  uint32_t live = 0;
  for (int i = 0; i < n; i++) live += m[i].live;
  CHECK(t.count == live);
  st = PASS;
out:
  wg_aips_free(&t);
  return st;
}

static int t_aips_model(void) {
  int st = aips_model_family(AF_INET, 4);
  return st == PASS ? aips_model_family(AF_INET6, 16) : st;
}

int main(void) {
  static const test_case tests[] = {
      {"aead: RFC 8439 2.8.2 vector", t_aead_rfc8439_2_8_2},
      {"aead: RFC 8439 A.5 vector, WireGuard nonce", t_aead_rfc8439_a5},
      {"aead: reused context, padding, in place", t_aead_reuse},
      {"aead: which OpenSSL path, and why", t_aead_path_choice},
      {"replay: order, window edge, jumps", t_replay_basic},
      {"replay: counter limits", t_replay_limits},
      {"replay: against its definition", t_replay_model},
      {"allowedips: IPv4 LPM, move, remove, list", t_aips_basic},
      {"allowedips: IPv6", t_aips_v6},
      {"allowedips: against a linear list", t_aips_model},
  };
  return run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
