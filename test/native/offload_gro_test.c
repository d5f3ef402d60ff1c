/*
 * Native tests of coalescing (src/native/tun/gro.c): which packets the
 * kernel's GRO would merge (net/ipv4/tcp_offload.c tcp_gro_receive,
 * udp_offload.c udp_gro_receive_segment, include/net/gro.h
 * inet_gro_flush / ipv6_gro_flush) and which it must leave apart, as a
 * table: three packets of one flow, the middle one changed, and the
 * writes expected (how many packets each). Every output is checked by
 * verify_writes (offload_util.h): order, in-place contract, and that each
 * coalesced write splits back into exactly its packets, with checksums
 * verified by the reference routine.
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

#define NMAX 128
#define T ION_GRO_TCP
#define U ION_GRO_UDP

static struct ion_gro g_gro;

/* A batch: packets with headroom, and copies of what they were. */
struct batch {
  struct ion_pkt p[NMAX];
  uint8_t *orig[NMAX];
  uint32_t n;
};

static void batch_add(struct batch *b, const uint8_t *pkt, size_t len) {
  b->p[b->n].data = alloc_pkt(pkt, len);
  b->p[b->n].len = (uint32_t)len;
  b->orig[b->n] = malloc(len ? len : 1);
  if (!b->orig[b->n]) abort();
  memcpy(b->orig[b->n], pkt, len);
  b->n++;
}

static void batch_free(struct batch *b) {
  for (uint32_t i = 0; i < b->n; i++) {
    free_pkt(b->p[i].data);
    free(b->orig[i]);
  }
  b->n = 0;
}

static void add_spec(struct batch *b, const struct spec *s) {
  uint8_t buf[70000];
  batch_add(b, buf, build_pkt(buf, s, 0));
}

/* Coalesce b, verify, and compare the write sizes with want (0-ended). */
static int run(struct batch *b, unsigned feat, const uint8_t *want) {
  int st = FAIL;
  struct ion_gro_write w[NMAX];
  struct iovec iov[NMAX];
  char why[200] = "";
  int nw = ion_gro_coalesce(&g_gro, b->p, b->n, feat, w, NMAX, iov, NMAX);
  CHECKF(nw >= 0, "coalesce: %d", nw);
  CHECKF(verify_writes(b->p, b->orig, b->n, w, nw, iov, why, sizeof(why)),
         "%s", why);
  int k = 0;
  for (; want[k]; k++)
    CHECKF(k < nw && w[k].npkts == want[k], "write %d: %u packets, want %u",
           k, k < nw ? w[k].npkts : 0, want[k]);
  CHECKF(nw == k, "%d writes, want %d", nw, k);
  st = PASS;
out:
  return st;
}

/* ---- the table ---- */

/* Three contiguous 1000-byte segments of one flow. */
static void base3(struct spec *s, int v6, uint8_t proto) {
  for (int i = 0; i < 3; i++) {
    s[i] = spec_default(v6, proto);
    s[i].plen = 1000;
    s[i].off = (uint32_t)i * 1000;
    s[i].seq += (uint32_t)i * 1000;
    s[i].id = (uint16_t)(s[i].id + i);
  }
}

