/*
 * The offload engine against the real kernel, in a private network
 * namespace (unshare(CLONE_NEWNET), so nothing shows in the host's):
 *
 *   tun1  IFF_VNET_HDR + ion_tun_enable_offload, 10.99.0.1/24, fd63::1/64
 *   tun2  plain (no offloads), 10.98.0.1/24, fd62::1/64; forwarding on
 *
 * - setup: the offload ioctls succeed and report CSUM/TSO4/TSO6 (USO on
 *   Linux 6.2+); a TUN without IFF_VNET_HDR is refused.
 * - write side: packets from 10.99.0.2 to 10.98.0.2 coalesced into one
 *   write to tun1; the kernel forwards it out of tun2, which has no
 *   offloads, so it must segment it and finish every checksum from the
 *   pseudo-header sum we seeded. Each packet read from tun2 must pass the
 *   reference checksum check with the right payload. (Local delivery
 *   would prove less: the kernel trusts CHECKSUM_PARTIAL and never checks.)
 * - read side: a kernel TCP connection through tun1 (we play the peer)
 *   sends TSO super-segments, a UDP_SEGMENT send gives a USO one; split
 *   must turn them into correct packets.
 *
 * Skips, saying why, when not root, without /dev/net/tun, without
 * namespaces, or (per test) when the kernel lacks USO or IPv6.
 * TAP output and CHECK: test_util.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "offload_util.h"
#include "test_util.h"
#include "tun/tun.h"
#include "tun/tunsetup.h"

#define NPKT 20
#define PLEN 1200

static struct {
  char skip[200]; /* why the whole file skips, or "" */
  int v6;         /* IPv6 is configured */
  int t1, t2;
  int feat;       /* what ion_tun_enable_offload turned on */
} env = {.t1 = -1, .t2 = -1};

static uint8_t g_pkt[ION_VNET_HDR_LEN + 70000];

/* ---- namespace and interface setup ---- */

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n < 0 ? -errno : 0;
}

static int if_up_addr4(const char *name, const char *addr, const char *mask) {
  struct ifreq ifr;
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;
  if (s < 0) return -errno;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  sin->sin_family = AF_INET;
  inet_pton(AF_INET, addr, &sin->sin_addr);
  if (ioctl(s, SIOCSIFADDR, &ifr) < 0) rc = -errno;
  inet_pton(AF_INET, mask, &sin->sin_addr);
  if (!rc && ioctl(s, SIOCSIFNETMASK, &ifr) < 0) rc = -errno;
  if (!rc && ioctl(s, SIOCGIFFLAGS, &ifr) < 0) rc = -errno;
  ifr.ifr_flags |= IFF_UP;
  if (!rc && ioctl(s, SIOCSIFFLAGS, &ifr) < 0) rc = -errno;
  close(s);
  return rc;
}

/* struct in6_ifreq (linux/ipv6.h clashes with netinet/in.h). */
struct in6_req {
  struct in6_addr addr;
  uint32_t prefixlen;
  int ifindex;
};

static int if_addr6(const char *name, const char *addr) {
  struct in6_req r = {.prefixlen = 64, .ifindex = (int)if_nametoindex(name)};
  int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;
  if (s < 0) return -errno;
  inet_pton(AF_INET6, addr, &r.addr);
  if (ioctl(s, SIOCSIFADDR, &r) < 0) rc = -errno;
  close(s);
  return rc;
}

static void setup(void) {
  char n1[ION_TUN_NAMELEN], n2[ION_TUN_NAMELEN];
  int stage;
  if (geteuid() != 0) {
    snprintf(env.skip, sizeof(env.skip), "needs root (TUN devices, namespaces)");
    return;
  }
  if (access("/dev/net/tun", R_OK | W_OK) < 0) {
    snprintf(env.skip, sizeof(env.skip), "/dev/net/tun is missing");
    return;
  }
  if (unshare(CLONE_NEWNET) < 0) {
    snprintf(env.skip, sizeof(env.skip), "unshare(CLONE_NEWNET): %s",
             strerror(errno));
    return;
  }
  /* TUNs are NOARP (no DAD) already; this is belt and braces. */
  env.v6 = write_file("/proc/sys/net/ipv6/conf/default/accept_dad", "0") == 0 &&
           write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1") == 0;
  int rc = write_file("/proc/sys/net/ipv4/ip_forward", "1");
  if (rc == 0) env.t1 = ion_tun_open("oft1", ION_TUN_VNET_HDR, 1500, n1, &stage);
  if (rc == 0 && env.t1 >= 0) env.t2 = ion_tun_open("oft2", 0, 1500, n2, &stage);
  if (rc < 0 || env.t1 < 0 || env.t2 < 0) {
    snprintf(env.skip, sizeof(env.skip), "cannot set up the TUN devices: %s",
             strerror(-(rc < 0 ? rc : env.t1 < 0 ? env.t1 : env.t2)));
    return;
  }
  env.feat = ion_tun_enable_offload(env.t1, ION_TUN_F_ALL);
  if (if_up_addr4(n1, "10.99.0.1", "255.255.255.0") < 0 ||
      if_up_addr4(n2, "10.98.0.1", "255.255.255.0") < 0) {
    snprintf(env.skip, sizeof(env.skip), "cannot address the TUN devices");
    return;
  }
  if (env.v6) env.v6 = if_addr6(n1, "fd63::1") == 0 && if_addr6(n2, "fd62::1") == 0;
}

