/*
 * Helpers of the offload tests (offload_test.c, offload_fuzz_test.c):
 * packet builders and a reference checksum that shares no code with
 * src/native/tun/csum.h. The reference is deliberately the plainest form
 * of RFC 1071: big-endian 16-bit words summed in 32 bits, folded at the
 * end, with the pseudo-header laid out byte by byte as RFC 793 / RFC 8200
 * section 8.1 draw it.
 */
#ifndef ION_OFFLOAD_UTIL_H
#define ION_OFFLOAD_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tun/offload.h"

/* ---- the reference checksum ---- */

static inline uint32_t ref_words(const uint8_t *p, size_t n, uint32_t s) {
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) s += (uint32_t)p[n - 1] << 8;
  return s;
}

static inline uint16_t ref_fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}

/* Sum of an IP packet's pseudo-header for its L4 part (l4len bytes). */
static inline uint32_t ref_pseudo(const uint8_t *ip, uint8_t proto,
                                  uint32_t l4len) {
  uint8_t ph[40];
  size_t n;
  if ((ip[0] >> 4) == 4) { /* src, dst, zero, protocol, TCP/UDP length */
    memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = proto;
    ph[10] = (uint8_t)(l4len >> 8);
    ph[11] = (uint8_t)l4len;
    n = 12;
  } else { /* src, dst, 32-bit length, 3 zero bytes, next header */
    memcpy(ph, ip + 8, 32);
    ph[32] = (uint8_t)(l4len >> 24);
    ph[33] = (uint8_t)(l4len >> 16);
    ph[34] = (uint8_t)(l4len >> 8);
    ph[35] = (uint8_t)l4len;
    ph[36] = ph[37] = ph[38] = 0;
    ph[39] = proto;
    n = 40;
  }
  return ref_words(ph, n, 0);
}

/* The L4 checksum of a packet whose L4 header starts at l3 verifies. */
static inline int ref_l4_ok(const uint8_t *ip, size_t len, size_t l3,
                            uint8_t proto) {
  uint32_t s = ref_pseudo(ip, proto, (uint32_t)(len - l3));
  return ref_fold(ref_words(ip + l3, len - l3, s)) == 0xffff;
}

static inline int ref_ip4_ok(const uint8_t *ip) {
  return ref_fold(ref_words(ip, (size_t)(ip[0] & 15) * 4, 0)) == 0xffff;
}

/* ---- byte helpers ---- */

static inline uint16_t rd16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t rd32(const uint8_t *p) {
  return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}
static inline void wr16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void wr32(uint8_t *p, uint32_t v) {
  wr16(p, v >> 16);
  wr16(p + 2, v);
}

/* The byte stream every test payload is cut from: byte k of a flow. */
static inline uint8_t stream_byte(unsigned seed, uint32_t k) {
  uint32_t x = (k + 1) * 2654435761u ^ seed * 40503u;
  return (uint8_t)(x >> 13 ^ x);
}

static inline size_t first_diff(const uint8_t *a, const uint8_t *b,
                                size_t n) {
  size_t k = 0;
  while (k < n && a[k] == b[k]) k++;
  return k;
}

/* ---- builders ---- */

/* One packet to build: IPv4/IPv6, TCP/UDP, payload bytes off..off+plen of
 * stream `seed`. Fields left 0 get defaults from spec_default(). */
struct spec {
  int v6;
  uint8_t proto;
  uint8_t flags;     /* TCP */
  uint8_t tos, ttl;  /* IPv4 TOS/TTL, or IPv6 traffic class/hop limit */
  int df;
  uint16_t id;
  uint32_t flow;     /* IPv6 flow label */
  uint8_t src_last;  /* last byte of the source address */
  uint8_t dst_last;  /* last byte of the destination address; 0: 2 */
  uint8_t src_net, dst_net; /* 10.NET.0.x or fdNN::x; 0: 77 */
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint16_t win;
  uint8_t opts[40];
  uint8_t optlen;    /* multiple of 4 */
  unsigned seed;
  uint32_t off, plen;
};

