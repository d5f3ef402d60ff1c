/*
 * Write side of the TUN offloads (offload.h): coalesce a batch of IP
 * packets into TUN writes with a virtio_net_hdr, as the kernel's GRO
 * would, so that the kernel's stack sees one 64 KiB segment instead of
 * ~45 packets.
 *
 * The rules are the kernel's (inet_gro_receive + inet_gro_flush,
 * ipv6_gro_receive, tcp_gro_receive, udp_gro_receive_segment), which we
 * must not loosen: the kernel trusts a GSO packet from the TUN to be what
 * GRO would have built, and with NEEDS_CSUM it never checks the checksums
 * of the parts again; so every part's checksum is verified here first.
 *
 * Like the kernel, each flow has at most one open group: the first packet
 * (the leader) fixes the segment size, later packets join while the rules
 * hold, and the first packet of the flow that cannot join ends the group.
 * Groups are emitted at the position of their leader, so packets of one
 * flow keep their order.
 *
 * Pass 1 assigns each packet to a group (one group per future write);
 * pass 2 lays out the iovecs and rewrites the leaders' headers.
 */
#include <errno.h>
#include <string.h>

#include "tun/csum.h"
#include "tun/offload.h"

enum { ICMP4 = 1, ICMP6 = 58 };

/* What pass 1 reads from one packet. */
struct cand {
  const uint8_t *p;
  uint32_t len;
  uint32_t hash;   /* of the address pair */
  uint16_t payload;
  uint8_t version; /* 0: not an IP packet we can read addresses from */
  uint8_t proto;
  uint8_t l4;      /* offset of the TCP/UDP ports; 0: none to read */
  uint8_t l3_ok;   /* the IP layer allows coalescing */
  uint8_t hdr_len; /* IP + L4 header; 0: not a coalescing candidate */
  uint8_t trusted; /* ION_GRO_TRUSTED: checksums need no check */
};

static size_t alen_of(uint8_t version) { return version == 4 ? 4 : 16; }
static const uint8_t *addrs_of(const uint8_t *p) {
  return p + ((p[0] >> 4) == 4 ? 12 : 8);
}
static int has_ports(uint8_t proto) {
  return proto == ION_IPPROTO_TCP || proto == ION_IPPROTO_UDP;
}

static uint32_t addr_hash(const uint8_t *a, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a over 32-bit words */
  for (size_t i = 0; i < n; i += 4) {
    uint32_t w;
    memcpy(&w, a + i, 4);
    h = (h ^ w) * 16777619u;
  }
  return h ^ (h >> 16);
}

/* The L4 checksum of a whole packet is right (sums to 0xffff). */
static int l4_csum_ok(const uint8_t *p, uint32_t len, uint32_t l3,
                      uint8_t proto) {
  size_t alen = alen_of(p[0] >> 4);
  uint64_t acc = ion_csum_pseudo(addrs_of(p), alen, proto, len - l3);
  return ion_csum_fold(ion_csum_add(acc, p + l3, len - l3)) == 0xffff;
}

/* IPv4: ports are readable unless this is a non-first fragment; the
 * kernel's inet_gro_receive takes only a 20-byte header (no options),
 * total length == packet length, no fragment bits but DF, and a valid
 * header checksum. */
static void classify_ip4(struct cand *c) {
  const uint8_t *p = c->p;
  uint32_t ihl = (p[0] & 0x0fu) * 4;
  c->version = 4;
  c->proto = p[9];
  c->hash = addr_hash(p + 12, 8);
  if (has_ports(c->proto) && (ion_get16(p + 6) & 0x1fff) == 0 &&
      ihl >= ION_IP4_HLEN && ihl + 4 <= c->len)
    c->l4 = (uint8_t)ihl;
  c->l3_ok = p[0] == 0x45 && ion_get16(p + 2) == c->len &&
             (ion_get16(p + 6) & ~0x4000) == 0 &&
             ion_csum_fold(ion_csum_add(0, p, ION_IP4_HLEN)) == 0xffff;
}

/* IPv6: only TCP/UDP right after the fixed header (no extension headers),
 * payload length == the rest of the packet. */