/* One packet from fd (poll, then read), or -ETIMEDOUT after ms. */
static int read_pkt(int fd, uint8_t *buf, size_t cap, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int n = poll(&p, 1, ms);
  if (n <= 0) return n < 0 ? -errno : -ETIMEDOUT;
  ssize_t r = read(fd, buf, cap);
  return r < 0 ? -errno : (int)r;
}

/* ---- tests ---- */

static int t_setup(void) {
  int st = FAIL;
  const int tcp = ION_TUN_F_CSUM | ION_TUN_F_TSO4 | ION_TUN_F_TSO6;
  SKIP_IF(env.skip[0], "%s", env.skip);
  printf("# offloads on: %#x (ION_TUN_F_*)%s\n", env.feat,
         env.feat & ION_TUN_F_USO4 ? ", with USO" : ", no USO (Linux < 6.2)");
  CHECKF(env.feat >= 0 && (env.feat & tcp) == tcp, "enable gave %d", env.feat);
  CHECK(ion_tun_enable_offload(env.t2, ION_TUN_F_ALL) == -EINVAL);
  CHECK(ion_tun_enable_offload(env.t1, 0x100) == -EINVAL);
  CHECK(ion_tun_enable_offload(-1, ION_TUN_F_ALL) == -EBADF);
  st = PASS;
out:
  return st;
}

/* NPKT packets from tun1's side to tun2's, coalesced into one write to
 * tun1; every one must come out of tun2 with correct checksums. */
static int forward(int v6, uint8_t proto) {
  int st = FAIL;
  struct ion_pkt p[NPKT] = {{0}};
  struct ion_gro_write w[NPKT];
  struct iovec iov[NPKT];
  int seen[NPKT] = {0}, got = 0;
  SKIP_IF(env.skip[0], "%s", env.skip);
  SKIP_IF(v6 && !env.v6, "IPv6 is not available here");
  SKIP_IF(proto == 17 && !(env.feat & ION_TUN_F_USO4),
          "the kernel takes no USO (Linux 6.2+)");
  struct spec s = spec_default(v6, proto);
  s.src_net = v6 ? 0x63 : 99;
  s.dst_net = v6 ? 0x62 : 98;
  s.src_last = 2;
  s.plen = PLEN;
  s.seed = 0xf00d + proto + (unsigned)v6;
  for (int i = 0; i < NPKT; i++, s.off += PLEN, s.seq += PLEN, s.id++) {
    size_t len = build_pkt(g_pkt, &s, 0);
    p[i].data = alloc_pkt(g_pkt, len);
    p[i].len = (uint32_t)len;
  }
  unsigned gro = ion_tun_gro_features((unsigned)env.feat);
  static struct ion_gro g;
  int nw = ion_gro_coalesce(&g, p, NPKT, gro, w, NPKT, iov, NPKT);
  CHECKF(nw == 1 && w[0].npkts == NPKT, "%d writes", nw);
  ssize_t wr = writev(env.t1, iov, (int)w[0].niov);
  CHECKF(wr == (ssize_t)w[0].len, "writev: %zd (%s)", wr, strerror(errno));
  for (int tries = 0; got < NPKT && tries < 200; tries++) {
    int n = read_pkt(env.t2, g_pkt, sizeof(g_pkt), 2000);
    CHECKF(n > 0, "tun2 read: %s after %d packets", strerror(-n), got);
    size_t l3 = v6 ? 40 : 20;
    if ((g_pkt[0] >> 4) != (v6 ? 6 : 4) || g_pkt[v6 ? 6 : 9] != proto)
      continue; /* router solicitations and the like */
    CHECKF(ref_packet_ok(g_pkt, (size_t)n), "packet %d: bad checksum", got);
    CHECK(g_pkt[v6 ? 7 : 8] == 63); /* forwarded: TTL / hop limit - 1 */
    size_t hdr = l3 + (proto == 6 ? 20u + s.optlen : 8u);
    CHECK((size_t)n == hdr + PLEN);
    uint32_t k = proto == 6 ? (rd32(g_pkt + l3 + 4) - spec_default(0, 6).seq) /
                                  PLEN
                            : (uint32_t)got;
    CHECKF(k < NPKT && !seen[k], "segment %u again or unknown", k);
    for (uint32_t j = 0; j < PLEN; j++)
      CHECKF(g_pkt[hdr + j] == stream_byte(s.seed, k * PLEN + j),
             "segment %u byte %u", k, j);
    seen[k] = 1;
    got++;
  }
  CHECK(got == NPKT);
  st = PASS;
out:
  for (int i = 0; i < NPKT; i++) free_pkt(p[i].data);
  return st;
}