static inline struct spec spec_default(int v6, uint8_t proto) {
  struct spec s;
  memset(&s, 0, sizeof(s));
  s.v6 = v6;
  s.proto = proto;
  s.flags = 0x10; /* ACK */
  s.ttl = 64;
  s.df = 1;
  s.id = 0x1234;
  s.flow = 0x12345;
  s.src_last = 1;
  s.sport = 40000;
  s.dport = 5201;
  s.seq = 0xfffff000u; /* wraps within a few segments */
  s.ack = 0x01020304;
  s.win = 512;
  s.seed = 7;
  if (proto == 6) { /* NOP, NOP, timestamps (RFC 7323) */
    const uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 1, 2, 0, 0, 3, 4};
    memcpy(s.opts, ts, 12);
    s.optlen = 12;
  }
  return s;
}

static inline size_t spec_l3(const struct spec *s) { return s->v6 ? 40 : 20; }
static inline size_t spec_hdr(const struct spec *s) {
  return spec_l3(s) + (s->proto == 6 ? 20u + s->optlen : 8u);
}

/* Write the IP header (payload length for the L4 part of l4len bytes). */
static inline void build_ip(uint8_t *b, const struct spec *s, size_t l4len) {
  if (s->v6) {
    wr32(b, 6u << 28 | (uint32_t)s->tos << 20 | (s->flow & 0xfffff));
    wr16(b + 4, (uint32_t)l4len);
    b[6] = s->proto;
    b[7] = s->ttl;
    memset(b + 8, 0, 32);
    b[8] = b[24] = 0xfd;
    b[9] = s->src_net ? s->src_net : 0x77;
    b[25] = s->dst_net ? s->dst_net : 0x77;
    b[23] = s->src_last;
    b[39] = s->dst_last ? s->dst_last : 2;
    return;
  }
  b[0] = 0x45;
  b[1] = s->tos;
  wr16(b + 2, (uint32_t)(20 + l4len));
  wr16(b + 4, s->id);
  wr16(b + 6, s->df ? 0x4000 : 0);
  b[8] = s->ttl;
  b[9] = s->proto;
  b[10] = b[11] = 0;
  const uint8_t addrs[8] = {10, s->src_net ? s->src_net : 77, 0,
                            s->src_last, 10, s->dst_net ? s->dst_net : 77,
                            0, s->dst_last ? s->dst_last : 2};
  memcpy(b + 12, addrs, 8);
  wr16(b + 10, (uint16_t)~ref_fold(ref_words(b, 20, 0)));
}

/* Build the packet; returns its length. With seed_only the L4 checksum
 * field gets the pseudo-header sum alone (a partial checksum, as a TUN
 * read with NEEDS_CSUM has it), else the full checksum. */
static inline size_t build_pkt(uint8_t *b, const struct spec *s,
                               int seed_only) {
  size_t l3 = spec_l3(s), hdr = spec_hdr(s), len = hdr + s->plen;
  uint8_t *l4 = b + l3;
  build_ip(b, s, len - l3);
  memset(l4, 0, hdr - l3);
  wr16(l4, s->sport);
  wr16(l4 + 2, s->dport);
  size_t check = s->proto == 6 ? 16 : 6;
  if (s->proto == 6) {
    wr32(l4 + 4, s->seq);
    wr32(l4 + 8, s->ack);
    l4[12] = (uint8_t)((20 + s->optlen) / 4 << 4);
    l4[13] = s->flags;
    wr16(l4 + 14, s->win);
    memcpy(l4 + 20, s->opts, s->optlen);
  } else {
    wr16(l4 + 4, (uint32_t)(len - l3));
  }
  for (uint32_t k = 0; k < s->plen; k++)
    b[hdr + k] = stream_byte(s->seed, s->off + k);
  uint32_t ph = ref_pseudo(b, s->proto, (uint32_t)(len - l3));
  uint16_t c = seed_only ? ref_fold(ph)
                         : (uint16_t)~ref_fold(ref_words(l4, len - l3, ph));
  if (!seed_only && c == 0 && s->proto == 17) c = 0xffff;
  wr16(l4 + check, c);
  return len;
}

