/**
 * An in-memory UapiDevice for the UAPI tests: it keeps what a device keeps
 * (keys, port, fwmark, peers with endpoint, keepalive, allowed IPs in one
 * table where a prefix has one owner, as a routing trie), and logs calls.
 */
import { keysEqual, keyToHex, publicKeyFromPrivate } from '../src/wireguard/keys.js';
import { formatPrefix, maskPrefix, type Endpoint, type IPPrefix } from '../src/wireguard/ip.js';
import type { UapiDevice, UapiDeviceState, UapiPeerState } from '../src/wireguard/uapi.js';

interface FakePeer {
  publicKey: Buffer;
  presharedKey: Buffer | null;
  endpoint: Endpoint | null;
  persistentKeepalive: number;
  rxBytes: bigint;
  txBytes: bigint;
  lastHandshakeNanos: bigint | null;
}

export class FakeDevice implements UapiDevice {
  privateKey: Buffer | null = null;
  listenPort = 0;
  fwmark = 0;
  readonly peers = new Map<string, FakePeer>();
  /** prefix text -> owner (hex public key), in insertion order. */
  readonly allowed = new Map<string, { prefix: IPPrefix; owner: string }>();
  readonly calls: string[] = [];
  /** Make setListenPort fail (as a port in use would). */
  failListenPort = false;

  getState(): UapiDeviceState {
    const peers: UapiPeerState[] = [...this.peers.entries()].map(([id, p]) => ({
      ...p,
      allowedIPs: [...this.allowed.values()].filter((a) => a.owner === id).map((a) => a.prefix),
    }));
    return { privateKey: this.privateKey, listenPort: this.listenPort, fwmark: this.fwmark, peers };
  }

  publicKey(): Buffer | null {
    return this.privateKey ? publicKeyFromPrivate(this.privateKey) : null;
  }

  setPrivateKey(key: Uint8Array | null): void {
    this.calls.push('setPrivateKey');
    this.privateKey = key ? Buffer.from(key) : null;
    // wireguard-go: a peer with our own public key is removed.
    const own = this.publicKey();
    if (own) for (const p of [...this.peers.values()]) if (keysEqual(p.publicKey, own)) this.removePeer(p.publicKey);
  }

  setListenPort(port: number): void {
    this.calls.push(`setListenPort ${port}`);
    if (this.failListenPort) throw new Error('bind: address already in use');
    this.listenPort = port;
  }

  setFwmark(mark: number): void {
    this.calls.push(`setFwmark ${mark}`);
    this.fwmark = mark;
  }

  removeAllPeers(): void {
    this.calls.push('removeAllPeers');
    for (const p of [...this.peers.values()]) this.removePeer(p.publicKey);
  }

  hasPeer(publicKey: Uint8Array): boolean {
    return this.peers.has(keyToHex(publicKey));
  }

  addPeer(publicKey: Uint8Array): void {
    this.calls.push(`addPeer ${keyToHex(publicKey).slice(0, 8)}`);
    this.peers.set(keyToHex(publicKey), {
      publicKey: Buffer.from(publicKey),
      presharedKey: null,
      endpoint: null,
      persistentKeepalive: 0,
      rxBytes: 0n,
      txBytes: 0n,
      lastHandshakeNanos: null,
    });
  }

  removePeer(publicKey: Uint8Array): void {
    const id = keyToHex(publicKey);
    this.calls.push(`removePeer ${id.slice(0, 8)}`);
    this.peers.delete(id);
    for (const [k, a] of this.allowed) if (a.owner === id) this.allowed.delete(k);
  }

  private peer(publicKey: Uint8Array): FakePeer {
    const p = this.peers.get(keyToHex(publicKey));
    if (!p) throw new Error('no such peer');
    return p;
  }

  setPresharedKey(publicKey: Uint8Array, key: Uint8Array | null): void {
    this.peer(publicKey).presharedKey = key ? Buffer.from(key) : null;
  }

  setEndpoint(publicKey: Uint8Array, endpoint: Endpoint): void {
    this.peer(publicKey).endpoint = endpoint;
  }

  setPersistentKeepalive(publicKey: Uint8Array, seconds: number): void {
    this.peer(publicKey).persistentKeepalive = seconds;
  }

  clearAllowedIPs(publicKey: Uint8Array): void {
    const id = keyToHex(publicKey);
    for (const [k, a] of this.allowed) if (a.owner === id) this.allowed.delete(k);
  }

  addAllowedIP(publicKey: Uint8Array, prefix: IPPrefix): void {
    const masked = maskPrefix(prefix);
    const k = formatPrefix(masked);
    this.allowed.delete(k); // a prefix moves to its new owner
    this.allowed.set(k, { prefix: masked, owner: keyToHex(publicKey) });
  }

  removeAllowedIP(publicKey: Uint8Array, prefix: IPPrefix): void {
    const k = formatPrefix(maskPrefix(prefix));
    if (this.allowed.get(k)?.owner === keyToHex(publicKey)) this.allowed.delete(k);
  }

  peerConfigured(publicKey: Uint8Array, created: boolean): void {
    this.calls.push(`peerConfigured ${keyToHex(publicKey).slice(0, 8)} ${created ? 'created' : 'updated'}`);
  }
}
