/* The few IP header fields the data path reads: the destination to route
 * a packet out, the source and true length of a packet that came in.
 * Every read is bounded by the length given. */
#ifndef ION_WG_IP_H
#define ION_WG_IP_H

#include <stdint.h>
#include <sys/socket.h>

#define WG_IPV4_HEADER 20u
#define WG_IPV6_HEADER 40u

static inline uint32_t wg_be16(const uint8_t *p) {
  return (uint32_t)p[0] << 8 | p[1];
}

/* Family and destination address of an outgoing packet: 0 or -EINVAL. */
static inline int wg_ip_dst(const uint8_t *pkt, uint32_t len, int *family,
                            const uint8_t **dst) {
  if (len >= WG_IPV4_HEADER && pkt[0] >> 4 == 4) {
    *family = AF_INET;
    *dst = pkt + 16;
    return 0;
  }
  if (len >= WG_IPV6_HEADER && pkt[0] >> 4 == 6) {
    *family = AF_INET6;
    *dst = pkt + 24;
    return 0;
  }
  return -1;
}

/* Family, source and length (from the header: the rest is padding) of a
 * decrypted packet: 0, or -1 when it is not a well-formed IPv4/IPv6
 * packet whose length field fits in len. */
static inline int wg_ip_src(const uint8_t *pkt, uint32_t len, int *family,
                            const uint8_t **src, uint32_t *ip_len) {
  if (len >= WG_IPV4_HEADER && pkt[0] >> 4 == 4) {
    uint32_t ihl = (pkt[0] & 15u) * 4u, total = wg_be16(pkt + 2);
    if (ihl < WG_IPV4_HEADER || total < ihl || total > len) return -1;
    *family = AF_INET;
    *src = pkt + 12;
    *ip_len = total;
    return 0;
  }
  if (len >= WG_IPV6_HEADER && pkt[0] >> 4 == 6) {
    uint32_t total = WG_IPV6_HEADER + wg_be16(pkt + 4);
    if (total > len) return -1;
    *family = AF_INET6;
    *src = pkt + 8;
    *ip_len = total;
    return 0;
  }
  return -1;
}

#endif
