/**
 * openUdp(): the one way to make a batch socket, with its backend chosen
 * (udp/backend.ts). The dgram layer, the tunnel and index.ts all use it.
 */
import { selectBackend } from './backend.js';
import type { UdpSocketOptions } from './options.js';
import { UdpSocket } from './socket.js';

/**
 * Open a UDP socket bound to options.address:options.port (default: any
 * address, ephemeral port). Throws a Node-style error if binding fails.
 */
export function openUdp(options: UdpSocketOptions): UdpSocket {
  const where = typeof options?.port === 'number' ? `UDP ${options.address ?? '*'}:${options.port}` : 'UDP';
  const sel = selectBackend({ backend: options?.backend, quiet: options?.quiet }, where);
  return new UdpSocket(sel.reactor, sel.backend, options);
}