/* A TUN read: virtio header + super-segment of s->plen bytes, gso_size
 * mss, NEEDS_CSUM with the pseudo-header seed (what the kernel hands
 * out). */
static inline size_t build_gso(uint8_t *b, const struct spec *s,
                               uint16_t mss) {
  struct ion_vnet_hdr h = {0};
  size_t len = build_pkt(b + ION_VNET_HDR_LEN, s, 1);
  int cwr = s->proto == 6 && (s->flags & 0x80);
  h.flags = ION_VNET_F_NEEDS_CSUM;
  h.gso_type = s->proto == 17 ? ION_VNET_GSO_UDP_L4
               : s->v6        ? ION_VNET_GSO_TCPV6
                              : ION_VNET_GSO_TCPV4;
  if (cwr) h.gso_type |= ION_VNET_GSO_ECN;
  h.hdr_len = (uint16_t)spec_hdr(s);
  h.gso_size = mss;
  h.csum_start = (uint16_t)spec_l3(s);
  h.csum_offset = s->proto == 6 ? 16 : 6;
  memcpy(b, &h, sizeof(h));
  return ION_VNET_HDR_LEN + len;
}

/* Check one IP packet: lengths, IPv4 header checksum, L4 checksum, all
 * with the reference. Returns 1 if all hold. */
static inline int ref_packet_ok(const uint8_t *p, size_t len) {
  int v6 = (p[0] >> 4) == 6;
  size_t l3 = v6 ? 40 : (size_t)(p[0] & 15) * 4;
  uint8_t proto = v6 ? p[6] : p[9];
  if (v6 ? rd16(p + 4) + 40u != len : rd16(p + 2) != len) return 0;
  if (!v6 && !ref_ip4_ok(p)) return 0;
  if (proto == 17 && (rd16(p + l3 + 4) != len - l3 || rd16(p + l3 + 6) == 0))
    return 0;
  return ref_l4_ok(p, len, l3, proto);
}

/* Packet buffers with ION_VNET_HDR_LEN bytes of headroom, each its own
 * allocation of exactly headroom + len so that ASan sees any overrun. */
static inline uint8_t *alloc_pkt(const uint8_t *src, size_t len) {
  uint8_t *m = malloc(ION_VNET_HDR_LEN + len + (len == 0));
  if (!m) abort();
  memset(m, 0xee, ION_VNET_HDR_LEN); /* not zero: the header must be written */
  if (len && src) memcpy(m + ION_VNET_HDR_LEN, src, len);
  return m + ION_VNET_HDR_LEN;
}
static inline void free_pkt(uint8_t *data) {
  if (data) free(data - ION_VNET_HDR_LEN);
}

/* ---- checking coalesced writes ---- */

/* Two packets equal, except the IPv4 id and header checksum (a group of
 * fixed ids splits into incrementing ones), the TCP urgent pointer (the
 * kernel's GRO does not compare it either; URG packets never coalesce)
 * and the TCP/UDP checksum, which the caller checks for validity on both
 * sides instead (it changes with the urgent pointer, and 0 and 0xffff mean
 * the same to TCP). */
static inline int same_pkt(const uint8_t *a, size_t alen, const uint8_t *b,
                           size_t blen) {
  static uint8_t x[65536], y[65536];
  if (alen != blen || alen > sizeof(x) || alen < 20) return 0;
  memcpy(x, a, alen);
  memcpy(y, b, blen);
  size_t l3 = 40;
  uint8_t proto = x[6];
  if ((x[0] >> 4) == 4) {
    x[4] = x[5] = x[10] = x[11] = y[4] = y[5] = y[10] = y[11] = 0;
    l3 = (size_t)(x[0] & 15) * 4;
    proto = x[9];
  }
  size_t check = l3 + (proto == 6 ? 16 : 6);
  if (check + 4 <= alen) {
    memset(x + check, 0, proto == 6 ? 4 : 2);
    memset(y + check, 0, proto == 6 ? 4 : 2);
  }
  return memcmp(x, y, alen) == 0;
}

