/**
 * Turning TUN offloads on through the addon: a device opened with
 * IFF_VNET_HDR (tunOpen flag 8, tun.h ION_TUN_VNET_HDR), moved into a
 * fresh network namespace, takes TUNSETVNETHDRSZ + TUNSETOFFLOAD and
 * reports CSUM/TSO4/TSO6 (USO4/USO6 too from Linux 6.2); a device opened
 * without the flag is refused with -EINVAL. The kernel-side behaviour of
 * the offloads (forwarding, TSO/USO reads) is tested in C:
 * test/native/offload_tun_test.c. Skips (saying why) when not root or
 * without `ip`.
 */
import assert from 'node:assert/strict';
import { closeSync } from 'node:fs';
import { release } from 'node:os';
import { test } from 'node:test';
import { netdev } from '../src/index.js';
import { Netns, tunSkipReason, uniqueIfName } from './netns.js';
import { EINVAL, offloadBinding, type OffloadExports } from './tun-offload-packets.js';

const loaded = offloadBinding();
const skip = typeof loaded === 'string' ? loaded : tunSkipReason();
const b = (): OffloadExports => loaded as OffloadExports;
const TUN_VNET_HDR = 8; // tun.h ION_TUN_VNET_HDR
const IFF_VNET_HDR = 0x4000;

/** Linux 6.2 or later (USO). */
function kernelHasUso(): boolean {
  const [major = 0, minor = 0] = release().split('.').map((x) => parseInt(x, 10));
  return major > 6 || (major === 6 && minor >= 2);
}

function open(flags: number): { fd: number; name: string } {
  const out = new Uint8Array(16);
  const [fd = -1, stage] = b().tunOpen(uniqueIfName(), flags, 0, out);
  assert.ok(fd >= 0, `tunOpen: ${fd} at stage ${stage}`);
  const name = Buffer.from(out.subarray(0, out.indexOf(0))).toString();
  return { fd, name };
}

test('a TUN device opened with IFF_VNET_HDR takes the offloads', { skip }, () => {
  const ns = Netns.create('offload');
  let fd = -1;
  try {
    const dev = open(TUN_VNET_HDR);
    fd = dev.fd;
    netdev.moveToNetns(dev.name, ns.name);
    assert.ok(ns.hasLink(dev.name));
    assert.ok((b().tunInfo(fd, new Uint8Array(16)) & IFF_VNET_HDR) !== 0, 'IFF_VNET_HDR is set');
    const c = b().offloadConstants;
    const tcp = c.TUN_F_CSUM! | c.TUN_F_TSO4! | c.TUN_F_TSO6!;
    const on = b().tunEnableOffload(fd, c.TUN_F_ALL!);
    assert.ok(on >= 0, `tunEnableOffload: ${on}`);
    assert.equal(on & tcp, tcp, `features on: ${on.toString(16)}`);
    const uso = c.TUN_F_USO4! | c.TUN_F_USO6!;
    assert.equal(on & uso, kernelHasUso() ? uso : 0, `USO on ${release()}`);
    assert.equal(b().tunGroFeatures(on), kernelHasUso() ? c.GRO_TCP! | c.GRO_UDP! : c.GRO_TCP!);
    // Asking for less gives less: CSUM alone.
    assert.equal(b().tunEnableOffload(fd, c.TUN_F_CSUM!), c.TUN_F_CSUM);
  } finally {
    if (fd >= 0) closeSync(fd);
    ns.destroy();
  }
});

test('a TUN device without IFF_VNET_HDR refuses the offloads', { skip }, () => {
  const { fd } = open(0);
  try {
    assert.equal(b().tunEnableOffload(fd, b().offloadConstants.TUN_F_ALL!), EINVAL);
  } finally {
    closeSync(fd);
  }
});