static void classify_ip6(struct cand *c) {
  const uint8_t *p = c->p;
  c->version = 6;
  c->proto = p[6];
  c->hash = addr_hash(p + 8, 32);
  if (has_ports(c->proto) && c->len >= ION_IP6_HLEN + 4)
    c->l4 = ION_IP6_HLEN;
  c->l3_ok = ion_get16(p + 4) + (uint32_t)ION_IP6_HLEN == c->len;
}

/* The transport header of a packet whose IP layer allows coalescing. */
static void classify_l4(struct cand *c, unsigned features) {
  const uint8_t *p = c->p;
  uint32_t l4 = c->l4, thlen;
  if (c->proto == ION_IPPROTO_TCP && (features & ION_GRO_TCP)) {
    if (l4 + ION_TCP_HLEN > c->len) return;
    thlen = (uint32_t)(p[l4 + 12] >> 4) * 4;
    if (thlen < ION_TCP_HLEN || l4 + thlen >= c->len) return; /* no data */
  } else if (c->proto == ION_IPPROTO_UDP && (features & ION_GRO_UDP)) {
    thlen = ION_UDP_HLEN;
    if (l4 + thlen >= c->len || ion_get16(p + l4 + 4) != c->len - l4) return;
    /* udp_gro_receive_segment: a zero checksum is never coalesced. */
    if (ion_get16(p + l4 + ION_UDP_CSUM_OFF) == 0) return;
  } else {
    return;
  }
  c->hdr_len = (uint8_t)(l4 + thlen);
  c->payload = (uint16_t)(c->len - l4 - thlen);
}

static void classify(struct cand *c, const struct ion_pkt *pkt,
                     unsigned features) {
  memset(c, 0, sizeof(*c));
  c->p = pkt->data;
  c->len = pkt->len;
  c->trusted = (features & ION_GRO_TRUSTED) != 0;
  if (c->len < ION_IP4_HLEN) return;
  if ((c->p[0] >> 4) == 4)
    classify_ip4(c);
  else if ((c->p[0] >> 4) == 6 && c->len >= ION_IP6_HLEN)
    classify_ip6(c);
  if (c->l3_ok && c->l4 && c->len <= ION_OFFLOAD_MAX_PKT)
    classify_l4(c, features);
}

/* Same flow: version, protocol, addresses and ports. */
static int same_flow(const struct ion_gro_group *g, const uint8_t *lead,
                     const struct cand *c) {
  return (lead[0] >> 4) == c->version && g->proto == c->proto &&
         memcmp(addrs_of(lead), addrs_of(c->p), 2 * alen_of(c->version)) == 0 &&
         memcmp(lead + g->l3_len, c->p + c->l4, 4) == 0;
}

/* The flow's latest group and the link that points at it. */
static struct ion_gro_group *find_flow(struct ion_gro *gro,
                                       const struct ion_pkt *pkts,
                                       const struct cand *c, uint16_t **link) {
  uint16_t *l = &gro->bucket[c->hash % ION_GRO_BUCKETS];
  for (uint32_t guard = 0; *l && guard < ION_GRO_MAX_BATCH; guard++) {
    struct ion_gro_group *g = &gro->g[*l - 1];
    if (g->hash == c->hash && same_flow(g, pkts[g->leader].data, c)) {
      *link = l;
      return g;
    }
    l = &g->chain;
  }
  return NULL;
}

/* A packet without ports (a fragment, IPv6 with extension headers) may
 * belong to any flow of its address pair: end all their groups. */
static void close_pair(struct ion_gro *gro, const struct ion_pkt *pkts,
                       const struct cand *c) {
  if (c->proto == ICMP4 || c->proto == ICMP6) return; /* no flow's data */
  uint16_t at = gro->bucket[c->hash % ION_GRO_BUCKETS];
  for (uint32_t guard = 0; at && guard < ION_GRO_MAX_BATCH; guard++) {
    struct ion_gro_group *g = &gro->g[at - 1];
    const uint8_t *lead = pkts[g->leader].data;
    if ((lead[0] >> 4) == c->version &&
        memcmp(addrs_of(lead), addrs_of(c->p), 2 * alen_of(c->version)) == 0)
      g->open = 0;
    at = g->chain;
  }
}

/* inet_gro_flush / ipv6_gro_flush: the IP fields that must match, and
 * IPv4 ids that increment by one per packet, or stay fixed with DF. */
