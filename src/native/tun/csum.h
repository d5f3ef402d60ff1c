/*
 * The Internet checksum (RFC 1071) and the few IP/TCP/UDP header fields the
 * offload code reads and writes. Internal to src/native/tun/.
 *
 * Sums are kept in a 64-bit accumulator of native-endian loads: RFC 1071's
 * byte-order independence means that folding it and storing the result
 * with a native store gives the right bytes on either endianness, so no
 * byte swapping is needed anywhere. 64-bit words are added with an
 * end-around carry; 2^64 - 1 is a multiple of 2^16 - 1, so folding the
 * accumulator gives the 16-bit one's-complement sum.
 */
#ifndef ION_TUN_CSUM_H
#define ION_TUN_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
  ION_IPPROTO_TCP = 6,
  ION_IPPROTO_UDP = 17,
  ION_IP4_HLEN = 20,
  ION_IP6_HLEN = 40,
  ION_TCP_HLEN = 20,
  ION_UDP_HLEN = 8,
  ION_TCP_CSUM_OFF = 16, /* offsetof(struct tcphdr, check) */
  ION_UDP_CSUM_OFF = 6,  /* offsetof(struct udphdr, check) */
  ION_TCP_FLAGS_OFF = 13,
};

/* TCP flags (byte 13 of the header). */
enum {
  ION_TCP_FIN = 0x01,
  ION_TCP_SYN = 0x02,
  ION_TCP_RST = 0x04,
  ION_TCP_PSH = 0x08,
  ION_TCP_ACK = 0x10,
  ION_TCP_URG = 0x20,
  ION_TCP_ECE = 0x40,
  ION_TCP_CWR = 0x80,
};

static inline uint16_t ion_get16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t ion_get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}
static inline void ion_put16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void ion_put32(uint8_t *p, uint32_t v) {
  ion_put16(p, v >> 16);
  ion_put16(p + 2, v);
}

/* Add n bytes at p to the accumulator. An odd last byte counts as the high
 * byte of a word padded with zero (RFC 1071). */
static inline uint64_t ion_csum_add(uint64_t acc, const void *data, size_t n) {
  const uint8_t *p = data;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    acc += w;
    acc += acc < w; /* end-around carry */
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    acc += w;
    acc += acc < w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    acc += w;
    acc += acc < w;
    p += 2;
    n -= 2;
  }
  if (n) {
    uint8_t t[2] = {p[0], 0};
    uint16_t w;
    memcpy(&w, t, 2);
    acc += w;
    acc += acc < w;
  }
  return acc;
}

/* The 16-bit one's-complement sum (not complemented), native order. */
static inline uint16_t ion_csum_fold(uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)acc;
}

/* Store a native-order checksum value at p (unaligned). */
static inline void ion_csum_store(uint8_t *p, uint16_t v) {
  memcpy(p, &v, 2);
}

/* The TCP/UDP pseudo-header sum: addresses (4 or 16 bytes each, adjacent
 * in both IP headers: src then dst at addrs), protocol, L4 length. IPv6's
 * 32-bit length and IPv4's 16-bit one sum the same below 64 KiB, which is
 * all we handle. */
static inline uint64_t ion_csum_pseudo(const uint8_t *addrs, size_t alen,
                                       uint8_t proto, uint32_t l4len) {
  uint8_t tail[4] = {0, proto, (uint8_t)(l4len >> 8), (uint8_t)l4len};
  return ion_csum_add(ion_csum_add(0, addrs, 2 * alen), tail, 4);
}

/* Rewrite the IPv4 header checksum of hdr (hlen bytes). */
static inline void ion_ip4_fix_csum(uint8_t *hdr, size_t hlen) {
  hdr[10] = hdr[11] = 0;
  ion_csum_store(hdr + 10, (uint16_t)~ion_csum_fold(ion_csum_add(0, hdr, hlen)));
}

#endif
