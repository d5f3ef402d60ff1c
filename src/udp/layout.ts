/**
 * The UDP socket's part of the shared-memory layout (src/native/udp.h):
 * counters, receive slot geometry, option and bind codes. The control
 * words and descriptor entries every object shares are in core/layout.ts.
 */

/** Counters (udp.h ION_S_*). */
export const S_PKTS_IN = 0;
export const S_BYTES_IN = 1;
export const S_PKTS_OUT = 2;
export const S_BYTES_OUT = 3;
export const S_DROPS = 4;
export const S_TRUNC = 5;
export const S_ENOBUFS = 6;
export const S_REARMS = 7;
export const S_SEND_ERRORS = 8;
export const S_RECV_ERRORS = 9;
export const S_BATCHES = 10;
export const S_GSO_SENDS = 11;
export const S_GRO_RECVS = 12;
export const S_GSO_FALLBACKS = 13;

/** udp.h ION_UDP_SLOT_HDR: bytes before the payload in a receive slot. */
export const SLOT_HEADER = 96;
/** udp.h ION_UDP_GRO_PAYLOAD: a GRO receive slot's payload room. */
export const GRO_PAYLOAD = 65535;
/** Offload flags of udpLayout/udpCreate (addon_udp.c F_*). */
export const F_GRO = 1;
export const F_GSO = 2;

/** Socket options (udp.h ION_OPT_*). */
export const OPT_REUSEADDR = 1;
export const OPT_REUSEPORT = 2;
export const OPT_RCVBUF = 3;
export const OPT_SNDBUF = 4;
export const OPT_TTL = 5;
export const OPT_BROADCAST = 6;
export const OPT_MULTICAST_TTL = 7;
export const OPT_MULTICAST_LOOP = 8;
export const OPT_MARK = 9;

export const BIND_REUSEADDR = 1;
export const BIND_REUSEPORT = 2;
export const BIND_V6ONLY = 4;

export interface UdpLayout {
  ctrl: number;
  stats: number;
  rmeta: number;
  sdesc: number;
  rpool: number;
  sdata: number;
  total: number;
  slotHeader: number;
  /** Receive entries (rmeta): one per buffer, 64 per buffer with GRO. */
  rmetaEntries: number;
}

export function toLayout(words: number[]): UdpLayout {
  const w = (i: number): number => words[i] ?? 0;
  return {
    ctrl: w(0),
    stats: w(1),
    rmeta: w(2),
    sdesc: w(3),
    rpool: w(4),
    sdata: w(5),
    total: w(6),
    slotHeader: w(7),
    rmetaEntries: w(8),
  };
}