static int ip_can_join(struct ion_gro_group *g, const uint8_t *lead,
                       const uint8_t *p) {
  if (p[0] >> 4 == 6)
    return ((ion_get32(lead) ^ ion_get32(p)) & 0x0fffffffu) == 0 &&
           lead[7] == p[7];
  if (lead[1] != p[1] || lead[8] != p[8] || ((lead[6] ^ p[6]) & 0x40))
    return 0;
  uint16_t id_off = (uint16_t)(ion_get16(p + 4) - g->ip_id);
  if (g->count == 1 && (p[6] & 0x40) && id_off == 0) g->id_fixed = 1;
  return g->id_fixed ? id_off == 0 : id_off == g->count;
}

/* tcp_gro_receive: same header length, ack, window and options; flags
 * equal except CWR (first only) and FIN/PSH (last only); contiguous. */
static int tcp_can_join(const struct ion_gro_group *g, const uint8_t *lead,
                        const struct cand *c) {
  const uint8_t *a = lead + g->l3_len, *b = c->p + c->l4;
  uint8_t flags = b[ION_TCP_FLAGS_OFF];
  uint8_t diff = (a[ION_TCP_FLAGS_OFF] ^ flags) &
                 (uint8_t)~(ION_TCP_CWR | ION_TCP_FIN | ION_TCP_PSH);
  return c->hdr_len == g->hdr_len && !(flags & ION_TCP_CWR) && !diff &&
         memcmp(a + 8, b + 8, 5) == 0 &&   /* ack, doff/reserved */
         memcmp(a + 14, b + 14, 2) == 0 && /* window */
         memcmp(a + 20, b + 20, (size_t)(g->hdr_len - g->l3_len - 20)) == 0 &&
         ion_get32(b + 4) == g->next_seq;
}

static int try_join(struct ion_gro_group *g, const struct ion_pkt *pkts,
                    const struct cand *c) {
  const uint8_t *lead = pkts[g->leader].data;
  if (c->payload > g->mss || g->total + c->payload > ION_OFFLOAD_MAX_PKT)
    return 0;
  if (c->proto == ION_IPPROTO_TCP ? !tcp_can_join(g, lead, c)
                                  : g->count >= ION_GRO_MAX_UDP_SEGS)
    return 0;
  if (!ip_can_join(g, lead, c->p)) return 0;
  /* Already authenticated (WireGuard's decrypted packets): the kernel's
   * wireguard marks those CHECKSUM_UNNECESSARY too. */
  if (c->trusted) return 1;
  if (!g->leader_ok) {
    if (!l4_csum_ok(lead, pkts[g->leader].len, g->l3_len, g->proto)) return 0;
    g->leader_ok = 1;
  }
  return l4_csum_ok(c->p, c->len, c->l4, c->proto);
}

/* Does a packet that joined end its group? (tcp_gro_receive's final
 * flush check, udp_gro_receive_segment's length/count check) */
static int ends_group(const struct ion_gro_group *g, const struct cand *c) {
  if (c->payload < g->mss) return 1;
  if (c->proto == ION_IPPROTO_UDP) return g->count >= ION_GRO_MAX_UDP_SEGS;
  return (c->p[c->l4 + ION_TCP_FLAGS_OFF] & (ION_TCP_FIN | ION_TCP_PSH)) != 0;
}

/* A TCP packet may lead a group unless the kernel would flush it at once. */
static int may_lead(const struct cand *c) {
  if (c->proto == ION_IPPROTO_UDP) return 1;
  return (c->p[c->l4 + ION_TCP_FLAGS_OFF] &
          (ION_TCP_URG | ION_TCP_PSH | ION_TCP_RST | ION_TCP_SYN |
           ION_TCP_FIN)) == 0;
}

static void new_group(struct ion_gro_group *g, uint32_t i,
                      const struct cand *c) {
  memset(g, 0, sizeof(*g));
  g->leader = g->last = (uint16_t)i;
  g->count = 1;
  g->total = c->len;
  if (!c->hdr_len || !may_lead(c)) return; /* written as is */
  g->open = 1;
  g->hash = c->hash;
  g->proto = c->proto;
  g->l3_len = c->l4;
  g->hdr_len = c->hdr_len;
  g->mss = c->payload;
  if (c->proto == ION_IPPROTO_TCP)
    g->next_seq = ion_get32(c->p + c->l4 + 4) + c->payload;
  if (c->version == 4) g->ip_id = ion_get16(c->p + 4);
}

