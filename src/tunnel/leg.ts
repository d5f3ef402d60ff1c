/**
 * One UDP socket of a tunnel ("leg"), and how a leg is retired when
 * rebind() replaces it without losing what the kernel already delivered.
 *
 * Port sharing: a replacement must bind the same address and port while
 * the old socket still receives. The legs set SO_REUSEPORT, never
 * SO_REUSEADDR: with SO_REUSEADDR on both sockets Linux lets ANY user bind
 * the same UDP port (measured: an unprivileged user took all of the peer's
 * traffic), while SO_REUSEPORT only lets sockets of the same effective uid
 * join (the kernel compares the sockets' uids at bind time). Where the
 * backend cannot set SO_REUSEPORT (node:dgram before Node 22.12) the leg
 * binds exclusively and a rebind closes it before binding again.
 *
 * Retiring: connect() the old socket to its own address. A connected UDP
 * socket only matches datagrams from that address, so from then on the
 * peer's datagrams go to the new socket, and the old one can only receive
 * what it sends to itself. It then sends itself an end marker (16 random
 * bytes) through the loopback: the marker is queued behind everything the
 * kernel had already queued for the socket, so when the tunnel sees it,
 * every datagram the kernel delivered to the old socket has been handled,
 * whatever the backend's buffering (ring completions, recvmmsg, libuv). The
 * marker also carries the socket's final kernel drop counter (SO_RXQ_OVFL).
 * Only then is the socket closed. If the marker never arrives (the loopback
 * interface is down, or a filter drops it) the socket is closed after a
 * bounded wait and the retire is counted as unconfirmed.
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { BackendChoice } from '../core/backend.js';
import type { RecvBatch } from '../udp/batch.js';
import type { Endpoint } from '../udp/endpoint.js';
import { openUdp } from '../udp/open.js';
import type { UdpSocketOptions } from '../udp/options.js';
import type { UdpSocket } from '../udp/socket.js';

/** Socket tuning passed to openUdp for each of the tunnel's sockets. */
export type TunnelUdpOptions = Pick<
  UdpSocketOptions,
  'recvBuffers' | 'sendQueueSize' | 'sendBufferBytes' | 'recvBufferSize' | 'sendBufferSize' | 'receiveMode' | 'gso' | 'gro'
>;

/** An 'error' event of a tunnel says which side failed. */
export type TunnelError = Error & { source?: 'udp' | 'tun'; code?: string };

/** What a leg reports to the tunnel that owns it. */
export interface LegOwner {
  fromPeer(b: RecvBatch, leg: Leg): void;
  legError(leg: Leg, err: TunnelError): void;
}

/**
 * The end markers of a retiring leg: a random 12-byte token, then a 32-bit
 * sequence number, one per marker sent.
 */
interface Marker {
  ep: Endpoint;
  /** The marker being sent: token then sequence number. */
  bytes: Uint8Array;
  /** Sequence number of the next marker. */
  next: number;
  /** Markers that came back, and the highest sequence number among them. */
  seen: number;
  maxSeen: number;
  /** Sequence numbers of markers whose send failed. */
  failed: number[];
  wake: (() => void) | undefined;
}

/** One UDP socket of the tunnel and what went through it. */
export interface Leg {
  sock: UdpSocket;
  ready: boolean;
  /** Datagrams accepted into this socket's send ring (markers excluded). */
  pushed: number;
  /** Datagrams this socket delivered to JS (markers included). */
  seen: number;
  sendErrors: number;
  /** End markers the kernel accepted (they count in the socket's packetsOut). */
  markersOut: number;
  closed: Promise<void>;
  /** Set once the tunnel exists; until then datagrams are only counted. */
  owner: LegOwner | undefined;
  /** SO_REUSEPORT is set: a replacement can bind next to this socket. */
  shared: boolean;
  /** Set while the leg is being retired. */
  marker: Marker | undefined;
}

export interface SocketConfig {
  type: 'udp4' | 'udp6';
  /** The listen address as given (a link-local one keeps its %zone). */
  address: string;
  port: number;
  maxMessageSize: number;
  backend: BackendChoice | undefined;
  quiet: boolean | undefined;
  udp: TunnelUdpOptions | undefined;
  /** The tunnel's offload choice: it sizes the send ring (TUN super-segments split into many packets). */
  offload: boolean | 'auto' | undefined;
}

/** What retiring a leg found. */
export interface RetireResult {
  /** Datagrams lost: sends that never left, receives never handled. */
  lost: number;
  /** The kernel's final drop counter of the socket (SO_RXQ_OVFL). */
  kernelDrops: number;
  /** The end marker came back: nothing the kernel queued was left behind. */
  confirmed: boolean;
}

