/*
 * The virtio-net header that a TUN device opened with IFF_VNET_HDR puts in
 * front of every packet it hands out, and expects in front of every packet
 * written to it (include/uapi/linux/virtio_net.h, struct virtio_net_hdr).
 *
 * Fields are in host byte order: TUN uses the legacy virtio layout, which
 * is native-endian unless TUNSETVNETLE/TUNSETVNETBE was called (we never
 * call them). The packet's own headers stay in network byte order.
 *
 * Debian 12's 6.1 UAPI headers lack GSO_UDP_L4 (Linux 6.2, USO), so every
 * value is defined here and pinned with static asserts against the system
 * header where that header has it, as libuv does for io_uring.
 */
#ifndef ION_TUN_VNET_H
#define ION_TUN_VNET_H

#include <stddef.h>
#include <stdint.h>

struct ion_vnet_hdr {
  uint8_t flags;        /* ION_VNET_F_* */
  uint8_t gso_type;     /* ION_VNET_GSO_*, optionally | ION_VNET_GSO_ECN */
  uint16_t hdr_len;     /* IP + TCP/UDP header bytes (kernel: only a hint) */
  uint16_t gso_size;    /* payload bytes per segment (MSS) */
  uint16_t csum_start;  /* where the checksummed range begins */
  uint16_t csum_offset; /* where the checksum goes, from csum_start */
};

/* The 12-byte form (VIRTIO_NET_F_MRG_RXBUF). We set TUNSETVNETHDRSZ to 10
 * and never use it; defined so that a reader of a 12-byte setup knows the
 * extra field is a buffer count, not packet data. */
struct ion_vnet_hdr_mrg {
  struct ion_vnet_hdr hdr;
  uint16_t num_buffers;
};

#define ION_VNET_HDR_LEN 10

_Static_assert(sizeof(struct ion_vnet_hdr) == ION_VNET_HDR_LEN,
               "virtio_net_hdr is 10 bytes");
_Static_assert(sizeof(struct ion_vnet_hdr_mrg) == 12,
               "virtio_net_hdr_mrg_rxbuf is 12 bytes");
_Static_assert(offsetof(struct ion_vnet_hdr, hdr_len) == 2, "hdr_len at 2");
_Static_assert(offsetof(struct ion_vnet_hdr, gso_size) == 4, "gso_size at 4");
_Static_assert(offsetof(struct ion_vnet_hdr, csum_start) == 6,
               "csum_start at 6");
_Static_assert(offsetof(struct ion_vnet_hdr, csum_offset) == 8,
               "csum_offset at 8");

/* flags */
enum {
  /* The L4 checksum is partial: the field at csum_start + csum_offset holds
   * the pseudo-header sum; the rest must be summed from csum_start on. */
  ION_VNET_F_NEEDS_CSUM = 1,
  /* The kernel already verified the checksum (we may ignore it). */
  ION_VNET_F_DATA_VALID = 2,
};

/* gso_type */
enum {
  ION_VNET_GSO_NONE = 0,
  ION_VNET_GSO_TCPV4 = 1,
  ION_VNET_GSO_UDP = 3, /* UFO (IP fragmentation); never enabled by us */
  ION_VNET_GSO_TCPV6 = 4,
  ION_VNET_GSO_UDP_L4 = 5, /* USO, Linux 6.2 */
  ION_VNET_GSO_ECN = 0x80, /* TCP with CWR set on the first segment */
};

#if __has_include(<linux/virtio_net.h>)
#include <linux/virtio_net.h>
_Static_assert(sizeof(struct virtio_net_hdr) == ION_VNET_HDR_LEN,
               "matches the kernel's struct virtio_net_hdr");
_Static_assert(VIRTIO_NET_HDR_F_NEEDS_CSUM == ION_VNET_F_NEEDS_CSUM, "flag");
_Static_assert(VIRTIO_NET_HDR_F_DATA_VALID == ION_VNET_F_DATA_VALID, "flag");
_Static_assert(VIRTIO_NET_HDR_GSO_TCPV4 == ION_VNET_GSO_TCPV4, "gso type");
_Static_assert(VIRTIO_NET_HDR_GSO_UDP == ION_VNET_GSO_UDP, "gso type");
_Static_assert(VIRTIO_NET_HDR_GSO_TCPV6 == ION_VNET_GSO_TCPV6, "gso type");
_Static_assert(VIRTIO_NET_HDR_GSO_ECN == ION_VNET_GSO_ECN, "gso type");
#ifdef VIRTIO_NET_HDR_GSO_UDP_L4
_Static_assert(VIRTIO_NET_HDR_GSO_UDP_L4 == ION_VNET_GSO_UDP_L4, "gso type");
#endif
#endif

#endif
