/*
 * TUN offloads (IFF_VNET_HDR) as plain functions over buffers: no io_uring,
 * no Node-API, no allocation. Every function returns a count or 0, or
 * -errno (-EINVAL: malformed input or arguments; -ENOSPC: the output the
 * caller gave is too small).
 *
 * Read side (what a TUN read returns: virtio_net_hdr + IP packet):
 *   ion_vnet_parse     validate, and say how many packets it becomes;
 *   ion_vnet_complete  the common case in place: a non-GSO packet, with its
 *                      partial checksum (NEEDS_CSUM) completed;
 *   ion_vnet_split     any packet into caller-provided slots: TSO/USO
 *                      super-segments become MSS-sized IP packets with every
 *                      header and checksum filled in, as the kernel's own
 *                      GSO would (net/ipv4/tcp_offload.c, udp_offload.c).
 *
 * Write side (a batch of IP packets about to be written to the TUN):
 *   ion_gro_coalesce   group them as the kernel's GRO would (net/core/gro.c,
 *                      tcp_gro_receive, udp_gro_receive_segment) into one
 *                      TUN write per group, each with its virtio_net_hdr;
 *   ion_iov_gather     flatten one write into a contiguous buffer.
 *
 * Measured here (-O2, one core, 64 KiB of TCP in 1448-byte segments):
 * split ~15 us per super-segment (~33 Gbit/s), coalesce ~10 us (~50
 * Gbit/s, mostly verifying every packet's checksum).
 */
#ifndef ION_TUN_OFFLOAD_H
#define ION_TUN_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tun/vnet.h"

/* The largest IP packet either side builds or accepts as a super-segment:
 * the IPv4 total-length field's limit, used for IPv6 too (like the kernel's
 * default gro_max_size / gso_max_size of 64 KiB). */
#define ION_OFFLOAD_MAX_PKT 65535

/* One packet buffer. Split: data and cap are inputs, len is written.
 * Coalesce: data and len are inputs, cap is not used. */
struct ion_pkt {
  uint8_t *data;
  uint32_t len;
  uint32_t cap;
};

/* ---- read side ---- */

struct ion_vnet_info {
  struct ion_vnet_hdr hdr; /* the header as read */
  uint32_t pkt_len;        /* IP packet bytes after the header */
  uint32_t segs;           /* packets ion_vnet_split produces (>= 1) */
  uint32_t seg_max;        /* the largest of them, bytes */
  uint16_t l3_len;         /* GSO: IP header (+ IPv6 options) bytes */
  uint16_t hdr_len;        /* GSO: l3_len + TCP/UDP header bytes */
  uint8_t gso;             /* hdr.gso_type without ION_VNET_GSO_ECN */
  uint8_t proto;           /* GSO: ION_IPPROTO_TCP or _UDP, else 0 */
};

/* Validate one TUN read (buf = virtio_net_hdr + IP packet, len bytes) and
 * describe it. For GSO packets the IP and TCP/UDP headers are parsed
 * (the kernel's hdr_len is only a hint and is not trusted); csum_start and
 * csum_offset, when NEEDS_CSUM is set, must point at the TCP/UDP checksum.
 * Accepted: gso_type NONE (any packet; NEEDS_CSUM range inside it),
 * TCPV4 (+ECN) over IPv4, TCPV6 (+ECN) over IPv6, UDP_L4 over either; IPv4
 * without fragmentation and with total length == the packet length; IPv6
 * with payload length == the rest, hop-by-hop/destination options allowed.
 * Returns 0, or -EINVAL for anything else. */
int ion_vnet_parse(const uint8_t *buf, size_t len, struct ion_vnet_info *info);

/* Finish a non-GSO read in place: complete the partial checksum when
 * NEEDS_CSUM is set (as the kernel's skb_checksum_help: 0 becomes 0xffff).
 * Returns 0 when the IP packet at buf + ION_VNET_HDR_LEN (len -
 * ION_VNET_HDR_LEN bytes) is ready to send, 1 when it is a GSO
 * super-segment (nothing written: call ion_vnet_split), -EINVAL when
 * malformed (see ion_vnet_parse). */