static void m_none(struct spec *s) { (void)s; }
static void m_sport(struct spec *s) { s[1].sport++; }
static void m_dport(struct spec *s) { s[1].dport++; }
static void m_src(struct spec *s) { s[1].src_last = 9; }
static void m_gap(struct spec *s) { s[1].seq++; }
static void m_opts(struct spec *s) { s[1].opts[11] ^= 1; }
static void m_syn(struct spec *s) { s[1].flags |= 0x02; }
static void m_rst(struct spec *s) { s[1].flags |= 0x04; }
static void m_urg(struct spec *s) { s[1].flags |= 0x20; }
static void m_ece(struct spec *s) { s[1].flags |= 0x40; }
static void m_psh(struct spec *s) { s[1].flags |= 0x08; }
static void m_fin(struct spec *s) { s[1].flags |= 0x01; }
static void m_cwr(struct spec *s) { s[1].flags |= 0x80; }
static void m_cwr0(struct spec *s) { s[0].flags |= 0x80; }
static void m_ack(struct spec *s) { s[1].ack++; }
static void m_win(struct spec *s) { s[1].win++; }
static void m_ttl(struct spec *s) { s[1].ttl--; }
static void m_tos(struct spec *s) { s[1].tos = 0x10; }
static void m_df(struct spec *s) { s[1].df = 0; }
static void m_flow(struct spec *s) { s[1].flow ^= 1; }
static void m_idjump(struct spec *s) { s[1].id += 7; }
static void m_idfixed(struct spec *s) { s[1].id = s[2].id = s[0].id; }
static void m_idfixed_nodf(struct spec *s) {
  m_idfixed(s);
  s[0].df = s[1].df = s[2].df = 0;
}
static void m_nodf(struct spec *s) { s[0].df = s[1].df = s[2].df = 0; }
static void m_longer(struct spec *s) {
  s[1].plen = 1200;
  s[2].seq = s[1].seq + 1200;
  s[2].off = s[1].off + 1200;
}
static void m_shorter(struct spec *s) {
  s[1].plen = 500;
  s[2].seq = s[1].seq + 500;
  s[2].off = s[1].off + 500;
}
static void m_shorter_last(struct spec *s) { s[2].plen = 1; }
static void m_pure_ack(struct spec *s) {
  s[1].plen = 0;
  s[2].seq = s[1].seq;
}
/* A retransmission from further on, with PSH: it can neither join nor
 * lead, and the packet after it must not join the group before it. */
static void m_ooo_psh(struct spec *s) {
  s[1].seq += 5000;
  s[1].flags |= 0x08;
  s[2].seq = s[1].seq - 5000;
}

/* Byte changes to packet 1 after it was built (len may grow by 4). */
static void p_none(uint8_t *p, size_t *len) { (void)p, (void)len; }
static void fix_ip4(uint8_t *p) {
  p[10] = p[11] = 0;
  wr16(p + 10, (uint16_t)~ref_fold(ref_words(p, (size_t)(p[0] & 15) * 4, 0)));
}
static void p_ip_opts(uint8_t *p, size_t *len) { /* 4 bytes: NOP x3, EOL */
  memmove(p + 24, p + 20, *len - 20);
  p[20] = p[21] = p[22] = 1;
  p[23] = 0;
  *len += 4;
  p[0] = 0x46;
  wr16(p + 2, (uint32_t)*len);
  fix_ip4(p);
}
static void p_mf(uint8_t *p, size_t *len) {
  (void)len;
  p[6] |= 0x20;
  fix_ip4(p);
}
static void p_bad_l4(uint8_t *p, size_t *len) { p[*len - 1] ^= 0x40; }
static void p_bad_ip(uint8_t *p, size_t *len) {
  (void)len;
  p[11] ^= 1;
}
static void p_udp_zero(uint8_t *p, size_t *len) {
  (void)len;
  p[26] = p[27] = 0; /* no checksum (IPv4) */
}
static void p_hbh(uint8_t *p, size_t *len) { /* IPv6 hop-by-hop header */
  memmove(p + 48, p + 40, *len - 40);
  const uint8_t hbh[8] = {p[6], 0, 1, 4, 0, 0, 0, 0};
  memcpy(p + 40, hbh, 8);
  p[6] = 0;
  *len += 8;
  wr16(p + 4, (uint32_t)(*len - 40));
}

struct gcase {
  const char *name;
  int v6;
  uint8_t proto;
  unsigned feat;
  void (*mut)(struct spec *);
  void (*post)(uint8_t *, size_t *);
  uint8_t want[4];
};

