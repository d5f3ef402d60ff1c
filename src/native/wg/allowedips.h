/* Cryptokey routing: IPv4 and IPv6 prefixes -> peer id, longest prefix
 * match (the paper's section 2, wg(8)'s AllowedIPs).
 *
 * One path-compressed binary trie per family: a node holds a prefix and
 * branches on the first bit after it, so a lookup visits at most one node
 * per distinct prefix length on its path and never allocates. Nodes that
 * only branch (no peer) always have two children; removals merge the rest
 * away, so the trie stays at most 2n-1 nodes for n prefixes.
 *
 * Prefixes are canonical: host bits are masked on insert, as wg does, so
 * 10.0.0.1/24 is stored and listed as 10.0.0.0/24. Inserting a prefix that
 * exists moves it to the new peer (wg's rule). Not thread-safe: the caller
 * serialises (the device runs on one thread). */
#ifndef ION_WG_ALLOWEDIPS_H
#define ION_WG_ALLOWEDIPS_H

#include <stdint.h>

/* Peer ids are 0 .. WG_AIPS_PEER_MAX (int32 so -ENOENT fits beside them). */
#define WG_AIPS_PEER_MAX INT32_MAX

typedef struct wg_aip_node wg_aip_node;

typedef struct wg_allowedips {
  wg_aip_node *root4;
  wg_aip_node *root6;
  uint32_t count; /* prefixes stored, both families */
} wg_allowedips;

void wg_aips_init(wg_allowedips *t);
void wg_aips_free(wg_allowedips *t);

/* family: AF_INET (addr: 4 bytes, cidr <= 32) or AF_INET6 (16, <= 128).
 * 0 (also when the prefix moved from another peer), -EINVAL, -ENOMEM. */
int wg_aips_insert(wg_allowedips *t, int family, const uint8_t *addr,
                   uint8_t cidr, int32_t peer);
/* Remove one prefix if `peer` owns it: 0, -ENOENT, -EINVAL. */
int wg_aips_remove(wg_allowedips *t, int family, const uint8_t *addr,
                   uint8_t cidr, int32_t peer);
/* Remove every prefix of `peer`; returns how many. */
uint32_t wg_aips_remove_peer(wg_allowedips *t, int32_t peer);
/* The peer whose longest prefix holds addr, or -ENOENT (-EINVAL for a bad
 * family). */
int32_t wg_aips_lookup(const wg_allowedips *t, int family,
                       const uint8_t *addr);

/* Called per prefix of a peer (IPv4 first, then IPv6, each in address
 * order); a nonzero return stops the walk and is returned. */
typedef int (*wg_aips_walk_fn)(void *arg, int family, const uint8_t *addr,
                               uint8_t cidr);
int wg_aips_walk(const wg_allowedips *t, int32_t peer, wg_aips_walk_fn fn,
                 void *arg);

#endif
