/**
 * Another user cannot take a tunnel's UDP port. The tunnel's sockets set
 * SO_REUSEPORT (so that rebind() can bind a replacement next to the old
 * socket), which Linux only shares between sockets of the same effective
 * uid; they never set SO_REUSEADDR, which would let any user bind the
 * same port and take the peer's datagrams.
 *
 * A tunnel listens on 127.0.0.1 (its TUN device in a namespace of its
 * own); child processes running as `nobody` (uid 65534, via spawn's
 * uid/gid) try to bind its port with SO_REUSEADDR, SO_REUSEPORT and both,
 * on its address and on the wildcard address: every attempt fails with
 * EADDRINUSE, before and after a rebind. Controls, so that the test can
 * fail: the same child as root (the tunnel's own uid) can join with
 * SO_REUSEPORT, and as nobody it can bind a free port.
 * Skips (saying why) when not root.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTunnel, netdev, openUdp } from '../src/index.js';
import { Netns, tunSkipReason, uniqueIfName } from './netns.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'bind-attempt-child.js');
const NOBODY = 65534;

interface Attempt {
  bound: boolean;
  uid: number;
  code?: string;
}

function attempt(address: string, port: number, mode: string, uid: number): Attempt {
  const r = spawnSync(process.execPath, [CHILD, address, String(port), mode], {
    encoding: 'utf8',
    timeout: 30_000,
    uid,
    gid: uid,
  });
  if (r.status !== 0) throw new Error(`bind-attempt-child as uid ${uid} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as Attempt;
}

function skipReason(): string | false {
  const base = tunSkipReason();
  if (base) return base;
  // The child must be able to read this repository as nobody.
  const r = spawnSync(process.execPath, [CHILD, '127.0.0.1', '0', 'reuseport'], { encoding: 'utf8', timeout: 30_000, uid: NOBODY, gid: NOBODY });
  if (r.status !== 0) return `a process running as nobody cannot load this package here (${r.stderr.trim().split('\n').pop() ?? ''})`;
  return false;
}

const skip = skipReason();

test('an unprivileged user cannot bind or share the tunnel\'s port', { skip, timeout: 120_000 }, async () => {
  const ns = Netns.create('portown');
  const peer = openUdp({ type: 'udp4', address: '127.0.0.1' });
  try {
    const tunnel = await createTunnel({
      tun: { name: uniqueIfName() },
      listen: '127.0.0.1:0',
      peer: `127.0.0.1:${peer.address().port}`,
      quiet: true,
    });
    try {
      netdev.moveToNetns(tunnel.tun.name, ns.name);
      const port = tunnel.local.port;
      const tries = (): void => {
        for (const address of ['127.0.0.1', '0.0.0.0']) {
          for (const mode of ['reuseaddr', 'reuseport', 'both']) {
            const a = attempt(address, port, mode, NOBODY);
            assert.equal(a.uid, NOBODY);
            assert.deepEqual(a, { bound: false, uid: NOBODY, code: 'EADDRINUSE' }, `nobody, ${mode}, ${address}:${port}`);
          }
        }
      };
      tries();
      await tunnel.rebind();
      assert.equal(tunnel.local.port, port);
      tries();
      // Controls: the tunnel's own uid may join with SO_REUSEPORT (that is
      // what rebind uses), and nobody can bind a port that is free.
      assert.deepEqual(attempt('127.0.0.1', port, 'reuseport', 0), { bound: true, uid: 0 });
      assert.deepEqual(attempt('127.0.0.1', 0, 'reuseaddr', NOBODY), { bound: true, uid: NOBODY });
    } finally {
      await tunnel.close();
    }
  } finally {
    peer.close();
    ns.destroy();
  }
});