static const struct gcase cases[] = {
    {"TCP4 baseline", 0, 6, T, m_none, p_none, {3}},
    {"TCP6 baseline", 1, 6, T | U, m_none, p_none, {3}},
    {"UDP4 baseline", 0, 17, U, m_none, p_none, {3}},
    {"UDP6 baseline", 1, 17, T | U, m_none, p_none, {3}},
    {"TCP off", 0, 6, U, m_none, p_none, {1, 1, 1}},
    {"UDP off", 1, 17, T, m_none, p_none, {1, 1, 1}},
    {"other source port", 0, 6, T, m_sport, p_none, {1, 1, 1}},
    {"other source address", 1, 6, T, m_src, p_none, {1, 1, 1}},
    {"UDP other port between", 1, 17, U, m_dport, p_none, {2, 1}},
    {"UDP4 other port between (ids)", 0, 17, U, m_dport, p_none, {1, 1, 1}},
    {"gap in seq", 0, 6, T, m_gap, p_none, {1, 1, 1}},
    {"other options", 1, 6, T, m_opts, p_none, {1, 1, 1}},
    {"SYN", 0, 6, T, m_syn, p_none, {1, 1, 1}},
    {"RST", 0, 6, T, m_rst, p_none, {1, 1, 1}},
    {"URG", 0, 6, T, m_urg, p_none, {1, 1, 1}},
    {"ECE differs", 0, 6, T, m_ece, p_none, {1, 1, 1}},
    {"PSH in the middle ends the group", 0, 6, T, m_psh, p_none, {2, 1}},
    {"FIN in the middle ends the group", 1, 6, T, m_fin, p_none, {2, 1}},
    {"CWR in the middle starts a group", 0, 6, T, m_cwr, p_none, {1, 2}},
    {"CWR on the first (ECN)", 1, 6, T, m_cwr0, p_none, {3}},
    {"other ack", 0, 6, T, m_ack, p_none, {1, 1, 1}},
    {"other window", 0, 6, T, m_win, p_none, {1, 1, 1}},
    {"other TTL", 0, 6, T, m_ttl, p_none, {1, 1, 1}},
    {"other TOS", 0, 17, U, m_tos, p_none, {1, 1, 1}},
    {"other DF", 0, 6, T, m_df, p_none, {1, 1, 1}},
    {"other hop limit", 1, 17, U, m_ttl, p_none, {1, 1, 1}},
    {"other traffic class", 1, 6, T, m_tos, p_none, {1, 1, 1}},
    {"other flow label", 1, 6, T, m_flow, p_none, {1, 1, 1}},
    {"IPv4 id jumps", 0, 6, T, m_idjump, p_none, {1, 1, 1}},
    {"IPv4 ids fixed, DF", 0, 6, T, m_idfixed, p_none, {3}},
    {"IPv4 ids fixed, no DF", 0, 17, U, m_idfixed_nodf, p_none, {1, 1, 1}},
    {"IPv4 ids incrementing, no DF", 0, 6, T, m_nodf, p_none, {3}},
    {"longer in the middle", 0, 6, T, m_longer, p_none, {1, 2}},
    {"shorter in the middle", 0, 6, T, m_shorter, p_none, {2, 1}},
    {"UDP longer in the middle", 1, 17, U, m_longer, p_none, {1, 2}},
    {"UDP shorter in the middle", 0, 17, U, m_shorter, p_none, {2, 1}},
    {"last one byte", 0, 6, T, m_shorter_last, p_none, {3}},
    {"pure ACK in the middle", 0, 6, T, m_pure_ack, p_none, {1, 1, 1}},
    {"pure ACK in the middle (IPv6)", 1, 6, T, m_pure_ack, p_none, {1, 1, 1}},
    {"out-of-order PSH between (IPv6)", 1, 6, T, m_ooo_psh, p_none, {1, 1, 1}},
    {"IPv4 options", 0, 6, T, m_none, p_ip_opts, {1, 1, 1}},
    {"IPv4 fragment (MF)", 0, 17, U, m_none, p_mf, {1, 1, 1}},
    {"bad TCP checksum", 0, 6, T, m_none, p_bad_l4, {1, 1, 1}},
    {"bad UDP checksum", 1, 17, U, m_none, p_bad_l4, {1, 1, 1}},
    {"bad IPv4 header checksum", 0, 6, T, m_none, p_bad_ip, {1, 1, 1}},
    {"UDP without checksum", 0, 17, U, m_none, p_udp_zero, {1, 1, 1}},
    {"IPv6 hop-by-hop header", 1, 6, T, m_none, p_hbh, {1, 1, 1}},
};

static int t_table(void) {
  int st = FAIL;
  struct batch b = {0};
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    const struct gcase *k = &cases[c];
    struct spec s[3];
    uint8_t buf[2100];
    base3(s, k->v6, k->proto);
    k->mut(s);
    for (int i = 0; i < 3; i++) {
      size_t len = build_pkt(buf, &s[i], 0);
      if (i == 1) k->post(buf, &len);
      batch_add(&b, buf, len);
    }
    if (run(&b, k->feat, k->want) != PASS) {
      char why[200];
      memcpy(why, g_why, sizeof(why) - 1);
      why[sizeof(why) - 1] = 0;
      snprintf(g_why, sizeof(g_why), "%s: %s", k->name, why);
      goto out;
    }
    batch_free(&b);
  }
  st = PASS;
