/**
 * createWireGuard(): check the options, bind the socket, open (or take)
 * the TUN device, make the native device and configure it.
 */
import { CodedError, errnoException, invalidArgType, invalidArgValue } from '../core/errors.js';
import type { UdpSocket } from '../udp/socket.js';
import { TunDevice } from '../tun/device.js';
import { openTun } from '../tun/open.js';
import type { TunOptions } from '../tun/options.js';
import { WireGuardDevice } from './device.js';
import { openReadySocket, resolvePeers } from './device-setup.js';
import type { WireGuardOptions } from './device-types.js';
import { wgNative } from './wg-native.js';

/** MTU of an interface created here, as wg-quick's default. */
const DEFAULT_MTU = 1420;

/**
 * Create a WireGuard device: bind its UDP socket, open (or take) its TUN
 * device, configure the private key and peers, and start moving packets.
 * The TUN interface is left down and without addresses (as wireguard-go
 * leaves it: `ip link set up`, `ip addr add` or wg-quick do that). Rejects
 * with a coded error for bad options, EADDRINUSE for a port in use;
 * nothing stays open when it rejects.
 */
export async function createWireGuard(options: WireGuardOptions): Promise<WireGuardDevice> {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const o = options;
  if ((o.interface === undefined) === (o.tun === undefined)) {
    throw invalidArgValue('options', '{ interface, tun }', 'needs exactly one of interface (a name) and tun (a TunDevice or TunOptions)');
  }
  if (o.interface !== undefined && typeof o.interface !== 'string') throw invalidArgType('options.interface', 'of type string', o.interface);
  if (o.tun !== undefined && (o.tun === null || typeof o.tun !== 'object')) throw invalidArgType('options.tun', 'a TunDevice or TunOptions', o.tun);
  const port = o.listenPort ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidArgValue('options.listenPort', port, 'must be an integer from 0 to 65535');
  const headroom = o.tunHeadroom ?? 0;
  if (!Number.isInteger(headroom) || headroom < 0 || headroom > 64) throw invalidArgValue('options.tunHeadroom', headroom, 'must be an integer from 0 to 64');
  const given = o.tun instanceof TunDevice ? o.tun : undefined;
  if (given && !given.isOpen) throw new CodedError('ERR_TUN_NOT_RUNNING', 'The TUN device is closed');
  if (given?.packetInfo || (!given && (o.tun as TunOptions | undefined)?.packetInfo)) {
    throw invalidArgValue('options.tun', 'packetInfo', 'a WireGuard device needs a TUN device without the packet information header');
  }
  const peers = o.peers === undefined ? [] : await resolvePeers(o.peers);
  const native = wgNative();
  const mtu = o.mtu ?? (given ? given.mtu : (o.tun as TunOptions | undefined)?.mtu ?? DEFAULT_MTU);
  const dev = native.wgCreate(Math.min(mtu, 65535 - 32), 0, 0);
  if (typeof dev === 'number') throw errnoException(dev, 'wireguard create');
  let udp: UdpSocket | undefined;
  let tun: TunDevice | undefined;
  try {
    native.wgTunHeadroom(dev, headroom);
    udp = await openReadySocket(o, port);
    tun =
      given ??
      openTun({
        readBuffers: 1024,
        writeQueueSize: 4096,
        writeBufferBytes: 8 << 20,
        ...(o.tunBackend !== undefined ? { backend: o.tunBackend } : {}),
        ...(o.tun as TunOptions | undefined),
        ...(o.interface !== undefined ? { name: o.interface } : {}),
        mtu,
      });
    // Everything this device writes to the TUN passed the AEAD: coalesced
    // writes need not check checksums again (as the kernel's wireguard).
    if (tun.nativeId > 0) tun.trustWrittenChecksums();
    const device = new WireGuardDevice({ native, dev, udp, tun, ownsTun: !given, options: o });
    try {
      if (o.fwmark) device.setFwmark(o.fwmark);
      if (o.privateKey) device.setPrivateKey(o.privateKey);
      for (const p of peers) device.setPeer(p);
    } catch (err) {
      await device.close();
      throw err;
    }
    return device;
  } catch (err) {
    if (tun && !given && tun.isOpen) await new Promise<void>((resolve) => tun!.close(() => resolve()));
    if (udp?.isOpen) await new Promise<void>((resolve) => udp!.close(() => resolve()));
    if (native.wgClose) native.wgClose(dev);
    throw err;
  }
}
