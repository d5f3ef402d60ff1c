/*
 * Read side of the TUN offloads (offload.h): turn what a TUN read returns
 * (virtio_net_hdr + IP packet, possibly a TSO/USO super-segment of up to
 * 64 KiB) into ready-to-send IP packets.
 *
 * The segmentation follows the kernel's software GSO, so that what we send
 * is what the kernel would have sent had the TUN not offered TSO/USO:
 * inet_gso_segment / ipv6_gso_segment (per-segment IP length, IPv4 id + i
 * and header checksum), tcp_gso_segment (seq + i * mss, FIN/PSH cleared on
 * all but the last segment, CWR on all but the first), __udp_gso_segment
 * (UDP length per segment). Unlike the kernel we recompute each checksum
 * in full rather than adjusting the partial one: the input is untrusted,
 * and the data has to be read for the copy anyway.
 *
 * Nothing here trusts a length from the header or the packet: every offset
 * is checked against the packet length before it is read.
 */
#include <errno.h>
#include <string.h>

#include "tun/csum.h"
#include "tun/offload.h"

enum {
  IP6_NH_HOPOPTS = 0,
  IP6_NH_DSTOPTS = 60,
  IP6_MAX_EXT = 8, /* bound on the extension header walk */
};

/* IPv6: skip hop-by-hop and destination options up to the transport
 * header. Routing headers are refused: they change the address the
 * pseudo-header must use. Returns the L4 offset or -EINVAL. */
static int ip6_l4_offset(const uint8_t *p, uint32_t len, uint8_t *proto) {
  uint32_t off = ION_IP6_HLEN;
  uint8_t nh = p[6];
  for (int i = 0; i < IP6_MAX_EXT; i++) {
    if (nh != IP6_NH_HOPOPTS && nh != IP6_NH_DSTOPTS) {
      *proto = nh;
      return (int)off;
    }
    if (off + 2 > len) return -EINVAL;
    nh = p[off];
    off += ((uint32_t)p[off + 1] + 1) * 8;
  }
  return -EINVAL;
}

/* The IP header of a GSO packet: version, length fields, L4 offset. */
static int parse_l3(const uint8_t *p, uint32_t len, uint8_t *version,
                    uint8_t *proto) {
  if (len < 1) return -EINVAL;
  *version = p[0] >> 4;
  if (*version == 4) {
    uint32_t ihl = (p[0] & 0x0fu) * 4;
    if (len < ION_IP4_HLEN || ihl < ION_IP4_HLEN || ihl > len) return -EINVAL;
    if (ion_get16(p + 2) != len) return -EINVAL;
    /* MF or a fragment offset: a fragment is never a GSO packet. */
    if (ion_get16(p + 6) & 0x3fff) return -EINVAL;
    *proto = p[9];
    return (int)ihl;
  }
  if (*version == 6) {
    if (len < ION_IP6_HLEN) return -EINVAL;
    /* BIG TCP's payload length 0 (jumbograms) is refused here: the TUN's
     * gso_max_size stays at 64 KiB unless an admin raises it. */
    if (ion_get16(p + 4) + (uint32_t)ION_IP6_HLEN != len) return -EINVAL;
    return ip6_l4_offset(p, len, proto);
  }
  return -EINVAL;
}

/* The TCP/UDP header after l3 bytes: its length, or -EINVAL. */
static int parse_l4(const uint8_t *p, uint32_t len, uint32_t l3,
                    uint8_t proto) {
  if (proto == ION_IPPROTO_UDP)
    return l3 + ION_UDP_HLEN <= len ? ION_UDP_HLEN : -EINVAL;
  if (l3 + ION_TCP_HLEN > len) return -EINVAL;
  uint32_t thlen = (uint32_t)(p[l3 + 12] >> 4) * 4;
  if (thlen < ION_TCP_HLEN || l3 + thlen > len) return -EINVAL;
  return (int)thlen;
}

/* Which IP version and protocol a GSO type allows. */
static int gso_proto(uint8_t gso_type, uint8_t version, uint8_t *proto) {
  switch (gso_type) {
    case ION_VNET_GSO_TCPV4:
    case ION_VNET_GSO_TCPV4 | ION_VNET_GSO_ECN:
      *proto = ION_IPPROTO_TCP;
      return version == 4 ? 0 : -EINVAL;
    case ION_VNET_GSO_TCPV6:
    case ION_VNET_GSO_TCPV6 | ION_VNET_GSO_ECN:
      *proto = ION_IPPROTO_TCP;
      return version == 6 ? 0 : -EINVAL;
    case ION_VNET_GSO_UDP_L4:
      *proto = ION_IPPROTO_UDP;
      return 0;
    default: /* UFO (never enabled by us), unknown types, ECN on UDP */
      return -EINVAL;
  }
}