out:
  batch_free(&b);
  return st;
}

/* ION_GRO_TRUSTED (WireGuard's decrypted packets): a packet whose TCP
 * checksum does not match still joins its flow, and nothing else changes
 * (flow rules hold). Without it the same batch stays three writes. */
static int t_trusted(void) {
  int st = FAIL;
  struct batch b = {0};
  struct ion_gro_write w[NMAX];
  struct iovec iov[NMAX];
  struct spec s[3];
  uint8_t buf[2100];
  base3(s, 0, 6);
  for (int i = 0; i < 3; i++) {
    size_t len = build_pkt(buf, &s[i], 0);
    if (i == 1) p_bad_l4(buf, &len);
    batch_add(&b, buf, len);
  }
  int nw = ion_gro_coalesce(&g_gro, b.p, b.n, ION_GRO_TCP, w, NMAX, iov, NMAX);
  CHECKF(nw == 3, "checked: %d writes", nw);
  batch_free(&b);
  base3(s, 0, 6);
  for (int i = 0; i < 3; i++) {
    size_t len = build_pkt(buf, &s[i], 0);
    if (i == 1) p_bad_l4(buf, &len);
    batch_add(&b, buf, len);
  }
  nw = ion_gro_coalesce(&g_gro, b.p, b.n, ION_GRO_TCP | ION_GRO_TRUSTED, w,
                        NMAX, iov, NMAX);
  CHECKF(nw == 1 && w[0].npkts == 3, "trusted: %d writes", nw);
  batch_free(&b);
  s[2].seq += 7; /* a gap: trust does not bend the flow rules */
  for (int i = 0; i < 3; i++) batch_add(&b, buf, build_pkt(buf, &s[i], 0));
  nw = ion_gro_coalesce(&g_gro, b.p, b.n, ION_GRO_TCP | ION_GRO_TRUSTED, w,
                        NMAX, iov, NMAX);
  CHECKF(nw == 2, "trusted, gap: %d writes", nw);
  st = PASS;
out:
  batch_free(&b);
  return st;
}

/* Two flows interleaved, ICMP and a fragment of a third flow between:
 * each flow becomes one write, at the place of its first packet. */
static int t_interleaved(void) {
  int st = FAIL;
  struct batch b = {0};
  uint8_t icmp[64] = {0x45, 0, 0, 64, 0, 1, 0x40, 0, 64, 1, 0, 0,
                      10, 77, 0, 1, 10, 77, 0, 2, 8, 0};
  fix_ip4(icmp);
  struct spec a[4], u[4];
  for (int i = 0; i < 4; i++) {
    a[i] = spec_default(0, 6);
    a[i].plen = 1400;
    a[i].off = (uint32_t)i * 1400;
    a[i].seq += (uint32_t)i * 1400;
    a[i].id = (uint16_t)(a[i].id + i);
    u[i] = spec_default(1, 17);
    u[i].plen = i == 3 ? 10 : 1300;
    u[i].off = (uint32_t)i * 1300;
    u[i].seed = 9;
  }
  for (int i = 0; i < 4; i++) {
    add_spec(&b, &a[i]);
    if (i == 1) batch_add(&b, icmp, sizeof(icmp));
    add_spec(&b, &u[i]);
  }
  static const uint8_t want[] = {4, 4, 1, 0}; /* TCP, UDP, ICMP */
  if (run(&b, T | U, want) != PASS) goto out;
  batch_free(&b);
  /* A non-first fragment between the same addresses ends the TCP group:
   * it could hold any flow's data. */
  uint8_t frag[60];
  memcpy(frag, icmp, 20);
  frag[9] = 6;
  frag[6] = 0x00, frag[7] = 0x10;
  wr16(frag + 2, sizeof(frag));
  fix_ip4(frag);
  for (int i = 0; i < 4; i++) {
    add_spec(&b, &a[i]);
    if (i == 1) batch_add(&b, frag, sizeof(frag));
  }
  static const uint8_t want2[] = {2, 1, 2, 0};
  if (run(&b, T, want2) != PASS) goto out;
  st = PASS;
out:
  batch_free(&b);
  return st;
}

