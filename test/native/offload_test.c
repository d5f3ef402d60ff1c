/*
 * Native tests of the TUN offload engine (src/native/tun/split.c, gro.c):
 * crafted TSO/USO super-segments split into packets whose every field and
 * checksum is checked with the reference in offload_util.h (not the code
 * under test); split-then-coalesce gives back the original super-segment;
 * malformed input is refused. Buffers are allocated to their exact size so
 * that ASan sees any access out of bounds. What must not be coalesced is
 * in offload_gro_test.c, the random-input loop in offload_fuzz_test.c, the
 * real kernel in offload_tun_test.c.
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

#define MAXSEG 80

static uint8_t g_buf[ION_VNET_HDR_LEN + 70000];

/* Output slots with headroom, so they can go straight to coalesce. */
struct slots {
  struct ion_pkt p[MAXSEG];
  uint32_t n;
};

static void slots_alloc(struct slots *s, uint32_t n, uint32_t cap) {
  memset(s, 0, sizeof(*s));
  s->n = n;
  for (uint32_t i = 0; i < n; i++) {
    s->p[i].data = alloc_pkt(NULL, cap);
    s->p[i].cap = cap;
  }
}

static void slots_free(struct slots *s) {
  for (uint32_t i = 0; i < s->n; i++) free_pkt(s->p[i].data);
  s->n = 0;
}

/* Check segment i of a split of s (gso_size mss, segs segments). */
static int check_seg(const struct spec *s, uint16_t mss, uint32_t i,
                     uint32_t segs, const struct ion_pkt *o) {
  int st = FAIL;
  size_t l3 = spec_l3(s), hdr = spec_hdr(s);
  uint32_t off = i * mss, n = s->plen - off < mss ? s->plen - off : mss;
  if (s->plen == 0) n = 0;
  const uint8_t *p = o->data, *l4 = p + l3;
  CHECKF(o->len == hdr + n, "seg %u len %u want %zu", i, o->len, hdr + n);
  CHECKF(ref_packet_ok(p, o->len), "seg %u fails the reference check", i);
  if (!s->v6) {
    CHECKF(rd16(p + 4) == (uint16_t)(s->id + i), "seg %u id %u", i, rd16(p + 4));
    CHECK(p[8] == s->ttl && p[1] == s->tos && (p[6] & 0x40) == (s->df ? 0x40 : 0));
  } else {
    CHECK((rd32(p) & 0xfffff) == s->flow && p[7] == s->ttl);
  }
  if (s->proto == 6) {
    uint8_t want = s->flags;
    if (i + 1 < segs) want &= (uint8_t)~(0x01 | 0x08); /* FIN, PSH */
    if (i > 0) want &= (uint8_t)~0x80;                 /* CWR */
    CHECKF(rd32(l4 + 4) == s->seq + off, "seg %u seq %u", i, rd32(l4 + 4));
    CHECKF(l4[13] == want, "seg %u flags %#x want %#x", i, l4[13], want);
    CHECK(rd32(l4 + 8) == s->ack && rd16(l4 + 14) == s->win);
    CHECK(memcmp(l4 + 20, s->opts, s->optlen) == 0);
  } else {
    CHECK(rd16(l4 + 4) == 8 + n);
  }
  for (uint32_t k = 0; k < n; k++)
    CHECKF(p[hdr + k] == stream_byte(s->seed, s->off + off + k),
           "seg %u payload byte %u", i, k);
  st = PASS;
out:
  return st;
}

/* Build s as a super-segment of gso_size mss, split it, check it all. */
static int split_and_check(const struct spec *s, uint16_t mss) {
  int st = FAIL;
  struct slots sl;
  uint32_t want = s->plen <= mss ? 1 : (s->plen + mss - 1) / mss;
  size_t len = build_gso(g_buf, s, mss);
  uint8_t *in = alloc_pkt(g_buf, len);
  slots_alloc(&sl, want, (uint32_t)spec_hdr(s) + mss);
  int rc = ion_vnet_split(in, len, sl.p, sl.n);
  CHECKF(rc == (int)want, "split gave %d, want %u", rc, want);
  CHECK(memcmp(in, g_buf, len) == 0); /* input untouched */
  for (uint32_t i = 0; i < want; i++)
    if (check_seg(s, mss, i, want, &sl.p[i]) != PASS) goto out;
  st = PASS;
out:
  slots_free(&sl);
  free_pkt(in);
  return st;
}

static int t_split_tcp4(void) {
  struct spec s = spec_default(0, 6);
  s.plen = 10000;
  s.flags = 0x10 | 0x08 | 0x01; /* ACK PSH FIN: last segment only */
  s.id = 0xfffe;                 /* ids wrap */
  return split_and_check(&s, 1448);
}