/* Pass 1 for packet i; returns the number of groups afterwards. */
static uint32_t assign(struct ion_gro *gro, const struct ion_pkt *pkts,
                       uint32_t i, uint32_t ngroups, unsigned features) {
  struct cand c;
  classify(&c, &pkts[i], features);
  uint16_t *link = NULL;
  struct ion_gro_group *f = NULL;
  if (c.l4) f = find_flow(gro, pkts, &c, &link);
  else if (c.version) close_pair(gro, pkts, &c);
  if (f && f->open && c.hdr_len && try_join(f, pkts, &c)) {
    gro->next[f->last] = (uint16_t)(i + 1);
    f->last = (uint16_t)i;
    f->count++;
    f->total += c.payload;
    if (c.proto == ION_IPPROTO_TCP) f->next_seq += c.payload;
    if (ends_group(f, &c)) f->open = 0;
    return ngroups;
  }
  if (f) f->open = 0;
  struct ion_gro_group *g = &gro->g[ngroups];
  new_group(g, i, &c);
  if (g->open) { /* the flow's latest group from now on */
    if (f) {
      g->chain = f->chain;
      *link = (uint16_t)(ngroups + 1);
    } else {
      uint16_t *head = &gro->bucket[c.hash % ION_GRO_BUCKETS];
      g->chain = *head;
      *head = (uint16_t)(ngroups + 1);
    }
  }
  return ngroups + 1;
}

/* Rewrite a coalesced group's leader and write its virtio header. */
static void finish_group(const struct ion_gro_group *g,
                         const struct ion_pkt *pkts) {
  uint8_t *lead = pkts[g->leader].data;
  struct ion_vnet_hdr h;
  memset(&h, 0, sizeof(h));
  if (g->count > 1) {
    int v6 = (lead[0] >> 4) == 6;
    uint8_t *l4 = lead + g->l3_len;
    uint32_t l4_len = g->total - g->l3_len;
    uint8_t *check;
    if (v6) {
      ion_put16(lead + 4, g->total - ION_IP6_HLEN);
    } else {
      ion_put16(lead + 2, g->total);
      ion_ip4_fix_csum(lead, ION_IP4_HLEN);
    }
    if (g->proto == ION_IPPROTO_TCP) {
      const uint8_t *last = pkts[g->last].data + g->l3_len;
      l4[ION_TCP_FLAGS_OFF] |= last[ION_TCP_FLAGS_OFF] & (ION_TCP_FIN | ION_TCP_PSH);
      check = l4 + ION_TCP_CSUM_OFF;
      h.gso_type = v6 ? ION_VNET_GSO_TCPV6 : ION_VNET_GSO_TCPV4;
      if (l4[ION_TCP_FLAGS_OFF] & ION_TCP_CWR) h.gso_type |= ION_VNET_GSO_ECN;
    } else {
      ion_put16(l4 + 4, l4_len);
      check = l4 + ION_UDP_CSUM_OFF;
      h.gso_type = ION_VNET_GSO_UDP_L4;
    }
    /* CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum (not
     * complemented), the kernel adds the rest (tcp4_gro_complete). */
    ion_csum_store(check, ion_csum_fold(ion_csum_pseudo(
                              addrs_of(lead), v6 ? 16 : 4, g->proto, l4_len)));
    h.flags = ION_VNET_F_NEEDS_CSUM;
    h.hdr_len = g->hdr_len;
    h.gso_size = g->mss;
    h.csum_start = g->l3_len;
    h.csum_offset = (uint16_t)(check - l4);
  }
  memcpy(lead - ION_VNET_HDR_LEN, &h, ION_VNET_HDR_LEN);
}

