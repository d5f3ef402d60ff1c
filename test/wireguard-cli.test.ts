/**
 * The `iouring-net wireguard` command (and `iouring-net-wireguard`) on its
 * own: --help and command-line errors (exit 2, no root needed); then, as
 * root in namespaces of its own: without -f the command returns 0 once the
 * daemon it started has the interface and the UAPI socket up (wg can talk
 * to it at once), the daemon runs detached in its own session and stops on
 * SIGINT removing both; a setup failure in the daemon (an interface name
 * that is not a TUN device; an interface whose UAPI socket another daemon
 * serves) is reported by the command with status 1 and leaves nothing
 * behind. Interop with wg, wg-quick and wireguard-go: wireguard-interop.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Netns, tunSkipReason } from './netns.js';
import { CLI } from './tunnel-pair.js';
import { netnsPids, uniqueWgName, waitFor } from './wg-interop.js';

const WG_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'wireguard-main.js');
const skip = tunSkipReason(['wg']);

function run(argv: string[], env: Record<string, string> = {}, netns?: string): { status: number | null; stdout: string; stderr: string } {
  const cmd = netns ? 'ip' : process.execPath;
  const args = netns ? ['netns', 'exec', netns, process.execPath, ...argv] : argv;
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const pids = netnsPids;

test('--help and command-line errors (status 2)', () => {
  for (const argv of [[CLI, 'wireguard', '--help'], [WG_MAIN, '-h']]) {
    const r = run(argv);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: iouring-net wireguard \[-f\|--foreground\] INTERFACE/);
    assert.match(r.stdout, /WG_PROCESS_FOREGROUND=1/);
  }
  assert.match(run([CLI, '--help']).stdout, /wireguard +a userspace WireGuard interface/);
  const cases: [string[], RegExp][] = [
    [[CLI, 'wireguard'], /iouring-net wireguard: the interface name is required/],
    [[CLI, 'wireguard', 'a', 'b'], /only one interface name/],
    [[CLI, 'wireguard', '-x', 'wg0'], /unknown option "-x"/],
    [[CLI, 'wireguard', 'a/b'], /not a valid interface name/],
    [[CLI, 'wireguard', 'abcdefghijklmnop'], /not a valid interface name/],
    [[WG_MAIN], /iouring-net-wireguard: the interface name is required/],
  ];
  for (const [argv, message] of cases) {
    const r = run(argv);
    assert.equal(r.status, 2, `${argv.slice(1).join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('in the background: returns once up, detached; SIGINT removes interface and socket', { skip, timeout: 60_000 }, async () => {
  const ns = Netns.create('wgcli');
  try {
    const name = uniqueWgName();
    const sock = `/var/run/wireguard/${name}.sock`;
    const r = run([WG_MAIN, name], {}, ns.name);
    assert.equal(r.status, 0, r.stderr);
    // Up by the time the command returned.
    assert.ok(existsSync(sock), 'the UAPI socket exists');
    assert.ok(ns.hasLink(name), 'the interface exists');
    assert.match(execFileSync('ip', ['netns', 'exec', ns.name, 'wg', 'show', name], { encoding: 'utf8' }), new RegExp(`interface: ${name}\\n {2}listening port: \\d+`));
    const [pid] = pids(ns);
    assert.ok(pid !== undefined, 'the daemon runs');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    assert.equal(Number(stat[3]), pid, 'it leads its own session (setsid)');
    assert.equal(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('WG_PROCESS_FOREGROUND=1'), true);
    process.kill(pid, 'SIGINT');
    await waitFor(() => pids(ns).length === 0, 10_000, 'the daemon to exit');
    assert.equal(ns.hasLink(name), false, 'the interface is removed');
    assert.equal(existsSync(sock), false, 'the socket is removed');
  } finally {
    for (const pid of pids(ns)) process.kill(pid, 'SIGKILL');
    ns.destroy();
  }
});

test('setup failures in the daemon are reported by the command (status 1), nothing left behind', { skip, timeout: 60_000 }, async () => {
  const ns = Netns.create('wgcli');
  try {
    // Not a TUN device.
    const lo = run([CLI, 'wireguard', 'lo'], {}, ns.name);
    assert.equal(lo.status, 1);
    assert.match(lo.stderr, /iouring-net wireguard: Failed to create the TUN device/);
    assert.deepEqual(pids(ns), []);
    // A name whose UAPI socket another daemon serves.
    const name = uniqueWgName();
    assert.equal(run([CLI, 'wireguard', name], {}, ns.name).status, 0);
    const other = Netns.create('wgcli');
    try {
      const again = run([CLI, 'wireguard', name], {}, other.name);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /UAPI listen error: .*EADDRINUSE/);
      assert.deepEqual(pids(other), []);
      assert.equal(other.hasLink(name), false, 'the interface it made is removed again');
    } finally {
      for (const pid of pids(other)) process.kill(pid, 'SIGKILL');
      other.destroy();
    }
    const [pid] = pids(ns);
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGTERM');
    await waitFor(() => pids(ns).length === 0, 10_000, 'the first daemon to exit');
    assert.equal(existsSync(`/var/run/wireguard/${name}.sock`), false, "the first daemon's socket is removed");
  } finally {
    for (const pid of pids(ns)) process.kill(pid, 'SIGKILL');
    ns.destroy();
  }
});