const TOKEN_BYTES = 12;
const MARKER_BYTES = TOKEN_BYTES + 4;
/** Marker resends and the wait for each: at most about 2 s in all. */
const MARKER_TRIES = 40;
const MARKER_WAIT_MS = 50;
/** Bounded wait for the old socket's last sends: loop turns, then timers (2 s). */
const SEND_WAIT_TURNS = 50;
const SEND_WAIT_TRIES = 200;
const SEND_WAIT_MS = 10;
/** SO_RCVBUF of a retiring socket at least (the kernel caps it at net.core.rmem_max). */
const MARKER_RCVBUF = 256 * 1024;
/** EOPNOTSUPP: Linux names errno 95 ENOTSUP. */
const NOT_SUPPORTED = new Set(['EOPNOTSUPP', 'ENOTSUP']);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function newLeg(sock: UdpSocket, shared: boolean): Leg {
  const leg: Leg = {
    sock,
    ready: false,
    pushed: 0,
    seen: 0,
    sendErrors: 0,
    markersOut: 0,
    closed: new Promise<void>((resolve) => sock.once('close', resolve)),
    owner: undefined,
    shared,
    marker: undefined,
  };
  // Before ready, the dgram backend reports bind errors here and in ready.
  sock.on('error', (err: TunnelError) => leg.owner?.legError(leg, err));
  sock.onBatch = (b) => {
    if (leg.owner) leg.owner.fromPeer(b, leg);
    else leg.seen += b.length;
  };
  return leg;
}

function openSocket(config: SocketConfig, shared: boolean): UdpSocket {
  return openUdp({
    // Bursts of a TCP flow overflow the kernel's default 208 KiB receive
    // queue; the kernel caps these at net.core.rmem_max / wmem_max.
    recvBufferSize: 4 << 20,
    sendBufferSize: 4 << 20,
    // Room for two TUN read batches: 1024 packets each without offloads
    // (see createTunnel); with them up to 64 super-segments split into
    // ~45 packets each (4.5 MiB, the device's split area).
    ...(config.offload === false ? { sendQueueSize: 2048, sendBufferBytes: 4 << 20 } : { sendQueueSize: 8192, sendBufferBytes: 12 << 20 }),
    // A TCP flow's packets reach the socket in runs from one sender: with
    // GRO the kernel hands over up to 64 per receive (io_uring backend),
    // in 64 KiB buffers, so fewer of them. (The dgram backend has no GRO.)
    gro: true,
    ...(config.backend === 'dgram' ? {} : { recvBuffers: 64 }),
    ...config.udp,
    type: config.type,
    address: config.address,
    port: config.port,
    reusePort: shared,
    maxMessageSize: config.maxMessageSize,
    ...(config.backend !== undefined ? { backend: config.backend } : {}),
    ...(config.quiet !== undefined ? { quiet: config.quiet } : {}),
  });
}

async function bindLeg(config: SocketConfig, shared: boolean): Promise<Leg> {
  const leg = newLeg(openSocket(config, shared), shared);
  try {
    await leg.sock.ready;
  } catch (err) {
    if (leg.sock.isOpen) leg.sock.close();
    await leg.closed;
    throw err;
  }
  leg.ready = true;
  return leg;
}

/**
 * Open one socket on the tunnel's address and port, with SO_REUSEPORT, or
 * exclusively where the backend refuses SO_REUSEPORT (EOPNOTSUPP).
 */
export async function openLeg(config: SocketConfig): Promise<Leg> {
  try {
    return await bindLeg(config, true);
  } catch (err) {
    if (!NOT_SUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    return bindLeg(config, false);
  }
}

/**
 * @internal On the data path, for a datagram that is not from the peer:
 * true if it is one of the retiring leg's end markers (then it is not a drop).
 */
export function takeMarker(leg: Leg, b: RecvBatch, i: number): boolean {
  const m = leg.marker;
  if (m === undefined || !b.isFrom(i, m.ep) || b.size(i) !== MARKER_BYTES) return false;
  const bytes = b.bytes;
  const off = b.offset(i);
  for (let k = 0; k < TOKEN_BYTES; k++) if (bytes[off + k] !== m.bytes[k]) return false;
  const at = off + TOKEN_BYTES;
  const seq = (((bytes[at] ?? 0) << 24) | ((bytes[at + 1] ?? 0) << 16) | ((bytes[at + 2] ?? 0) << 8) | (bytes[at + 3] ?? 0)) >>> 0;
  m.seen++;
  if (seq > m.maxSeen) m.maxSeen = seq;
  m.wake?.();
  return true;
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** Addresses the socket can connect to so that it talks to itself. */
function selfAddresses(config: SocketConfig): string[] {
  if (!isWildcard(config.address)) return [config.address];
  return config.type === 'udp4' ? ['127.0.0.1'] : ['::1', '::ffff:127.0.0.1'];
}

/** Connect the socket to itself; the address it connected to, or undefined. */
function connectToSelf(sock: UdpSocket, config: SocketConfig): string | undefined {
  const port = sock.address().port;
  for (const address of selfAddresses(config)) {
    try {
      sock.connect(port, address);
      return address;
    } catch {
      // No route to it (a loopback interface that is down): try the next one.
    }
  }
  return undefined;
}

/** Wait until a marker numbered `from` or later came back, for at most ms. */
function waitMarker(m: Marker, from: number, ms: number): Promise<void> {
  if (m.maxSeen >= from) return Promise.resolve();
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      m.wake = undefined;
      resolve();
    };
    const timer = setTimeout(finish, ms);
    m.wake = () => {
      if (m.maxSeen >= from) finish();
    };
  });
}