static int t_split_tcp6_ecn(void) {
  struct spec s = spec_default(1, 6);
  s.plen = 7 * 1428 + 3;
  s.flags = 0x80 | 0x40 | 0x10 | 0x08; /* CWR on the first only */
  return split_and_check(&s, 1428);
}

static int t_split_odd_urg(void) {
  struct spec s = spec_default(0, 6);
  s.plen = 4097;
  s.optlen = 0;
  s.flags = 0x10 | 0x20; /* URG is copied as is, like tcp_gso_segment */
  s.tos = 0x2e;
  s.df = 0;
  return split_and_check(&s, 999);
}

static int t_split_single(void) {
  int st = FAIL;
  struct spec s = spec_default(0, 6);
  s.plen = 1448; /* exactly one segment */
  CHECK(split_and_check(&s, 1448) == PASS);
  s.plen = 100; /* gso_size larger than the payload */
  s.flags = 0x18;
  CHECK(split_and_check(&s, 1448) == PASS);
  s.plen = 0; /* headers only */
  CHECK(split_and_check(&s, 1448) == PASS);
  s = spec_default(1, 17);
  s.plen = 1; /* one byte */
  CHECK(split_and_check(&s, 1200) == PASS);
  st = PASS;
out:
  return st;
}

static int t_split_udp(void) {
  int st = FAIL;
  struct spec s = spec_default(0, 17);
  s.plen = 9 * 1200 + 17; /* the last one shorter */
  CHECK(split_and_check(&s, 1200) == PASS);
  s = spec_default(1, 17);
  s.plen = 64 * 1000;
  CHECK(split_and_check(&s, 1000) == PASS);
  st = PASS;
out:
  return st;
}

/* Non-GSO: NEEDS_CSUM is completed, anything else passes untouched. */
static int t_non_gso(void) {
  int st = FAIL;
  struct slots sl;
  slots_alloc(&sl, 1, 2000);
  uint8_t *in = NULL;
  struct spec s = spec_default(1, 6);
  s.plen = 777;
  size_t plen = build_pkt(g_buf + ION_VNET_HDR_LEN, &s, 1);
  struct ion_vnet_hdr h = {.flags = ION_VNET_F_NEEDS_CSUM,
                           .csum_start = 40, .csum_offset = 16};
  memcpy(g_buf, &h, sizeof(h));
  in = alloc_pkt(g_buf, ION_VNET_HDR_LEN + plen);
  CHECK(ion_vnet_split(in, ION_VNET_HDR_LEN + plen, sl.p, 1) == 1);
  CHECK(sl.p[0].len == plen && ref_packet_ok(sl.p[0].data, plen));
  CHECK(ion_vnet_complete(in, ION_VNET_HDR_LEN + plen) == 0); /* in place */
  CHECK(memcmp(in + ION_VNET_HDR_LEN, sl.p[0].data, plen) == 0);
  /* No NEEDS_CSUM (DATA_VALID or nothing): bytes pass as they are, even a
   * wrong checksum. */
  g_buf[ION_VNET_HDR_LEN + 40 + 16] ^= 0x5a;
  for (int f = 0; f <= ION_VNET_F_DATA_VALID; f += ION_VNET_F_DATA_VALID) {
    g_buf[0] = (uint8_t)f;
    free_pkt(in);
    in = alloc_pkt(g_buf, ION_VNET_HDR_LEN + plen);
    CHECK(ion_vnet_split(in, ION_VNET_HDR_LEN + plen, sl.p, 1) == 1);
    CHECK(memcmp(sl.p[0].data, g_buf + ION_VNET_HDR_LEN, plen) == 0);
    CHECK(ion_vnet_complete(in, ION_VNET_HDR_LEN + plen) == 0);
    CHECK(memcmp(in, g_buf, ION_VNET_HDR_LEN + plen) == 0);
  }
  /* A GSO packet is left for split. */
  size_t len = build_gso(g_buf, &s, 100);
  free_pkt(in);
  in = alloc_pkt(g_buf, len);
  CHECK(ion_vnet_complete(in, len) == 1 && memcmp(in, g_buf, len) == 0);
  st = PASS;
out:
  free_pkt(in);
  slots_free(&sl);
  return st;
}

/* One malformed variant of a valid TCP/IPv4 super-segment of 3 segments. */
struct bad {
  const char *what;
  size_t at; /* byte of the TUN read to set (header + packet) */
  uint8_t val;
  int cut;   /* or: drop this many bytes from the end */
};

