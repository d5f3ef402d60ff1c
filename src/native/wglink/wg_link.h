/* The WireGuard device's data path between the native objects: TUN
 * packets sealed straight into a window of the UDP socket's send ring, and
 * UDP datagrams opened in place in the socket's receive pool and copied
 * into a window of the TUN device's write ring. One call per batch (or per
 * window, when a ring fills), no per-packet JS, no per-packet allocation.
 *
 * Windows come from JS (SendQueue.window(), src/core/sendqueue.ts) and are
 * checked by the object that owns the ring (ion_udp_window_open,
 * ion_file_window_open) before anything is written; JS then commits the
 * descriptors used. A NULL window means "no room now": sealed packets are
 * staged in the WireGuard device (bounded per peer, flushed later with
 * wg_link_flush), opened packets are dropped and counted (WG_DROP_SINK).
 *
 * Plain C (no Node-API): the addon's glue is addon_wg_link.c. */
#ifndef ION_WG_LINK_H
#define ION_WG_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/dring.h"
#include "file/file.h"
#include "udp/udp.h"
#include "wg/datapath.h"

/* Bytes a TUN write may carry before the IP packet (a virtio_net_hdr when
 * the device has offloads on: 10 or 12 bytes). Written as zeros. */
#define WG_LINK_MAX_HEADROOM 64u

/* Per-device scratch, grown (never per packet) to the largest batch seen.
 * Zero-initialize; free with wg_link_scratch_free. */
typedef struct wg_link_scratch {
  wg_packet *pkts;
  wg_datagram *dgs;
  uint32_t cap;
} wg_link_scratch;

void wg_link_scratch_free(wg_link_scratch *s);

/* Where the sealed messages of one call went. */
typedef struct wg_link_tx {
  uint32_t next;    /* the first input packet not consumed */
  uint32_t used;    /* window descriptors filled (JS commits these) */
  wg_tx_result res; /* sent (staged flushes included), staged, dropped */
} wg_link_tx;

/* Seal TUN packets [start, count) of the batch JS is handling on f into
 * window w of u (w may be NULL). Takes at least one packet and as many as
 * surely fit the window; staged packets of every peer go first. 0, or
 * -EINVAL (a bad index or entry, start > count), -ENOMEM. */
int wg_link_seal(wg_device *d, ion_file *f, uint32_t start, uint32_t count,
                 ion_udp *u, ion_dring_window *w, uint64_t now,
                 wg_link_scratch *s, wg_link_tx *out);

/* Send staged packets of every peer that can send now into w. */
int wg_link_flush(wg_device *d, ion_udp *u, ion_dring_window *w,
                  uint64_t now, wg_link_tx *out);

/* A keepalive for peer id into w (see wg_send_keepalive): messages sent,
 * -ENOENT, -ENOBUFS (no room: it waits staged). out->used as above. */
int wg_link_keepalive(wg_device *d, uint32_t id, bool only_if_owed,
                      ion_udp *u, ion_dring_window *w, uint64_t now,
                      wg_link_tx *out);

typedef struct wg_link_rx {
  uint32_t next;    /* the first datagram not processed */
  uint32_t used;    /* TUN window descriptors filled */
  uint32_t nhs;     /* handshake indices written to hs */
  wg_rx_result res; /* delivered, keepalives, handshakes, dropped */
} wg_link_rx;

/* Open datagrams [start, count) of the batch JS is handling on u, in
 * place, and write the authenticated plaintext into window w of f (NULL:
 * the plaintext is dropped, WG_DROP_SINK), each behind `headroom` zero
 * bytes. Takes at least one datagram and as many as surely fit. Handshake
 * messages are left to JS: their batch indices go to hs (up to hs_cap;
 * res.handshakes counts them all). 0 or -EINVAL, -ENOMEM. */
int wg_link_open(wg_device *d, ion_udp *u, uint32_t start, uint32_t count,
                 ion_file *f, ion_dring_window *w, uint32_t headroom,
                 uint64_t now, wg_link_scratch *s, int32_t *hs,
                 uint32_t hs_cap, wg_link_rx *out);

#endif