/** Send numbered markers until one of this round comes back (bounded); true if one did. */
async function roundTrip(leg: Leg, m: Marker): Promise<boolean> {
  const sock = leg.sock;
  const from = m.next;
  for (let t = 0; t < MARKER_TRIES && m.maxSeen < from && sock.isOpen; t++) {
    const seq = m.next++;
    m.bytes[TOKEN_BYTES] = seq >>> 24;
    m.bytes[TOKEN_BYTES + 1] = (seq >>> 16) & 0xff;
    m.bytes[TOKEN_BYTES + 2] = (seq >>> 8) & 0xff;
    m.bytes[TOKEN_BYTES + 3] = seq & 0xff;
    // send() copies the bytes before it returns.
    sock.send(m.bytes, undefined, undefined, (err) => {
      if (err) m.failed.push(seq);
      else leg.markersOut++;
    });
    await waitMarker(m, from, MARKER_WAIT_MS);
  }
  return m.maxSeen >= from;
}

/**
 * A marker dropped on a full queue counts in the kernel's drop counter like
 * any datagram. The counter the tunnel last read came with the latest
 * marker received, so it includes exactly the markers sent before that one
 * which did not come back (nothing else reaches a socket connected to
 * itself): those are subtracted from the socket's drops.
 */
function markerDrops(m: Marker | undefined): number {
  if (m === undefined || m.maxSeen < 0) return 0;
  const failedBefore = m.failed.filter((seq) => seq <= m.maxSeen).length;
  return Math.max(0, m.maxSeen + 1 - m.seen - failedBefore);
}

/** Room in the receive queue for the markers (Linux doubles the value set). */
function roomForMarkers(sock: UdpSocket): void {
  try {
    if (sock.getRecvBufferSize() < 2 * MARKER_RCVBUF) sock.setRecvBufferSize(MARKER_RCVBUF);
  } catch {
    // Refused: markers may be dropped and sent again.
  }
}

/**
 * Connect the socket to itself and drain it: true once everything the
 * kernel queued for it was handed to the tunnel. Two rounds: a datagram
 * of the peer that the kernel matched to the socket just before connect()
 * may still be enqueued (on another CPU) after the first marker; the
 * second round starts only after the first marker came back, long after
 * any such datagram was queued, so its marker comes behind it.
 */
async function drainWithMarker(leg: Leg, config: SocketConfig): Promise<boolean> {
  const sock = leg.sock;
  const self = connectToSelf(sock, config);
  if (self === undefined) return false;
  roomForMarkers(sock);
  const bytes = new Uint8Array(MARKER_BYTES);
  bytes.set(randomBytes(TOKEN_BYTES));
  const ep = sock.endpoint(self, sock.address().port);
  const m: Marker = { ep, bytes, next: 0, seen: 0, maxSeen: -1, failed: [], wake: undefined };
  leg.marker = m;
  // One loop turn first: the backend reads what is queued, so the first
  // marker is less likely to meet a full queue.
  await nextTurn();
  return (await roundTrip(leg, m)) && (await roundTrip(leg, m));
}

/**
 * Retire a leg that no longer carries the tunnel's sends: wait for its last
 * sends, drain what the kernel queued for it (end marker), close it, and
 * say what was lost.
 */
export async function retireLeg(leg: Leg, config: SocketConfig): Promise<RetireResult> {
  const sock = leg.sock;
  const sent = (): boolean => {
    const s = sock.stats();
    return !sock.isOpen || s.packetsOut + s.sendErrors >= leg.pushed;
  };
  // Usually the next completions; a backend that holds sends (the dgram
  // backend while it connects) may take longer.
  for (let t = 0; t < SEND_WAIT_TURNS && !sent(); t++) await nextTurn();
  for (let t = 0; t < SEND_WAIT_TRIES && !sent(); t++) await sleep(SEND_WAIT_MS);
  const confirmed = sock.isOpen && (await drainWithMarker(leg, config));
  if (sock.isOpen) sock.close();
  await leg.closed;
  const s = sock.stats();
  const unsent = Math.max(0, leg.pushed - (s.packetsOut - leg.markersOut) - leg.sendErrors);
  // Received but never handed over: markers sent after the one that came
  // back may be among them; they are ours, not the peer's.
  const m = leg.marker;
  const dropped = markerDrops(m);
  const strayMarkers = m === undefined ? 0 : Math.max(0, leg.markersOut - m.seen - dropped);
  const unhandled = Math.max(0, s.packetsIn - leg.seen - strayMarkers);
  return { lost: unsent + unhandled, kernelDrops: Math.max(0, s.drops - dropped), confirmed };
}
