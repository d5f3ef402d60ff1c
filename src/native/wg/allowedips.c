/* Cryptokey routing trie, see allowedips.h.
 *
 * Invariants: a child's prefix extends its parent's and is longer, the
 * child sits under the bit of its key at the parent's prefix length, and a
 * node without a peer has two children. Because prefix lengths strictly
 * grow downwards, no path is longer than 129 nodes: that bounds every loop
 * and the recursion depth below. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "wg/allowedips.h"

struct wg_aip_node {
  wg_aip_node *child[2];
  int32_t peer; /* -1: branch node only */
  uint8_t cidr;
  uint8_t key[16]; /* the prefix, host bits zero */
};

#define MAX_DEPTH 129

static int family_bits(int family) {
  return family == AF_INET ? 32 : family == AF_INET6 ? 128 : -1;
}

static wg_aip_node **root_of(wg_allowedips *t, int family) {
  return family == AF_INET ? &t->root4 : &t->root6;
}

static unsigned bit_at(const uint8_t *a, unsigned i) {
  return (a[i >> 3] >> (7 - (i & 7))) & 1;
}

/* dst = the first cidr bits of src, the rest zero. Reads only the bytes
 * the prefix covers, so a 4-byte IPv4 address is never overread. */
static void mask_copy(uint8_t dst[16], const uint8_t *src, unsigned cidr) {
  unsigned full = cidr >> 3;
  memset(dst, 0, 16);
  memcpy(dst, src, full);
  if (cidr & 7) dst[full] = src[full] & (uint8_t)(0xff << (8 - (cidr & 7)));
}

/* How many leading bits a and b share, at most max. */
static unsigned common_bits(const uint8_t *a, const uint8_t *b, unsigned max) {
  unsigned i = 0;
  while (i + 8 <= max && a[i >> 3] == b[i >> 3]) i += 8;
  if (i >= max) return max;
  unsigned x = a[i >> 3] ^ b[i >> 3];
  if (!x) return max; /* the differing bits lie beyond max */
  i += (unsigned)__builtin_clz(x) - 24;
  return i < max ? i : max;
}

