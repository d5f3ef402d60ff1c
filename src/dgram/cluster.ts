/**
 * node:dgram's cluster protocol, for the layer's sockets in a cluster
 * worker. A non-exclusive bind asks the primary for the socket
 * (`cluster._getServer`, the same request node:dgram makes): Node's own
 * primary opens one UDP socket per address, port, type and fd, and sends it
 * to every worker that asks; the worker's socket then adopts a duplicate
 * of its descriptor (see README, "Cluster"). So workers share one port and
 * the kernel's receive queue, exactly as with node:dgram, and a primary
 * needs no change (it may even use node:dgram itself).
 *
 * cluster is loaded only when a socket first binds, as node:dgram does,
 * and `_getServer` is looked up at each bind, so programs (and Node's
 * tests) that replace it are honoured.
 */
import { createRequire } from 'node:module';
import type { UdpHandle } from './handles.js';

/** What the worker asks the primary for (node's message fields). */
export interface ServerQuery {
  address: string | null;
  port: number | null | undefined;
  addressType: 'udp4' | 'udp6';
  fd: number;
  flags: number | null;
}

type GetServer = (obj: object, options: ServerQuery, cb: (err: number, handle: UdpHandle) => void) => void;

interface ClusterModule {
  isWorker: boolean;
  _getServer: GetServer;
}

/** libuv's bind flags, as node:dgram sends them to the primary. */
export const UV_UDP_IPV6ONLY = 1;
export const UV_UDP_REUSEADDR = 4;

const require = createRequire(import.meta.url);
let cluster: ClusterModule | undefined;

function clusterModule(): ClusterModule {
  cluster ??= require('node:cluster') as ClusterModule;
  return cluster;
}

/** True in a cluster worker. */
export function isWorker(): boolean {
  return clusterModule().isWorker;
}

/**
 * Ask the primary for the shared socket. `cb(errno, handle)`: errno 0 and
 * a UDP handle, or a negative errno. `socket` is told 'listening' later by
 * its owner; cluster listens for it to tell the primary.
 */
export function queryPrimary(socket: object, query: ServerQuery, cb: (err: number, handle: UdpHandle) => void): void {
  clusterModule()._getServer(socket, query, cb);
}