static int t_malformed(void) {
  int st = FAIL;
  enum { V = ION_VNET_HDR_LEN, T = ION_VNET_HDR_LEN + 20 };
  static const struct bad bads[] = {
      {"unknown gso type", 1, 2, 0},     {"UFO", 1, 3, 0},
      {"TCPV6 on IPv4", 1, 4, 0},        {"ECN on UDP_L4", 1, 0x85, 0},
      {"csum_start off", 6, 21, 0},      {"csum_offset off", 8, 17, 0},
      {"IP version 5", V, 0x55, 0},      {"IHL 4", V, 0x44, 0},
      {"IHL past the end", V, 0x4f, 0},  {"total length", V + 3, 1, 0},
      {"MF set", V + 6, 0x60, 0},        {"fragment offset", V + 7, 1, 0},
      {"protocol UDP", V + 9, 17, 0},    {"doff 4", T + 12, 0x40, 0},
      {"truncated", 0, 0, 1},
  };
  struct slots sl;
  slots_alloc(&sl, 4, 2000);
  struct spec s = spec_default(0, 6);
  s.plen = 3000;
  s.optlen = 0;
  size_t len = build_gso(g_buf, &s, 1000);
  uint8_t *in = NULL;
  for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
    const struct bad *b = &bads[i];
    free_pkt(in);
    in = alloc_pkt(g_buf, len - (size_t)b->cut);
    if (!b->cut) in[b->at] = b->val;
    int rc = ion_vnet_split(in, len - (size_t)b->cut, sl.p, sl.n);
    CHECKF(rc == -EINVAL, "%s: split gave %d", b->what, rc);
  }
  free_pkt(in);
  in = alloc_pkt(g_buf, len);
  in[4] = in[5] = 0; /* gso_size 0 with a GSO type */
  CHECK(ion_vnet_split(in, len, sl.p, sl.n) == -EINVAL);
  /* A TCP header longer than the packet. */
  s.plen = 30;
  size_t short_len = build_gso(g_buf, &s, 10);
  free_pkt(in);
  in = alloc_pkt(g_buf, short_len);
  in[T + 12] = 0xf0;
  CHECK(ion_vnet_split(in, short_len, sl.p, sl.n) == -EINVAL);
  s.plen = 3000;
  len = build_gso(g_buf, &s, 1000);
  /* Lengths: nothing, a header alone, a non-GSO checksum past the end. */
  CHECK(ion_vnet_split(g_buf, 0, sl.p, 4) == -EINVAL);
  CHECK(ion_vnet_split(g_buf, ION_VNET_HDR_LEN, sl.p, 4) == -EINVAL);
  CHECK(ion_vnet_split(NULL, 100, sl.p, 4) == -EINVAL);
  struct ion_vnet_hdr h = {.flags = ION_VNET_F_NEEDS_CSUM, .csum_start = 40,
                           .csum_offset = 16};
  uint8_t small[ION_VNET_HDR_LEN + 57];
  memset(small, 0, sizeof(small));
  memcpy(small, &h, sizeof(h));
  CHECK(ion_vnet_split(small, sizeof(small), sl.p, 4) == -EINVAL);
  CHECK(ion_vnet_complete(small, sizeof(small)) == -EINVAL);
  h.gso_type = ION_VNET_GSO_ECN; /* ECN without GSO */
  h.flags = 0;
  memcpy(small, &h, sizeof(h));
  CHECK(ion_vnet_split(small, sizeof(small), sl.p, 4) == -EINVAL);
  /* Output too small: fewer slots, or a slot shorter than its packet. */
  CHECK(ion_vnet_split(g_buf, len, sl.p, 2) == -ENOSPC);
  CHECK(ion_vnet_split(g_buf, len, NULL, 0) == -ENOSPC);
  sl.p[2].cap = 20 + 20 + 999;
  CHECK(ion_vnet_split(g_buf, len, sl.p, 3) == -ENOSPC);
  st = PASS;
out:
  free_pkt(in);
  slots_free(&sl);
  return st;
}

