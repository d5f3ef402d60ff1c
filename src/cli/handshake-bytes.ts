/**
 * An adapter for the UAPI (`wg show ... transfer`): handshake messages in
 * the per-peer transfer counters.
 *
 * wireguard-go and the kernel count every message exchanged with a peer in
 * its rx/tx bytes: transport messages and the handshake messages too
 * (initiation 148 bytes, response 92; measured against Debian's
 * wireguard-go: after one handshake and three pings its counters exceeded
 * ours by exactly 148 and 92). The WireGuard device counts transport
 * messages only, and its public API does not say which peer a handshake
 * message belonged to. Until it counts them itself, this adapter observes
 * its handshake engine and adds, per peer:
 *
 * - tx: each initiation sent to the peer (148), each response sent to it (92);
 * - rx: each initiation and each response from the peer that the engine
 *   accepted (148, 92).
 *
 * Cookie replies are not counted (wireguard-go sends them outside the peer
 * and does not count them either). If the device's internals are not what
 * this expects, the adapter changes nothing and counters stay as the device
 * reports them (the interop test then fails on the counters).
 */
import type { RecvBatch } from '../udp/batch.js';
import type { WireGuardDevice } from '../wireguard/device.js';
import { INITIATION_SIZE, MESSAGE_INITIATION, MESSAGE_RESPONSE, RESPONSE_SIZE } from '../wireguard/messages.js';
import type { WgPeer } from '../wireguard/peer.js';
import type { UapiDevice, UapiDeviceState } from '../wireguard/uapi.js';

/** The parts of the device's handshake engine (src/wireguard/handshakes.ts) observed here. */
interface HandshakesInternals {
  counters: { initiationsSent: number; responsesSent: number };
  sendInitiation(peer: WgPeer): void;
  onMessage(b: RecvBatch, i: number): void;
  host: { endpointFromPacket(peer: WgPeer, b: RecvBatch, i: number): void };
}

interface Bytes {
  rx: number;
  tx: number;
}

function internals(device: WireGuardDevice): HandshakesInternals | undefined {
  const hs = (device as unknown as { hs?: Partial<HandshakesInternals> }).hs;
  if (
    hs === undefined ||
    typeof hs.sendInitiation !== 'function' ||
    typeof hs.onMessage !== 'function' ||
    typeof hs.counters?.initiationsSent !== 'number' ||
    typeof hs.counters.responsesSent !== 'number' ||
    typeof hs.host?.endpointFromPacket !== 'function'
  ) {
    return undefined;
  }
  return hs as HandshakesInternals;
}

/** Count handshake bytes per peer by observing the device's handshake engine. */
function observe(hs: HandshakesInternals): WeakMap<WgPeer, Bytes> {
  const bytes = new WeakMap<WgPeer, Bytes>();
  const of = (peer: WgPeer): Bytes => {
    let b = bytes.get(peer);
    if (!b) bytes.set(peer, (b = { rx: 0, tx: 0 }));
    return b;
  };
  const sendInitiation = hs.sendInitiation.bind(hs);
  hs.sendInitiation = (peer: WgPeer): void => {
    const before = hs.counters.initiationsSent;
    sendInitiation(peer);
    if (hs.counters.initiationsSent > before) of(peer).tx += INITIATION_SIZE;
  };
  // The engine names the peer of an accepted initiation or response when it
  // moves the peer's endpoint to the message's source.
  let current: WgPeer | undefined;
  const endpointFromPacket = hs.host.endpointFromPacket.bind(hs.host);
  hs.host.endpointFromPacket = (peer: WgPeer, b: RecvBatch, i: number): void => {
    current = peer;
    endpointFromPacket(peer, b, i);
  };
  const onMessage = hs.onMessage.bind(hs);
  hs.onMessage = (b: RecvBatch, i: number): void => {
    const type = b.bytes[b.offset(i)];
    const responses = hs.counters.responsesSent;
    current = undefined;
    onMessage(b, i);
    const peer = current as WgPeer | undefined;
    current = undefined;
    if (!peer) return;
    if (type === MESSAGE_INITIATION) {
      of(peer).rx += INITIATION_SIZE;
      if (hs.counters.responsesSent > responses) of(peer).tx += RESPONSE_SIZE;
    } else if (type === MESSAGE_RESPONSE) {
      of(peer).rx += RESPONSE_SIZE;
    }
  };
  return bytes;
}

/**
 * The device's UAPI view, with handshake messages in the transfer counters
 * (see the module comment). Call once per device.
 */
export function uapiWithHandshakeBytes(device: WireGuardDevice): UapiDevice {
  const inner = device.uapi();
  const hs = internals(device);
  if (!hs) return inner;
  const bytes = observe(hs);
  const outer = Object.create(inner) as UapiDevice;
  outer.getState = (): UapiDeviceState => {
    const state = inner.getState();
    for (const p of state.peers) {
      const peer = device.findPeer(p.publicKey);
      const b = peer ? bytes.get(peer) : undefined;
      if (!b) continue;
      p.rxBytes += BigInt(b.rx);
      p.txBytes += BigInt(b.tx);
    }
    return state;
  };
  return outer;
}