static int t_forward_tcp4(void) { return forward(0, 6); }
static int t_forward_tcp6(void) { return forward(1, 6); }
static int t_forward_udp4(void) { return forward(0, 17); }
static int t_forward_udp6(void) { return forward(1, 17); }

/* A UDP_SEGMENT send through tun1 arrives as one USO super-segment. */
static int t_uso_read(void) {
  int st = FAIL, s = -1;
  struct ion_pkt out[16];
  uint8_t mem[16][1100], data[8123];
  SKIP_IF(env.skip[0], "%s", env.skip);
  SKIP_IF(!(env.feat & ION_TUN_F_USO4), "the kernel has no USO (Linux 6.2+)");
  for (size_t k = 0; k < sizeof(data); k++) data[k] = stream_byte(5, (uint32_t)k);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9999)};
  inet_pton(AF_INET, "10.99.0.2", &to.sin_addr);
  int seg = 1000;
  s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK(s >= 0 && setsockopt(s, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) == 0);
  CHECK(sendto(s, data, sizeof(data), 0, (struct sockaddr *)&to, sizeof(to)) ==
        (ssize_t)sizeof(data));
  for (int tries = 0; tries < 50; tries++) {
    int n = read_pkt(env.t1, g_pkt, sizeof(g_pkt), 2000);
    CHECKF(n > 0, "tun1 read: %s", strerror(-n));
    const uint8_t *ip = g_pkt + ION_VNET_HDR_LEN;
    if ((ip[0] >> 4) != 4 || ip[9] != 17 || rd16(ip + 22) != 9999) continue;
    struct ion_vnet_hdr h;
    memcpy(&h, g_pkt, sizeof(h));
    CHECKF(h.gso_type == ION_VNET_GSO_UDP_L4 && h.gso_size == 1000,
           "gso_type %u gso_size %u", h.gso_type, h.gso_size);
    for (int i = 0; i < 16; i++) out[i] = (struct ion_pkt){mem[i], 0, 1100};
    int segs = ion_vnet_split(g_pkt, (size_t)n, out, 16);
    CHECKF(segs == 9, "split gave %d", segs);
    for (int i = 0; i < segs; i++) {
      CHECK(ref_packet_ok(out[i].data, out[i].len));
      size_t want = i < 8 ? 1000 : 123;
      CHECK(out[i].len == 28 + want);
      CHECK(memcmp(out[i].data + 28, data + i * 1000, want) == 0);
    }
    st = PASS;
    goto out;
  }
  CHECK(!"no UDP packet to port 9999 came out of tun1");
out:
  if (s >= 0) close(s);
  return st;
}

/* ---- TSO: the kernel as a TCP client, us as the server behind tun1 ---- */

#define TSO_BYTES 60000
#define TSO_SLOTS 64

static uint8_t g_tso_data[TSO_BYTES];
static uint8_t g_slot_mem[TSO_SLOTS][1600];

/* The server side (10.99.0.2:80 -> 10.99.0.1:cport) of one packet. */
static int server_send(uint16_t cport, uint8_t flags, uint32_t seq,
                       uint32_t ack) {
  uint8_t b[ION_VNET_HDR_LEN + 100] = {0};
  struct spec s = spec_default(0, 6);
  s.src_net = s.dst_net = 99;
  s.src_last = 2;
  s.dst_last = 1;
  s.sport = 80;
  s.dport = cport;
  s.flags = flags;
  s.seq = seq;
  s.ack = ack;
  s.win = 65535;
  const uint8_t mss[4] = {2, 4, 1460 >> 8, 1460 & 0xff};
  memcpy(s.opts, mss, 4);
  s.optlen = (flags & 0x02) ? 4 : 0;
  size_t len = ION_VNET_HDR_LEN + build_pkt(b + ION_VNET_HDR_LEN, &s, 0);
  return write(env.t1, b, len) == (ssize_t)len ? 0 : -1;
}

/* The next TCP packet to port 80 out of tun1, split into out; *gso is
 * set when it was a super-segment. Returns the packet count or -errno. */