/* IPv6 specifics: payload length, extension headers. */
static int t_malformed_v6(void) {
  int st = FAIL;
  struct slots sl;
  slots_alloc(&sl, 4, 2000);
  struct spec s = spec_default(1, 17);
  s.plen = 2500;
  size_t len = build_gso(g_buf, &s, 1000);
  uint8_t *in = alloc_pkt(g_buf, len);
  in[ION_VNET_HDR_LEN + 5] ^= 1; /* payload length */
  CHECK(ion_vnet_split(in, len, sl.p, 4) == -EINVAL);
  in[ION_VNET_HDR_LEN + 5] ^= 1;
  in[ION_VNET_HDR_LEN + 6] = 43; /* a routing header */
  CHECK(ion_vnet_split(in, len, sl.p, 4) == -EINVAL);
  in[1] = ION_VNET_GSO_TCPV4; /* TCPV4 on IPv6 */
  in[ION_VNET_HDR_LEN + 6] = 6;
  CHECK(ion_vnet_split(in, len, sl.p, 4) == -EINVAL);
  /* A destination options header (8 bytes) before UDP is walked. */
  struct ion_vnet_hdr h;
  memcpy(&h, g_buf, sizeof(h));
  size_t plen = len - ION_VNET_HDR_LEN;
  free_pkt(in);
  in = alloc_pkt(NULL, len + 8);
  memcpy(in, g_buf, ION_VNET_HDR_LEN + 40);
  uint8_t *ip = in + ION_VNET_HDR_LEN;
  const uint8_t dst_opts[8] = {17, 0, 1, 4, 0, 0, 0, 0}; /* next: UDP, PadN */
  memcpy(ip + 40, dst_opts, 8);
  memcpy(ip + 48, g_buf + ION_VNET_HDR_LEN + 40, plen - 40);
  ip[6] = 60;
  wr16(ip + 4, (uint32_t)(plen - 40 + 8));
  h.csum_start = 48;
  memcpy(in, &h, sizeof(h));
  int rc = ion_vnet_split(in, len + 8, sl.p, 4);
  CHECKF(rc == 3, "split gave %d", rc);
  for (int i = 0; i < 3; i++) {
    const uint8_t *o = sl.p[i].data;
    CHECK(rd16(o + 4) + 40u == sl.p[i].len && o[6] == 60);
    CHECK(ref_l4_ok(o, sl.p[i].len, 48, 17));
    CHECK(rd16(o + 48 + 4) == sl.p[i].len - 48);
  }
  st = PASS;
out:
  free_pkt(in);
  slots_free(&sl);
  return st;
}

/* ---- coalescing ---- */

static struct ion_gro g_gro;

/* Split a super-segment, coalesce the pieces, expect the original back. */
static int roundtrip(const struct spec *s, uint16_t mss, unsigned feat) {
  int st = FAIL;
  struct slots sl;
  struct ion_gro_write w[MAXSEG];
  struct iovec iov[MAXSEG];
  static uint8_t flat[ION_VNET_HDR_LEN + 70000];
  size_t len = build_gso(g_buf, s, mss);
  uint32_t segs = (s->plen + mss - 1) / mss;
  slots_alloc(&sl, segs, (uint32_t)spec_hdr(s) + mss);
  CHECK(ion_vnet_split(g_buf, len, sl.p, sl.n) == (int)segs);
  int n = ion_gro_coalesce(&g_gro, sl.p, segs, feat, w, MAXSEG, iov, MAXSEG);
  CHECKF(n == 1, "%d writes", n);
  CHECK(w[0].npkts == segs && w[0].niov == segs && w[0].len == len);
  CHECK(ion_iov_gather(iov, w[0].niov, flat, sizeof(flat)) == (long)len);
  CHECKF(memcmp(flat, g_buf, len) == 0, "first differing byte %zu",
         first_diff(flat, g_buf, len));
  st = PASS;
out:
  slots_free(&sl);
  return st;
}

static int t_roundtrip(void) {
  int st = FAIL;
  const unsigned both = ION_GRO_TCP | ION_GRO_UDP;
  struct spec s = spec_default(0, 6);
  s.plen = 20 * 1448 + 100;
  s.flags = 0x10 | 0x08;
  CHECK(roundtrip(&s, 1448, ION_GRO_TCP) == PASS);
  s = spec_default(1, 6);
  s.plen = 40 * 1428;
  s.flags = 0x80 | 0x10 | 0x01; /* CWR first (ECN type), FIN last */
  CHECK(roundtrip(&s, 1428, both) == PASS);
  s = spec_default(0, 17);
  s.plen = 30 * 1000 + 1;
  CHECK(roundtrip(&s, 1000, ION_GRO_UDP) == PASS);
  s = spec_default(1, 17);
  s.plen = 64 * 900; /* the UDP segment limit exactly */
  CHECK(roundtrip(&s, 900, both) == PASS);
  s = spec_default(0, 6);
  s.plen = 65535 - 20 - 32; /* the largest IPv4 packet */
  CHECK(roundtrip(&s, 1448, both) == PASS);
  st = PASS;
out:
  return st;
}

static const test_case tests[] = {
    {"split TCP/IPv4 with timestamps, PSH/FIN, id wrap", t_split_tcp4},
    {"split TCP/IPv6 with ECN (CWR first only)", t_split_tcp6_ecn},
    {"split odd sizes, URG, no options", t_split_odd_urg},
    {"split into exactly one segment", t_split_single},
    {"split UDP (USO) IPv4 and IPv6", t_split_udp},
    {"non-GSO: partial checksum completed, others untouched", t_non_gso},
    {"malformed super-segments are refused", t_malformed},
    {"IPv6 payload length and extension headers", t_malformed_v6},
    {"split then coalesce gives the super-segment back", t_roundtrip},
};

int main(void) { return run_tests(tests, sizeof(tests) / sizeof(tests[0])); }