/* Does addr lie in n's prefix? Whole bytes, then the masked last byte. */
static bool matches(const wg_aip_node *n, const uint8_t *addr) {
  unsigned full = n->cidr >> 3, rest = n->cidr & 7;
  if (memcmp(n->key, addr, full) != 0) return false;
  return !rest ||
         !((n->key[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

static wg_aip_node *new_node(const uint8_t key[16], unsigned cidr,
                             int32_t peer) {
  wg_aip_node *n = calloc(1, sizeof(*n));
  if (!n) return NULL;
  memcpy(n->key, key, 16);
  n->cidr = (uint8_t)cidr;
  n->peer = peer;
  return n;
}

void wg_aips_init(wg_allowedips *t) { memset(t, 0, sizeof(*t)); }

/* Put a new prefix where n (at *slot) diverges from it after `common`
 * bits: either above n (the new prefix covers n) or beside it under a new
 * branch node. */
static int split(wg_allowedips *t, wg_aip_node **slot, const uint8_t *key,
                 unsigned cidr, int32_t peer, unsigned common) {
  wg_aip_node *n = *slot, *leaf = new_node(key, cidr, peer);
  if (!leaf) return -ENOMEM;
  if (common == cidr) {
    leaf->child[bit_at(n->key, cidr)] = n;
    *slot = leaf;
  } else {
    uint8_t bkey[16];
    mask_copy(bkey, key, common);
    wg_aip_node *branch = new_node(bkey, common, -1);
    if (!branch) {
      free(leaf);
      return -ENOMEM;
    }
    branch->child[bit_at(key, common)] = leaf;
    branch->child[bit_at(n->key, common)] = n;
    *slot = branch;
  }
  t->count++;
  return 0;
}

int wg_aips_insert(wg_allowedips *t, int family, const uint8_t *addr,
                   uint8_t cidr, int32_t peer) {
  int bits = family_bits(family);
  if (bits < 0 || !addr || cidr > bits || peer < 0) return -EINVAL;
  uint8_t key[16];
  mask_copy(key, addr, cidr);
  wg_aip_node **slot = root_of(t, family);
  for (int depth = 0; depth <= MAX_DEPTH; depth++) {
    wg_aip_node *n = *slot;
    if (!n) {
      if (!(*slot = new_node(key, cidr, peer))) return -ENOMEM;
      t->count++;
      return 0;
    }
    unsigned max = n->cidr < cidr ? n->cidr : cidr;
    unsigned common = common_bits(n->key, key, max);
    if (common < n->cidr) return split(t, slot, key, cidr, peer, common);
    if (n->cidr == cidr) { /* exists: it moves to this peer */
      if (n->peer < 0) t->count++;
      n->peer = peer;
      return 0;
    }
    slot = &n->child[bit_at(key, n->cidr)];
  }
  return -EINVAL; /* unreachable while the invariants hold */
}

/* After the node at path[depth-1] lost its peer: free the nodes that now
 * neither hold a peer nor branch, bottom up, lifting an only child into
 * its grandparent's slot. */
static void compact(wg_aip_node **path[], int depth) {
  for (int i = depth - 1; i >= 0; i--) {
    wg_aip_node *n = *path[i];
    if (n->peer >= 0 || (n->child[0] && n->child[1])) return;
    *path[i] = n->child[0] ? n->child[0] : n->child[1];
    free(n);
  }
}

int wg_aips_remove(wg_allowedips *t, int family, const uint8_t *addr,
                   uint8_t cidr, int32_t peer) {
  int bits = family_bits(family);
  if (bits < 0 || !addr || cidr > bits || peer < 0) return -EINVAL;
  uint8_t key[16];
  mask_copy(key, addr, cidr);
  wg_aip_node **path[MAX_DEPTH + 1];
  wg_aip_node **slot = root_of(t, family);
  int depth = 0;
  while (*slot && depth <= MAX_DEPTH) {
    wg_aip_node *n = *slot;
    if (n->cidr > cidr || !matches(n, key)) return -ENOENT;
    path[depth++] = slot;
    if (n->cidr == cidr) break;
    slot = &n->child[bit_at(key, n->cidr)];
  }
  if (depth == 0) return -ENOENT;
  wg_aip_node *n = *path[depth - 1];
  if (n->cidr != cidr || n->peer != peer) return -ENOENT;
  n->peer = -1;
  t->count--;
  compact(path, depth);
  return 0;
}

/* Post-order: drop `peer`'s prefixes below *slot (every prefix when peer
 * is -1) and merge away the nodes left without a purpose. */
static uint32_t prune(wg_aip_node **slot, int32_t peer, int depth) {
  wg_aip_node *n = *slot;
  if (!n || depth > MAX_DEPTH) return 0;
  uint32_t removed = prune(&n->child[0], peer, depth + 1) +
                     prune(&n->child[1], peer, depth + 1);
  if (n->peer >= 0 && (peer < 0 || n->peer == peer)) {
    n->peer = -1;
    removed++;
  }
  if (n->peer < 0 && !(n->child[0] && n->child[1])) {
    *slot = n->child[0] ? n->child[0] : n->child[1];
    free(n);
  }
  return removed;
}

uint32_t wg_aips_remove_peer(wg_allowedips *t, int32_t peer) {
  if (peer < 0) return 0;
  uint32_t removed = prune(&t->root4, peer, 0) + prune(&t->root6, peer, 0);
  t->count -= removed;
  return removed;
}

void wg_aips_free(wg_allowedips *t) {
  prune(&t->root4, -1, 0);
  prune(&t->root6, -1, 0);
  t->count = 0;
}

int32_t wg_aips_lookup(const wg_allowedips *t, int family,
                       const uint8_t *addr) {
  int bits = family_bits(family);
  if (bits < 0 || !addr) return -EINVAL;
  const wg_aip_node *n = family == AF_INET ? t->root4 : t->root6;
  int32_t best = -ENOENT;
  for (int depth = 0; n && depth <= MAX_DEPTH; depth++) {
    if (!matches(n, addr)) break;
    if (n->peer >= 0) best = n->peer;
    if (n->cidr >= bits) break;
    n = n->child[bit_at(addr, n->cidr)];
  }
  return best;
}

/* Pre-order, child 0 before child 1: address order, shorter first. */
static int walk(const wg_aip_node *n, int32_t peer, int family,
                wg_aips_walk_fn fn, void *arg, int depth) {
  if (!n || depth > MAX_DEPTH) return 0;
  int rc = n->peer == peer ? fn(arg, family, n->key, n->cidr) : 0;
  if (!rc) rc = walk(n->child[0], peer, family, fn, arg, depth + 1);
  if (!rc) rc = walk(n->child[1], peer, family, fn, arg, depth + 1);
  return rc;
}

int wg_aips_walk(const wg_allowedips *t, int32_t peer, wg_aips_walk_fn fn,
                 void *arg) {
  if (peer < 0 || !fn) return -EINVAL;
  int rc = walk(t->root4, peer, AF_INET, fn, arg, 0);
  return rc ? rc : walk(t->root6, peer, AF_INET6, fn, arg, 0);
}
