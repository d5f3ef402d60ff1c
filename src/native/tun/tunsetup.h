/*
 * Turning on TUN offloads for a TUN fd opened with IFF_VNET_HDR (tun.h's
 * ION_TUN_VNET_HDR): TUNSETVNETHDRSZ, then TUNSETOFFLOAD with the largest
 * set of features the kernel takes. Plain C, -errno returns.
 */
#ifndef ION_TUN_TUNSETUP_H
#define ION_TUN_TUNSETUP_H

/* TUNSETOFFLOAD bits (include/uapi/linux/if_tun.h). USO4/USO6 are Linux
 * 6.2 and missing from Debian 12's headers. */
enum {
  ION_TUN_F_CSUM = 0x01,    /* we accept packets with partial checksums */
  ION_TUN_F_TSO4 = 0x02,    /* ... and TCP/IPv4 super-segments */
  ION_TUN_F_TSO6 = 0x04,    /* ... and TCP/IPv6 super-segments */
  ION_TUN_F_TSO_ECN = 0x08, /* ... with CWR on the first segment */
  ION_TUN_F_USO4 = 0x20,    /* ... and UDP/IPv4 super-segments */
  ION_TUN_F_USO6 = 0x40,    /* ... and UDP/IPv6 super-segments */
};

/* Everything the split side (offload.h) handles. */
#define ION_TUN_F_ALL                                                   \
  (ION_TUN_F_CSUM | ION_TUN_F_TSO4 | ION_TUN_F_TSO6 | ION_TUN_F_TSO_ECN | \
   ION_TUN_F_USO4 | ION_TUN_F_USO6)

/* Set the virtio header size to ION_VNET_HDR_LEN (10) and ask for `want`
 * (a subset of ION_TUN_F_ALL): all of it, else without USO (kernels before
 * 6.2 refuse the unknown bits with EINVAL), else CSUM alone, else nothing;
 * the kernel refuses TSO without CSUM and USO4 without USO6, so those are
 * dropped together. Returns the ION_TUN_F_* set that is on (0: the fd
 * still carries virtio headers, with no offloads), or -errno: -EINVAL when
 * the fd was not opened with IFF_VNET_HDR or want has unknown bits,
 * -EBADFD/-ENOTTY when it is not an attached TUN fd. */
int ion_tun_enable_offload(int fd, unsigned want);

/* The coalescing features (offload.h ION_GRO_*) that a TUN_F_* set allows
 * for writes: TCP needs CSUM and TSO4 and TSO6, UDP needs CSUM and USO. */
unsigned ion_tun_gro_features(unsigned tun_features);

#endif
