/**
 * The UAPI's view (uapi.ts UapiDevice) of a WireGuardDevice, so that
 * serveUapi(device.uapi(), ...) lets `wg show`, `wg set`, `wg setconf`
 * and wg-quick drive the device as they drive wireguard-go.
 */
import { CodedError } from '../core/errors.js';
import type { WireGuardDevice } from './device.js';
import type { Endpoint, IPPrefix } from './ip.js';
import type { WgPeer } from './peer.js';
import { UAPI_ERRNO, UapiError, type UapiDevice, type UapiDeviceState } from './uapi.js';

export class UapiAdapter implements UapiDevice {
  constructor(private readonly device: WireGuardDevice) {}

  private peer(publicKey: Uint8Array): WgPeer {
    const p = this.device.findPeer(publicKey);
    if (!p) throw new UapiError(UAPI_ERRNO.invalid, 'no such peer');
    return p;
  }

  getState(): UapiDeviceState {
    const d = this.device;
    return {
      privateKey: d.privateKeyBytes,
      listenPort: d.listenPort,
      fwmark: d.fwmark,
      peers: [...d.allPeers()].map((p) => {
        const s = d.peerStats(p);
        return {
          publicKey: p.publicKey,
          presharedKey: p.presharedKey,
          endpoint: p.endpoint,
          lastHandshakeNanos: p.timers.lastHandshakeNanos,
          rxBytes: BigInt(s.rxBytes),
          txBytes: BigInt(s.txBytes),
          persistentKeepalive: p.persistentKeepalive,
          allowedIPs: d.allowedIPsOf(p),
        };
      }),
    };
  }

  publicKey(): Uint8Array | null {
    const k = this.device.publicKey;
    return k ? Buffer.from(k, 'base64') : null;
  }

  setPrivateKey(key: Uint8Array | null): void {
    this.device.setPrivateKey(key);
  }

  setListenPort(port: number): void {
    this.device.setListenPort(port);
  }

  setFwmark(mark: number): void {
    this.device.setFwmark(mark);
  }

  removeAllPeers(): void {
    for (const p of [...this.device.allPeers()]) this.device.dropPeer(p);
  }

  hasPeer(publicKey: Uint8Array): boolean {
    return this.device.findPeer(publicKey) !== undefined;
  }

  addPeer(publicKey: Uint8Array): void {
    if (this.device.findPeer(publicKey)) throw new CodedError('ERR_WIREGUARD_PEER_EXISTS', 'the peer exists');
    this.device.createPeer(Buffer.from(publicKey));
  }

  removePeer(publicKey: Uint8Array): void {
    const p = this.device.findPeer(publicKey);
    if (p) this.device.dropPeer(p);
  }

  setPresharedKey(publicKey: Uint8Array, key: Uint8Array | null): void {
    this.device.setPresharedKeyOf(this.peer(publicKey), key ? Buffer.from(key) : null);
  }

  setEndpoint(publicKey: Uint8Array, endpoint: Endpoint): void {
    this.device.setEndpointOf(this.peer(publicKey), endpoint);
  }

  setPersistentKeepalive(publicKey: Uint8Array, seconds: number): void {
    this.device.setKeepaliveOf(this.peer(publicKey), seconds);
  }

  clearAllowedIPs(publicKey: Uint8Array): void {
    this.device.clearAllowedIPsOf(this.peer(publicKey));
  }

  addAllowedIP(publicKey: Uint8Array, prefix: IPPrefix): void {
    this.device.addAllowedIPOf(this.peer(publicKey), prefix);
  }

  removeAllowedIP(publicKey: Uint8Array, prefix: IPPrefix): void {
    this.device.removeAllowedIPOf(this.peer(publicKey), prefix);
  }

  peerConfigured(publicKey: Uint8Array, created: boolean): void {
    const p = this.device.findPeer(publicKey);
    if (p) this.device.peerConfigured(p, created);
  }
}