static int parse_gso(const uint8_t *p, struct ion_vnet_info *in) {
  const struct ion_vnet_hdr *h = &in->hdr;
  uint8_t version, proto, want;
  if (h->gso_size == 0) return -EINVAL;
  int l3 = parse_l3(p, in->pkt_len, &version, &proto);
  if (l3 < 0) return l3;
  if (gso_proto(h->gso_type, version, &want) < 0 || proto != want)
    return -EINVAL;
  int l4 = parse_l4(p, in->pkt_len, (uint32_t)l3, proto);
  if (l4 < 0) return l4;
  if (h->flags & ION_VNET_F_NEEDS_CSUM) {
    uint16_t off = proto == ION_IPPROTO_TCP ? ION_TCP_CSUM_OFF
                                            : ION_UDP_CSUM_OFF;
    if (h->csum_start != l3 || h->csum_offset != off) return -EINVAL;
  }
  in->l3_len = (uint16_t)l3;
  in->hdr_len = (uint16_t)(l3 + l4);
  in->proto = proto;
  uint32_t payload = in->pkt_len - in->hdr_len;
  /* A payload no longer than one segment (or none) is one packet, as
   * virtio_net_hdr_to_skb treats it ("not really GSO"). */
  in->segs = payload <= h->gso_size ? 1 : (payload + h->gso_size - 1) /
                                              h->gso_size;
  in->seg_max = in->hdr_len + (payload < h->gso_size ? payload : h->gso_size);
  return 0;
}

int ion_vnet_parse(const uint8_t *buf, size_t len, struct ion_vnet_info *in) {
  if (!buf || !in || len <= ION_VNET_HDR_LEN ||
      len - ION_VNET_HDR_LEN > ION_OFFLOAD_MAX_PKT)
    return -EINVAL;
  memset(in, 0, sizeof(*in));
  memcpy(&in->hdr, buf, ION_VNET_HDR_LEN);
  in->pkt_len = (uint32_t)(len - ION_VNET_HDR_LEN);
  in->gso = in->hdr.gso_type & (uint8_t)~ION_VNET_GSO_ECN;
  if (in->gso != ION_VNET_GSO_NONE)
    return parse_gso(buf + ION_VNET_HDR_LEN, in);
  if (in->hdr.gso_type != ION_VNET_GSO_NONE) return -EINVAL; /* ECN alone */
  if ((in->hdr.flags & ION_VNET_F_NEEDS_CSUM) &&
      (uint32_t)in->hdr.csum_start + in->hdr.csum_offset + 2 > in->pkt_len)
    return -EINVAL;
  in->segs = 1;
  in->seg_max = in->pkt_len;
  return 0;
}

/* Sum [start, len) including the seed already in the field, store the
 * complement there (skb_checksum_help: a result of 0 is sent as 0xffff,
 * which means the same to TCP and "no checksum" never to UDP). */
static void complete_csum(uint8_t *p, uint32_t len, uint32_t start,
                          uint32_t off) {
  uint16_t c = (uint16_t)~ion_csum_fold(ion_csum_add(0, p + start, len - start));
  ion_csum_store(p + start + off, c ? c : 0xffff);
}

int ion_vnet_complete(uint8_t *buf, size_t len) {
  struct ion_vnet_info in;
  int rc = ion_vnet_parse(buf, len, &in);
  if (rc < 0) return rc;
  if (in.gso != ION_VNET_GSO_NONE) return 1;
  if (in.hdr.flags & ION_VNET_F_NEEDS_CSUM)
    complete_csum(buf + ION_VNET_HDR_LEN, in.pkt_len, in.hdr.csum_start,
                  in.hdr.csum_offset);
  return 0;
}

/* Fix the IP header of segment i (seg_len bytes in all) in place. */
static void seg_fix_ip(uint8_t *o, const struct ion_vnet_info *in, uint32_t i,
                       uint32_t seg_len) {
  if ((o[0] >> 4) == 4) {
    ion_put16(o + 2, seg_len);
    ion_put16(o + 4, ion_get16(o + 4) + i); /* wraps mod 2^16 */
    ion_ip4_fix_csum(o, in->l3_len);
  } else {
    ion_put16(o + 4, seg_len - ION_IP6_HLEN);
  }
}

