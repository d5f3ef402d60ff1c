/** The public types of the node:dgram layer (node:dgram's, plus the iouring option). */
import type { UdpSocketOptions } from '../udp/options.js';

export type SocketType = 'udp4' | 'udp6';

export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

export interface BindOptions {
  port?: number | undefined;
  address?: string | undefined;
  /** In a cluster worker: bind alone instead of sharing the primary's socket. */
  exclusive?: boolean | undefined;
  /** Use this existing UDP socket (a file descriptor > 0) instead of binding one. */
  fd?: number | undefined;
}

export type LookupFunction = (
  hostname: string,
  family: number,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
) => void;

/** Tuning of the batch socket underneath (not in node:dgram). */
export type IouringDgramOptions = Omit<
  UdpSocketOptions,
  | 'type'
  | 'address'
  | 'port'
  | 'onBatch'
  | 'ipv6Only'
  | 'reuseAddr'
  | 'reusePort'
  | 'recvBufferSize'
  | 'sendBufferSize'
  | 'fd'
  | 'dupFd'
  | 'dgramBind'
  | 'dgramHandle'
>;

export interface SocketOptions {
  type: SocketType;
  reuseAddr?: boolean | undefined;
  /** SO_REUSEPORT (node:dgram has it from Node 22.12; accepted here on every version). */
  reusePort?: boolean | undefined;
  ipv6Only?: boolean | undefined;
  recvBufferSize?: number | undefined;
  sendBufferSize?: number | undefined;
  lookup?: LookupFunction | undefined;
  signal?: AbortSignal | undefined;
  /** Options of the io_uring socket underneath; see README. */
  iouring?: IouringDgramOptions | undefined;
}