static int next_tcp(struct ion_pkt *out, uint16_t *cport, int *gso) {
  for (int tries = 0; tries < 50; tries++) {
    int n = read_pkt(env.t1, g_pkt, sizeof(g_pkt), 2000);
    if (n <= 0) return n;
    const uint8_t *ip = g_pkt + ION_VNET_HDR_LEN;
    if ((ip[0] >> 4) != 4 || ip[9] != 6 || rd16(ip + 22) != 80 ||
        (*cport && rd16(ip + 20) != *cport))
      continue;
    *cport = rd16(ip + 20);
    *gso = (g_pkt[1] & (uint8_t)~ION_VNET_GSO_ECN) != ION_VNET_GSO_NONE;
    for (int i = 0; i < TSO_SLOTS; i++)
      out[i] = (struct ion_pkt){g_slot_mem[i], 0, sizeof(g_slot_mem[i])};
    return ion_vnet_split(g_pkt, (size_t)n, out, TSO_SLOTS);
  }
  return -ETIMEDOUT;
}

/* Check split packets against the stream; advance *got (contiguous). */
static int take_data(const struct ion_pkt *out, int n, uint32_t base,
                     uint32_t *got) {
  for (int i = 0; i < n; i++) {
    const uint8_t *ip = out[i].data, *th = ip + 20;
    if (!ref_packet_ok(ip, out[i].len)) return -1;
    uint32_t thlen = (uint32_t)(th[12] >> 4) * 4;
    uint32_t plen = out[i].len - 20 - thlen, off = rd32(th + 4) - base;
    if (!plen || off > *got || off + plen <= *got) continue;
    if (off + plen > TSO_BYTES ||
        memcmp(ip + 20 + thlen, g_tso_data + off, plen) != 0)
      return -1;
    *got = off + plen;
  }
  return 0;
}

static int t_tso_read(void) {
  int st = FAIL, s = -1, gso = 0, n, any_gso = 0;
  uint16_t cport = 0;
  uint32_t got = 0, sent = 0;
  struct ion_pkt out[TSO_SLOTS];
  SKIP_IF(env.skip[0], "%s", env.skip);
  for (uint32_t k = 0; k < TSO_BYTES; k++) g_tso_data[k] = stream_byte(3, k);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(80)};
  inet_pton(AF_INET, "10.99.0.2", &to.sin_addr);
  s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  CHECK(s >= 0);
  CHECK(connect(s, (struct sockaddr *)&to, sizeof(to)) < 0 &&
        errno == EINPROGRESS);
  n = next_tcp(out, &cport, &gso);
  CHECKF(n == 1 && (out[0].data[33] & 0x02), "no SYN (%d)", n);
  uint32_t base = rd32(out[0].data + 24) + 1;
  CHECK(server_send(cport, 0x12, 5000, base) == 0); /* SYN-ACK */
  struct pollfd pw = {.fd = s, .events = POLLOUT};
  CHECK(poll(&pw, 1, 2000) == 1);
  for (int round = 0; got < TSO_BYTES && round < 400; round++) {
    while (sent < TSO_BYTES) {
      ssize_t r = send(s, g_tso_data + sent, TSO_BYTES - sent, MSG_DONTWAIT);
      if (r <= 0) break;
      sent += (uint32_t)r;
    }
    n = next_tcp(out, &cport, &gso);
    CHECKF(n > 0, "tun1: %d after %u bytes", n, got);
    any_gso |= gso;
    CHECKF(take_data(out, n, base, &got) == 0, "bad segment after %u", got);
    CHECK(server_send(cport, 0x10, 5001, base + got) == 0); /* ACK */
  }
  CHECKF(got == TSO_BYTES, "%u bytes arrived", got);
  CHECKF(any_gso, "TSO is on, yet no super-segment came (%u bytes)", got);
  st = PASS;
out:
  if (s >= 0) close(s);
  return st;
}

static const test_case tests[] = {
    {"TUN offload ioctls succeed and report features", t_setup},
    {"coalesced TCP/IPv4 write, forwarded and segmented by the kernel",
     t_forward_tcp4},
    {"coalesced TCP/IPv6 write, forwarded and segmented by the kernel",
     t_forward_tcp6},
    {"coalesced UDP/IPv4 write (USO), forwarded and segmented",
     t_forward_udp4},
    {"coalesced UDP/IPv6 write (USO), forwarded and segmented",
     t_forward_udp6},
    {"kernel USO super-segment read and split", t_uso_read},
    {"kernel TSO super-segments of a TCP connection read and split",
     t_tso_read},
};

int main(void) {
  setup();
  int rc = run_tests(tests, sizeof(tests) / sizeof(tests[0]));
  if (env.t1 >= 0) close(env.t1);
  if (env.t2 >= 0) close(env.t2);
  return rc;
}