/* Which packet's buffer holds p (-1: none). */
static inline int owner(const struct ion_pkt *pk, uint32_t n, const void *p) {
  const uint8_t *q = p;
  for (uint32_t i = 0; i < n; i++)
    if (q >= pk[i].data - ION_VNET_HDR_LEN && q <= pk[i].data + pk[i].len)
      return (int)i;
  return -1;
}

/* Everything ion_gro_coalesce promises about its output for input pk
 * (orig: copies of the packets before the call), reference-checked:
 * every packet in exactly one write, in order; a single packet written
 * unchanged behind a zero header; a coalesced write that splits back into
 * its packets. Sets why on failure. */
static inline int verify_writes(const struct ion_pkt *pk, uint8_t *const *orig,
                                uint32_t n, const struct ion_gro_write *w,
                                int nw, const struct iovec *iov, char *why,
                                size_t whylen) {
  static uint8_t flat[ION_VNET_HDR_LEN + 65536];
  static uint8_t seen[ION_GRO_MAX_BATCH];
  static struct ion_pkt sl[ION_GRO_MAX_BATCH];
  static uint8_t slotmem[ION_GRO_MAX_BATCH][2048];
  const uint8_t zero[ION_VNET_HDR_LEN] = {0};
  memset(seen, 0, sizeof(seen));
#define BAD(...) return snprintf(why, whylen, __VA_ARGS__), 0
  for (int k = 0; k < nw; k++) {
    const struct ion_gro_write *x = &w[k];
    const uint8_t *lead = pk[x->pkt].data;
    if (k && x->pkt <= w[k - 1].pkt) BAD("write %d out of order", k);
    if (x->niov != x->npkts || !x->npkts) BAD("write %d: %u iovs", k, x->niov);
    if (iov[x->iov].iov_base != lead - ION_VNET_HDR_LEN ||
        iov[x->iov].iov_len != ION_VNET_HDR_LEN + pk[x->pkt].len)
      BAD("write %d: first iov is not its packet", k);
    long got = ion_iov_gather(iov + x->iov, x->niov, flat, sizeof(flat));
    if (got != (long)x->len) BAD("write %d: len %u, iovs %ld", k, x->len, got);
    int prev = -1;
    for (uint32_t j = 0; j < x->niov; j++) {
      int o = owner(pk, n, iov[x->iov + j].iov_base);
      if (o < 0 || o <= prev || seen[o]) BAD("write %d iov %u: owner %d", k, j, o);
      seen[o] = 1;
      prev = o;
      if (j && memcmp(pk[o].data, orig[o], pk[o].len) != 0)
        BAD("packet %d (not first) was modified", o);
    }
    if (x->npkts == 1) {
      if (memcmp(lead - ION_VNET_HDR_LEN, zero, ION_VNET_HDR_LEN) ||
          memcmp(lead, orig[x->pkt], pk[x->pkt].len))
        BAD("write %d: single packet %u changed or header not zero", k, x->pkt);
      continue;
    }
    struct ion_vnet_info in;
    if (ion_vnet_parse(flat, (size_t)got, &in) || in.segs != x->npkts)
      BAD("write %d: does not parse as %u segments", k, x->npkts);
    for (uint32_t j = 0; j < x->npkts; j++) {
      sl[j].data = slotmem[j];
      sl[j].cap = sizeof(slotmem[j]);
    }
    if (ion_vnet_split(flat, (size_t)got, sl, x->npkts) != (int)x->npkts)
      BAD("write %d: split failed", k);
    for (uint32_t j = 0; j < x->npkts; j++) {
      int o = owner(pk, n, iov[x->iov + j].iov_base);
      if (!ref_packet_ok(sl[j].data, sl[j].len) ||
          !ref_packet_ok(orig[o], pk[o].len) ||
          !same_pkt(sl[j].data, sl[j].len, orig[o], pk[o].len))
        BAD("write %d: segment %u is not packet %d", k, j, o);
    }
  }
  for (uint32_t i = 0; i < n; i++)
    if (!seen[i]) BAD("packet %u in no write", i);
#undef BAD
  return 1;
}

#endif