/* A group ends at 64 KiB (TCP) and 64 segments (UDP). */
static int t_limits(void) {
  int st = FAIL;
  struct batch b = {0};
  for (int i = 0; i < 50; i++) {
    struct spec s = spec_default(0, 6);
    s.plen = 1448;
    s.off = (uint32_t)i * 1448;
    s.seq += s.off;
    s.id = (uint16_t)(s.id + i);
    add_spec(&b, &s);
  }
  /* 20 + 32 + 45 * 1448 = 65212 fits, 46 would not */
  static const uint8_t want_tcp[] = {45, 5, 0};
  if (run(&b, T, want_tcp) != PASS) goto out;
  batch_free(&b);
  for (int i = 0; i < 70; i++) {
    struct spec s = spec_default(1, 17);
    s.plen = 500;
    s.off = (uint32_t)i * 500;
    add_spec(&b, &s);
  }
  static const uint8_t want_udp[] = {64, 6, 0};
  if (run(&b, U, want_udp) != PASS) goto out;
  st = PASS;
out:
  batch_free(&b);
  return st;
}

/* Garbage and short packets go out as they are. */
static int t_garbage(void) {
  int st = FAIL;
  struct batch b = {0};
  uint8_t junk[41];
  for (size_t i = 0; i < sizeof(junk); i++) junk[i] = (uint8_t)(i * 37 + 0x41);
  batch_add(&b, junk, 0);
  batch_add(&b, junk, 1);
  batch_add(&b, junk, 19);
  junk[0] = 0x60; /* IPv6, too short */
  batch_add(&b, junk, 39);
  junk[0] = 0x45;
  batch_add(&b, junk, sizeof(junk));
  static const uint8_t want[] = {1, 1, 1, 1, 1, 0};
  if (run(&b, T | U, want) != PASS) goto out;
  st = PASS;
out:
  batch_free(&b);
  return st;
}

static int t_args(void) {
  int st = FAIL;
  struct batch b = {0};
  struct ion_gro_write w[4];
  struct iovec iov[4];
  struct spec s = spec_default(0, 6);
  s.plen = 10;
  add_spec(&b, &s);
  add_spec(&b, &s);
  CHECK(ion_gro_coalesce(&g_gro, b.p, 0, T, w, 0, iov, 0) == 0);
  CHECK(ion_gro_coalesce(NULL, b.p, 2, T, w, 4, iov, 4) == -EINVAL);
  CHECK(ion_gro_coalesce(&g_gro, NULL, 2, T, w, 4, iov, 4) == -EINVAL);
  CHECK(ion_gro_coalesce(&g_gro, b.p, 2, 8, w, 4, iov, 4) == -EINVAL);
  CHECK(ion_gro_coalesce(&g_gro, b.p, ION_GRO_MAX_BATCH + 1, T, w, 4, iov,
                         4) == -EINVAL);
  CHECK(ion_gro_coalesce(&g_gro, b.p, 2, T, w, 1, iov, 4) == -ENOSPC);
  CHECK(ion_gro_coalesce(&g_gro, b.p, 2, T, w, 4, iov, 1) == -ENOSPC);
  uint8_t *keep = b.p[1].data;
  b.p[1].data = NULL;
  CHECK(ion_gro_coalesce(&g_gro, b.p, 2, T, w, 4, iov, 4) == -EINVAL);
  b.p[1].data = keep;
  CHECK(ion_gro_coalesce(&g_gro, b.p, 2, T, w, 4, iov, 4) == 2);
  uint8_t small[8];
  CHECK(ion_iov_gather(iov, 1, small, sizeof(small)) == -ENOSPC);
  st = PASS;
out:
  batch_free(&b);
  return st;
}

static const test_case tests[] = {
    {"coalesce only what the kernel's GRO would (table)", t_table},
    {"interleaved flows keep their order; ICMP, fragments", t_interleaved},
    {"trusted checksums (WireGuard): not checked, flow rules kept", t_trusted},
    {"64 KiB (TCP) and 64-segment (UDP) limits", t_limits},
    {"short and garbage packets pass as they are", t_garbage},
    {"argument checks", t_args},
};

int main(void) { return run_tests(tests, sizeof(tests) / sizeof(tests[0])); }
