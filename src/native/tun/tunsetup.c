/* TUN offload setup (see tunsetup.h). */
#define _GNU_SOURCE
#include "tun/tunsetup.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>

#include "tun/offload.h"
#include "tun/vnet.h"

_Static_assert(ION_TUN_F_CSUM == TUN_F_CSUM, "TUN_F_CSUM");
_Static_assert(ION_TUN_F_TSO4 == TUN_F_TSO4, "TUN_F_TSO4");
_Static_assert(ION_TUN_F_TSO6 == TUN_F_TSO6, "TUN_F_TSO6");
_Static_assert(ION_TUN_F_TSO_ECN == TUN_F_TSO_ECN, "TUN_F_TSO_ECN");
#ifdef TUN_F_USO4
_Static_assert(ION_TUN_F_USO4 == TUN_F_USO4, "TUN_F_USO4");
_Static_assert(ION_TUN_F_USO6 == TUN_F_USO6, "TUN_F_USO6");
#endif

static int set_offload(int fd, unsigned f) {
  return ioctl(fd, TUNSETOFFLOAD, (unsigned long)f) < 0 ? -errno : 0;
}

/* Drop what the kernel cannot take alone: TSO/ECN without CSUM, one USO
 * bit without the other, ECN without TSO. */
static unsigned coherent(unsigned f) {
  const unsigned uso = ION_TUN_F_USO4 | ION_TUN_F_USO6;
  if (!(f & ION_TUN_F_CSUM)) return 0;
  if ((f & uso) != uso) f &= ~uso;
  if (!(f & (ION_TUN_F_TSO4 | ION_TUN_F_TSO6))) f &= ~ION_TUN_F_TSO_ECN;
  return f;
}

int ion_tun_enable_offload(int fd, unsigned want) {
  if (want & ~(unsigned)ION_TUN_F_ALL) return -EINVAL;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  if (ioctl(fd, TUNGETIFF, &ifr) < 0) return -errno;
  /* Without IFF_VNET_HDR the kernel would take the offloads but never
   * prefix packets with the header that describes them. */
  if (!(ifr.ifr_flags & IFF_VNET_HDR)) return -EINVAL;
  int sz = ION_VNET_HDR_LEN;
  if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) return -errno;
  const unsigned uso = ION_TUN_F_USO4 | ION_TUN_F_USO6;
  unsigned tries[] = {coherent(want), coherent(want & ~uso),
                      want & ION_TUN_F_CSUM, 0};
  int rc = 0;
  for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
    rc = set_offload(fd, tries[i]);
    if (rc == 0) return (int)tries[i];
    if (rc != -EINVAL) break; /* EINVAL: a feature this kernel lacks */
  }
  return rc;
}

unsigned ion_tun_gro_features(unsigned f) {
  unsigned g = 0;
  const unsigned tso = ION_TUN_F_CSUM | ION_TUN_F_TSO4 | ION_TUN_F_TSO6;
  const unsigned uso = ION_TUN_F_CSUM | ION_TUN_F_USO4 | ION_TUN_F_USO6;
  if ((f & tso) == tso) g |= ION_GRO_TCP;
  if ((f & uso) == uso) g |= ION_GRO_UDP;
  return g;
}