/* Pass 2 for one group: its write and iovecs. */
static void emit(const struct ion_gro *gro, const struct ion_gro_group *g,
                 const struct ion_pkt *pkts, struct ion_gro_write *w,
                 struct iovec *iov, uint32_t *niov) {
  finish_group(g, pkts);
  w->iov = *niov;
  w->pkt = g->leader;
  w->npkts = g->count;
  w->len = ION_VNET_HDR_LEN + g->total;
  iov[*niov].iov_base = pkts[g->leader].data - ION_VNET_HDR_LEN;
  iov[(*niov)++].iov_len = ION_VNET_HDR_LEN + pkts[g->leader].len;
  uint32_t at = gro->next[g->leader];
  for (uint32_t k = 1; k < g->count && at; k++) {
    const struct ion_pkt *m = &pkts[at - 1];
    iov[*niov].iov_base = m->data + g->hdr_len;
    iov[(*niov)++].iov_len = m->len - g->hdr_len;
    at = gro->next[at - 1];
  }
  w->niov = *niov - w->iov;
}

int ion_gro_coalesce(struct ion_gro *gro, const struct ion_pkt *pkts,
                     uint32_t n, unsigned features, struct ion_gro_write *w,
                     uint32_t wcap, struct iovec *iov, uint32_t iovcap) {
  if (!gro || (n && (!pkts || !w || !iov)) || n > ION_GRO_MAX_BATCH ||
      (features & ~(unsigned)(ION_GRO_TCP | ION_GRO_UDP | ION_GRO_TRUSTED)))
    return -EINVAL;
  if (wcap < n || iovcap < n) return -ENOSPC;
  for (uint32_t i = 0; i < n; i++)
    if (!pkts[i].data) return -EINVAL;
  memset(gro->bucket, 0, sizeof(gro->bucket));
  memset(gro->next, 0, n * sizeof(gro->next[0]));
  uint32_t ngroups = 0, niov = 0;
  for (uint32_t i = 0; i < n; i++)
    ngroups = assign(gro, pkts, i, ngroups, features);
  for (uint32_t k = 0; k < ngroups; k++)
    emit(gro, &gro->g[k], pkts, &w[k], iov, &niov);
  return (int)ngroups;
}

long ion_iov_gather(const struct iovec *iov, uint32_t niov, uint8_t *dst,
                    size_t cap) {
  size_t total = 0;
  for (uint32_t i = 0; i < niov; i++) {
    if (iov[i].iov_len > cap - total) return -ENOSPC;
    total += iov[i].iov_len;
  }
  size_t at = 0;
  for (uint32_t i = 0; i < niov; i++) {
    if (iov[i].iov_len) memcpy(dst + at, iov[i].iov_base, iov[i].iov_len);
    at += iov[i].iov_len;
  }
  return (long)total;
}

int ion_gro_restore(uint8_t *p, uint32_t len) {
  if (!p || len < ION_IP4_HLEN || len > ION_OFFLOAD_MAX_PKT) return -EINVAL;
  uint32_t l3;
  uint8_t proto;
  if (p[0] == 0x45) { /* leaders never have IPv4 options */
    l3 = ION_IP4_HLEN;
    proto = p[9];
    ion_put16(p + 2, len);
    ion_ip4_fix_csum(p, ION_IP4_HLEN);
  } else if ((p[0] >> 4) == 6 && len >= ION_IP6_HLEN) {
    l3 = ION_IP6_HLEN; /* nor IPv6 extension headers */
    proto = p[6];
    ion_put16(p + 4, len - ION_IP6_HLEN);
  } else {
    return -EINVAL;
  }
  uint8_t *l4 = p + l3, *check;
  if (proto == ION_IPPROTO_TCP && len >= l3 + ION_TCP_HLEN) {
    /* A leader had neither (may_lead): they came from the last member. */
    l4[ION_TCP_FLAGS_OFF] &= (uint8_t)~(ION_TCP_FIN | ION_TCP_PSH);
    check = l4 + ION_TCP_CSUM_OFF;
  } else if (proto == ION_IPPROTO_UDP && len >= l3 + ION_UDP_HLEN) {
    ion_put16(l4 + 4, len - l3);
    check = l4 + ION_UDP_CSUM_OFF;
  } else {
    return -EINVAL;
  }
  check[0] = check[1] = 0;
  uint64_t acc = ion_csum_pseudo(addrs_of(p), alen_of(p[0] >> 4), proto,
                                 len - l3);
  uint16_t c = (uint16_t)~ion_csum_fold(ion_csum_add(acc, l4, len - l3));
  /* UDP: 0 means "no checksum", so a computed 0 goes out as 0xffff. */
  ion_csum_store(check, c || proto == ION_IPPROTO_TCP ? c : 0xffff);
  return 0;
}
