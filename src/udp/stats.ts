/** Counters of a socket, read from shared memory only when asked. */
import { ringStats, type RingStats } from '../core/ring-stats.js';
import * as L from './layout.js';

export interface UdpStats extends RingStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  /** Datagrams the kernel dropped because the receive queue was full. */
  drops: number;
  /** Datagrams longer than maxMessageSize, delivered cut. */
  truncated: number;
  /** Multishot receive stopped for lack of buffers (then re-armed). */
  enobufs: number;
  /** Times the multishot receive was re-armed. */
  rearms: number;
  sendErrors: number;
  recvErrors: number;
  /** Receive batches delivered to the handler. */
  batches: number;
  /** sendmsg calls that carried several datagrams (UDP GSO). */
  gsoSends: number;
  /** Receives that held several coalesced datagrams (UDP GRO). */
  groReceives: number;
  /** GSO sends the route refused; their datagrams went out one by one. */
  gsoFallbacks: number;
}


export function readStats(s: Float64Array, reactorInfo: number[]): UdpStats {
  const v = (i: number): number => s[i] ?? 0;
  return {
    packetsIn: v(L.S_PKTS_IN),
    bytesIn: v(L.S_BYTES_IN),
    packetsOut: v(L.S_PKTS_OUT),
    bytesOut: v(L.S_BYTES_OUT),
    drops: v(L.S_DROPS),
    truncated: v(L.S_TRUNC),
    enobufs: v(L.S_ENOBUFS),
    rearms: v(L.S_REARMS),
    sendErrors: v(L.S_SEND_ERRORS),
    recvErrors: v(L.S_RECV_ERRORS),
    batches: v(L.S_BATCHES),
    gsoSends: v(L.S_GSO_SENDS),
    groReceives: v(L.S_GRO_RECVS),
    gsoFallbacks: v(L.S_GSO_FALLBACKS),
    ...ringStats(reactorInfo),
  };
}