int ion_vnet_complete(uint8_t *buf, size_t len);

/* Split one TUN read into out[0..nout): each out[i].data receives a
 * ready-to-send IP packet of out[i].len bytes (at most out[i].cap).
 * Per segment: IPv4 total length, id (+1 per segment) and header checksum,
 * or IPv6 payload length; TCP sequence number (+gso_size per segment),
 * FIN/PSH only on the last segment, CWR only on the first; UDP length; the
 * full TCP/UDP checksum. A non-GSO packet is copied into out[0], with its
 * partial checksum completed if NEEDS_CSUM. buf is not modified.
 * Returns the number of packets (>= 1), -EINVAL (malformed), or -ENOSPC
 * (fewer than info.segs slots, or a slot smaller than its packet; slots
 * before the failing one may have been written). */
int ion_vnet_split(const uint8_t *buf, size_t len, struct ion_pkt *out,
                   uint32_t nout);

/* Segments [first, first + nout) of what ion_vnet_split would produce
 * (fewer at the end), into out[0..): one super-segment can be split over
 * several calls when the caller has room for only part of it now. Same
 * packets, byte for byte, as ion_vnet_split gives at those indices.
 * Returns the count written (0 when first >= info.segs or nout == 0),
 * -EINVAL (malformed) or -ENOSPC (a slot smaller than its packet). */
int ion_vnet_split_from(const uint8_t *buf, size_t len, uint32_t first,
                        struct ion_pkt *out, uint32_t nout);

/* ---- write side ---- */

/* What to coalesce (tunsetup.h ion_tun_gro_features maps TUN_F_* to
 * these). Any TUN with IFF_VNET_HDR takes TCP GSO writes, and UDP_L4 ones
 * from Linux 6.2; we follow what the read side got, so one probe decides. */
enum {
  ION_GRO_TCP = 1, /* TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 are on */
  ION_GRO_UDP = 2, /* TUN_F_USO4 | TUN_F_USO6 are on (Linux 6.2+) */
  /* The packets' TCP/UDP checksums were already vouched for (WireGuard:
   * they came out of an authenticated decryption), so coalescing does not
   * check them again. Otherwise every packet's checksum is verified before
   * it joins: with NEEDS_CSUM the kernel would never check it. */
  ION_GRO_TRUSTED = 4,
};

#define ION_GRO_MAX_BATCH 1024 /* packets per ion_gro_coalesce call */
#define ION_GRO_BUCKETS 256
#define ION_GRO_MAX_UDP_SEGS 64 /* the kernel's UDP_GRO_CNT_MAX */

/* One TUN write: iov[iov .. iov + niov) of the caller's iovec array, len
 * bytes in all (virtio_net_hdr + IP packet). */
struct ion_gro_write {
  uint32_t iov;
  uint32_t niov;
  uint32_t len;
  uint32_t pkt;   /* index of its first packet: the header is in front of it */
  uint32_t npkts; /* packets coalesced into it (1: written as is) */
};

/* A group being built (internal to gro.c; here so that the caller can
 * allocate struct ion_gro once, e.g. per device, and reuse it). */
struct ion_gro_group {
  uint32_t hash;
  uint32_t next_seq;  /* TCP: the sequence number the next member needs */
  uint32_t total;     /* IP length if written now */
  uint16_t leader;    /* packet indices */
  uint16_t last;
  uint16_t count;     /* packets in the group */
  uint16_t mss;       /* the leader's payload length = gso_size */
  uint16_t chain;     /* next group in the hash bucket, + 1 (0: none) */
  uint16_t ip_id;     /* IPv4: the leader's id */
  uint8_t l3_len;
  uint8_t hdr_len;    /* l3_len + TCP/UDP header length */
  uint8_t proto;      /* 0: not a coalescing candidate */
  uint8_t open : 1;   /* members may still join */
  uint8_t id_fixed : 1;   /* IPv4 ids do not increment (DF set) */
  uint8_t leader_ok : 1;  /* the leader's checksum was verified */
};