/* Fix the TCP/UDP header of segment i of segs and fill in its checksum. */
static void seg_fix_l4(uint8_t *o, const struct ion_vnet_info *in, uint32_t i,
                       uint32_t segs, uint32_t seg_len) {
  uint8_t *l4 = o + in->l3_len;
  uint32_t l4_len = seg_len - in->l3_len;
  uint8_t *check;
  if (in->proto == ION_IPPROTO_TCP) {
    ion_put32(l4 + 4, ion_get32(l4 + 4) + i * (uint32_t)in->hdr.gso_size);
    if (i + 1 < segs) l4[ION_TCP_FLAGS_OFF] &= (uint8_t)~(ION_TCP_FIN | ION_TCP_PSH);
    if (i > 0) l4[ION_TCP_FLAGS_OFF] &= (uint8_t)~ION_TCP_CWR;
    check = l4 + ION_TCP_CSUM_OFF;
  } else {
    ion_put16(l4 + 4, l4_len);
    check = l4 + ION_UDP_CSUM_OFF;
  }
  int v6 = (o[0] >> 4) == 6;
  size_t alen = v6 ? 16 : 4;
  check[0] = check[1] = 0;
  uint64_t acc = ion_csum_pseudo(o + (v6 ? 8 : 12), alen, in->proto, l4_len);
  uint16_t c = (uint16_t)~ion_csum_fold(ion_csum_add(acc, l4, l4_len));
  /* UDP: a computed 0 is sent as 0xffff (RFC 768); TCP: same meaning. */
  ion_csum_store(check, c ? c : 0xffff);
}

/* Segments [first, first + n) of a parsed GSO packet into out[0..n). */
static int split_gso(const uint8_t *p, const struct ion_vnet_info *in,
                     uint32_t first, uint32_t n, struct ion_pkt *out) {
  uint32_t payload = in->pkt_len - in->hdr_len;
  uint32_t mss = in->hdr.gso_size;
  for (uint32_t k = 0; k < n; k++) {
    uint32_t i = first + k;
    uint32_t off = i * mss;
    uint32_t len = payload - off < mss ? payload - off : mss;
    uint32_t seg_len = in->hdr_len + len;
    if (!out[k].data || out[k].cap < seg_len) return -ENOSPC;
    memcpy(out[k].data, p, in->hdr_len);
    memcpy(out[k].data + in->hdr_len, p + in->hdr_len + off, len);
    seg_fix_ip(out[k].data, in, i, seg_len);
    seg_fix_l4(out[k].data, in, i, in->segs, seg_len);
    out[k].len = seg_len;
  }
  return (int)n;
}

/* A non-GSO packet into out[0], its partial checksum completed. */
static int split_plain(const uint8_t *p, const struct ion_vnet_info *in,
                       struct ion_pkt *out) {
  if (!out[0].data || out[0].cap < in->pkt_len) return -ENOSPC;
  memcpy(out[0].data, p, in->pkt_len);
  if (in->hdr.flags & ION_VNET_F_NEEDS_CSUM)
    complete_csum(out[0].data, in->pkt_len, in->hdr.csum_start,
                  in->hdr.csum_offset);
  out[0].len = in->pkt_len;
  return 1;
}

int ion_vnet_split(const uint8_t *buf, size_t len, struct ion_pkt *out,
                   uint32_t nout) {
  struct ion_vnet_info in;
  int rc = ion_vnet_parse(buf, len, &in);
  if (rc < 0) return rc;
  if (!out || nout < in.segs) return -ENOSPC;
  const uint8_t *p = buf + ION_VNET_HDR_LEN;
  if (in.gso != ION_VNET_GSO_NONE) return split_gso(p, &in, 0, in.segs, out);
  return split_plain(p, &in, out);
}

int ion_vnet_split_from(const uint8_t *buf, size_t len, uint32_t first,
                        struct ion_pkt *out, uint32_t nout) {
  struct ion_vnet_info in;
  int rc = ion_vnet_parse(buf, len, &in);
  if (rc < 0) return rc;
  if (first >= in.segs || nout == 0) return 0;
  if (!out) return -ENOSPC;
  uint32_t n = in.segs - first < nout ? in.segs - first : nout;
  const uint8_t *p = buf + ION_VNET_HDR_LEN;
  if (in.gso != ION_VNET_GSO_NONE) return split_gso(p, &in, first, n, out);
  return split_plain(p, &in, out);
}
