/** Counters of a socket, read from shared memory only when asked. */
import * as L from './layout.js';

export interface UdpStats {
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
  /** io_uring_enter calls of this thread's ring (shared by its sockets). */
  enters: number;
  /** Times the completion queue overflowed on this thread's ring. */
  cqOverflows: number;
  /** Times this thread's event loop woke for its ring (completions waiting). */
  wakeups: number;
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
    enters: reactorInfo[2] ?? 0,
    cqOverflows: reactorInfo[3] ?? 0,
    wakeups: reactorInfo[7] ?? 0,
  };
}