struct ion_gro {
  uint16_t bucket[ION_GRO_BUCKETS]; /* group index + 1 */
  uint16_t next[ION_GRO_MAX_BATCH]; /* per packet: next member + 1 */
  struct ion_gro_group g[ION_GRO_MAX_BATCH];
};

/* Coalesce a batch of IP packets (pkts[0..n), n <= ION_GRO_MAX_BATCH) into
 * TUN writes, for a TUN opened with IFF_VNET_HDR and TUNSETVNETHDRSZ 10.
 *
 * In-place contract: the ION_VNET_HDR_LEN bytes in front of every
 * pkts[i].data must be writable headroom (they receive the virtio header
 * of the write that starts with that packet). Nothing is copied: a write
 * is a gather list whose first iovec is the header + the whole first
 * packet, followed by the payload (after the IP/TCP or UDP headers) of
 * every further packet. The first packet's headers are rewritten in place
 * for a coalesced write (IPv4 total length and header checksum or IPv6
 * payload length; UDP length; TCP PSH/FIN of the last member; the TCP/UDP
 * checksum field seeded with the pseudo-header sum, as the kernel's
 * tcp4_gro_complete leaves it); other packets are only read. Every buffer
 * must stay unchanged until the writes are done (and coalescing the same
 * buffers twice does not give the same result: the first packets are no
 * longer what they were). Use ion_iov_gather for a contiguous copy, or
 * pass the iovecs to writev / IORING_OP_WRITEV.
 *
 * Coalesced (features permitting): TCP and UDP over IPv4 without options
 * or fragmentation (valid header checksum) and over IPv6 without extension
 * headers; same addresses, ports and protocol; same TOS/TTL/DF (IPv4) or
 * traffic class/flow label/hop limit (IPv6); IPv4 ids incrementing by one,
 * or all equal with DF set; a valid, (UDP) non-zero TCP/UDP checksum; all
 * members but the last exactly as long as the first, the last no longer;
 * at most ION_OFFLOAD_MAX_PKT bytes. TCP also: contiguous sequence numbers;
 * same ack number, window, header length and option bytes; same flags
 * except that CWR may be only on the first and PSH/FIN only on the last;
 * no SYN/RST/URG. UDP: at most ION_GRO_MAX_UDP_SEGS packets. A packet
 * that cannot join its flow's group ends that group, so packet order
 * within a flow is kept; a packet of another protocol between the same
 * addresses (e.g. a fragment) ends the groups of that address pair too.
 * Everything else goes out as is, with an all-zero virtio header.
 *
 * Output: w[0..return) in the order of each write's first packet, their
 * iovecs in iov[]. wcap >= n and iovcap >= n are always enough (each packet
 * uses exactly one iovec). Returns the number of writes, -EINVAL (NULL
 * pointers, n > ION_GRO_MAX_BATCH, unknown features) or -ENOSPC. */
int ion_gro_coalesce(struct ion_gro *gro, const struct ion_pkt *pkts,
                     uint32_t n, unsigned features, struct ion_gro_write *w,
                     uint32_t wcap, struct iovec *iov, uint32_t iovcap);

/* Undo what ion_gro_coalesce did to the leader of a coalesced write (p,
 * its own len bytes), so it can be written alone after the kernel refused
 * the write: its own length back in the IP (and UDP) header, the IPv4
 * header checksum, TCP FIN/PSH cleared (a leader never has them; they came
 * from the last member), and the full TCP/UDP checksum. 0, or -EINVAL if
 * p is not a TCP/UDP packet a group could have been led by. */
int ion_gro_restore(uint8_t *p, uint32_t len);

/* Copy iov[0..niov) into dst (cap bytes). Returns the byte count, or
 * -ENOSPC when it does not fit (nothing is copied then). */
long ion_iov_gather(const struct iovec *iov, uint32_t niov, uint8_t *dst,
                    size_t cap);

#endif
