/*
 * The plain tunnel's data path in C (src/tunnel/tunnel.ts drives it): one
 * call per batch moves packets between a TUN device and a UDP socket,
 * through the objects' cross-object accessors (file/file.h, udp/udp.h),
 * with no JS per packet.
 *
 *   TUN -> peer  the TUN batch (plain IP packets: a vnet device has split
 *                its super-segments already) copied into a window of the
 *                socket's send ring, each datagram to the peer. Equal-size
 *                runs to one destination leave as one UDP GSO send.
 *   peer -> TUN  the datagrams of a UDP batch (GRO: many per receive) from
 *                the peer only, each an IPv4/IPv6 packet, copied into a
 *                window of the TUN write ring; the TUN flush coalesces
 *                them (vnet devices) and writes each group at once.
 *
 * A call stops when its window is full and says where (counts.next); the
 * caller asks for another window (the ring may have wrapped) or drops the
 * rest. Plain C, no allocation; -errno returns.
 */
#ifndef ION_TUNNEL_FORWARD_H
#define ION_TUNNEL_FORWARD_H

#include <stdint.h>

#include "core/dring.h"
#include "file/file.h"
#include "udp/udp.h"

/* The other end of the tunnel, as the socket sees it (udp.h words). */
typedef struct ion_fwd_peer {
  int family; /* 4 or 6 */
  uint16_t port;
  uint32_t scope;
  uint8_t addr[16]; /* IPv4: the first 4 */
} ion_fwd_peer;

typedef struct ion_fwd_counts {
  uint32_t next;          /* the first packet not handled (window full) */
  uint32_t used;          /* descriptors filled in the window */
  uint32_t packets;       /* packets forwarded */
  uint32_t bytes;
  uint32_t too_big;       /* cut, or longer than the other side takes */
  uint32_t not_from_peer; /* peer -> TUN: datagrams from anyone else */
  uint32_t malformed;     /* not an IPv4/IPv6 packet, or a bad entry */
} ion_fwd_counts;

/* TUN batch packets [start, count) into the UDP window w (opened with
 * ion_udp_window_open), each a datagram to peer; packets longer than
 * max_payload are dropped (too_big). 0 or -EINVAL. */
int ion_fwd_tun_to_udp(ion_file *tun, ion_udp *udp, struct ion_dring_window *w,
                       uint32_t start, uint32_t count,
                       const ion_fwd_peer *peer, uint32_t max_payload,
                       ion_fwd_counts *c);

/* UDP batch datagrams [start, count) from peer into the TUN window w
 * (ion_file_window_open): IPv4/IPv6 packets of at most max_packet bytes.
 * 0 or -EINVAL. */
int ion_fwd_udp_to_tun(ion_udp *udp, ion_file *tun, struct ion_dring_window *w,
                       uint32_t start, uint32_t count,
                       const ion_fwd_peer *peer, uint32_t max_packet,
                       ion_fwd_counts *c);

#endif
