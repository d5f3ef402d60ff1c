/**
 * The `iouring-net tunnel` command: --help and argument errors (no root
 * needed), then, as root and each inside its own network namespace: bad
 * configurations exit with status 2 and a clear message and leave no
 * interface behind; SIGINT stops a running tunnel with status 0 and
 * removes its interface; --stats prints the counters periodically; an
 * interface that existed before is used and left in place; started through
 * `npm exec` (what npx runs), it prints its own pid, writes --pid-file, and
 * stops cleanly when npm is killed (npm does not pass SIGTERM on to it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Netns, tunSkipReason } from './netns.js';
import { CLI, Proc, TunnelPair } from './tunnel-pair.js';

const skip = tunSkipReason();

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const GOOD = ['--tun', 'iontun0', '--address', '10.233.0.1/24', '--listen', '127.0.0.1:7100', '--peer', '127.0.0.1:7101'];

function withArg(flag: string, value: string): string[] {
  const args = [...GOOD];
  args[args.indexOf(flag) + 1] = value;
  return args;
}

test('--help, and command-line errors exit with status 2 before touching anything', () => {
  const help = cli(['tunnel', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: iouring-net tunnel --tun NAME --address CIDR --listen \[ADDR:\]PORT --peer HOST:PORT/);
  assert.equal(cli(['--help']).status, 0);
  assert.equal(cli([]).status, 2);
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command "frobnicate"/],
    [['tunnel', ...GOOD, '--bogus'], /Unknown option '--bogus'/],
    [['tunnel', ...GOOD.slice(2)], /--tun is required/],
    [['tunnel', ...withArg('--address', '10.0.0.1')], /is not ADDRESS\/PREFIX/],
    [['tunnel', ...withArg('--address', '10.0.0.1/33')], /prefix \/33 is too long for IPv4/],
    [['tunnel', ...withArg('--address', '10.0.0.300/24')], /is not an IP address/],
    [['tunnel', ...withArg('--address', 'fd00::1/129')], /too long for IPv6/],
    [['tunnel', ...withArg('--listen', '70000')], /out of range/],
    [['tunnel', ...withArg('--listen', 'localhost:7100')], /not an IP address/],
    [['tunnel', ...withArg('--listen', '[fe80::1%nosuch0]:7100')], /unknown interface "nosuch0"/],
    [['tunnel', ...withArg('--peer', '127.0.0.1')], /needs a port/],
    [['tunnel', ...withArg('--peer', '::1:7000')], /\[ADDR\]:PORT/],
    [['tunnel', ...withArg('--tun', 'a/b')], /not a valid interface name/],
    [['tunnel', ...GOOD, '--backend', 'turbo'], /--backend: "turbo" is not one of/],
    [['tunnel', ...GOOD, '--tun-backend', 'mmsg'], /--tun-backend: "mmsg" is not one of auto, io_uring, poll/],
    [['tunnel', ...GOOD, '--stats', '0'], /--stats/],
    [['tunnel', ...GOOD, '--mtu', '20'], /--mtu/],
  ];
  for (const [args, message] of cases) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
});

/** Run the CLI inside ns to completion. */
async function runIn(ns: Netns, args: string[]): Promise<{ code: number | null; out: string }> {
  const p = new Proc(['ip', 'netns', 'exec', ns.name, process.execPath, CLI, 'tunnel', ...args]);
  const r = await p.exit(30_000);
  return { code: r.code, out: p.stdout + p.stderr };
}

function links(ns: Netns): string[] {
  return ns
    .ip('-o', 'link', 'show')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(': ')[1]?.split('@')[0] ?? '');
}

test('bad configurations: status 2, a clear message, no interface left', { skip, timeout: 120_000 }, async () => {
  const ns = Netns.create('tuncli');
  try {
    const listen = '127.0.0.1:7199';
    const cases: [string, string[], RegExp][] = [
      ['unresolvable peer', withArg('--peer', 'nosuch-host.invalid:7101'), /cannot resolve "nosuch-host.invalid"/],
      ['address not on this host', withArg('--listen', '10.99.99.99:7100'), /not assigned to any interface/],
      ['interface that is not a TUN device', withArg('--tun', 'lo'), /--tun lo: an interface of that name exists and is not a free TUN device/],
      ['port in use', withArg('--listen', listen), /UDP 127.0.0.1:7199 is already in use/],
    ];
    // Hold the port from inside the namespace for the last case.
    const holder = new Proc(['ip', 'netns', 'exec', ns.name, process.execPath, '-e',
      "const s=require('dgram').createSocket('udp4');s.bind(7199,'127.0.0.1',()=>console.log('HELD'));setTimeout(()=>{},60000)"]);
    await holder.waitFor(/HELD/, 10_000, 'the port holder');
    try {
      for (const [what, args, message] of cases) {
        const r = await runIn(ns, args);
        assert.equal(r.code, 2, `${what}: ${r.out}`);
        assert.match(r.out, message, what);
        assert.deepEqual(links(ns), ['lo'], `${what}: nothing left behind`);
      }
    } finally {
      holder.signal('SIGKILL');
      await holder.exit(5000).catch(() => undefined);
    }
  } finally {
    ns.destroy();
  }
});

test('SIGINT stops the tunnel with status 0 and removes the interface; --stats prints counters', { skip, timeout: 60_000 }, async () => {
  const pair = TunnelPair.create('tunsig');
  try {
    const t = pair.tunnel(0, ['--stats', '0.2', '--backend', 'mmsg']);
    await t.waitFor(/up: iontun0 10\.232\.0\.1\/24 mtu 1420, udp 10\.231\.0\.1:7000 <-> 10\.231\.0\.2:7000, backend mmsg/, 20_000, 'the tunnel');
    assert.ok(pair.ns[0].hasLink('iontun0'));
    await t.waitFor(/(stats backend=mmsg [^\n]*\n){2}/, 20_000, 'two stats lines');
    assert.match(t.stdout, /tx_packets=\d+ tx_bytes=\d+ rx_packets=\d+ rx_bytes=\d+ drops_total=\d+ drop_not_from_peer=\d+/);
    t.signal('SIGHUP');
    await t.waitFor(/rebound: udp 10\.231\.0\.1:7000 \(1 rebinds\)/, 10_000, 'the rebind');
    t.signal('SIGINT');
    const r = await t.exit(10_000);
    assert.equal(r.code, 0, t.stderr);
    assert.equal(pair.ns[0].hasLink('iontun0'), false);
  } finally {
    await pair.destroy();
  }
});

test('an interface that existed before is used and left in place', { skip, timeout: 60_000 }, async () => {
  const pair = TunnelPair.create('tunkeep');
  try {
    const ns = pair.ns[0];
    ns.ip('tuntap', 'add', 'dev', 'iontun0', 'mode', 'tun');
    const t = pair.tunnel(0);
    await t.waitFor(/up: /, 20_000, 'the tunnel');
    assert.match(ns.ip('-o', 'addr', 'show', 'dev', 'iontun0'), /10\.232\.0\.1\/24/);
    t.signal('SIGTERM');
    assert.equal((await t.exit(10_000)).code, 0, t.stderr);
    assert.equal(ns.hasLink('iontun0'), true, 'a persistent interface that existed before stays');
  } finally {
    await pair.destroy();
  }
});

/** Does a process with this pid exist? */
function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/**
 * SIGKILL every process whose command line mentions marker (a unique temp
 * path): what a failed run may leave (an orphaned tunnel holds the test's
 * output pipes and would keep this file from ending).
 */
function killMarked(marker: string): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) process.kill(Number(entry), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

const npmSkip = skip || (spawnSync('npm', ['--version']).status === 0 ? false : 'npm is not on PATH');

test('started through npm exec: own pid printed and in --pid-file; killing npm stops the tunnel and removes the interface', { skip: npmSkip, timeout: 60_000 }, async () => {
  const ns = Netns.create('tunnpm');
  const project = mkdtempSync(join(tmpdir(), 'iouring-net-npx-'));
  try {
    // A project whose node_modules/.bin has the command, as `npm install` makes it.
    writeFileSync(join(project, 'package.json'), '{"name":"npx-user","version":"1.0.0","private":true}\n');
    mkdirSync(join(project, 'node_modules', '.bin'), { recursive: true });
    const bin = join(project, 'node_modules', '.bin', 'iouring-net');
    writeFileSync(bin, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(bin, 0o755);
    const pidFile = join(project, 'tunnel.pid');
    // `npx iouring-net ...` in such a project is `npm exec -- iouring-net ...`:
    // npm -> sh -c -> the tunnel.
    const npm = new Proc(['ip', 'netns', 'exec', ns.name, 'sh', '-c', `cd "${project}" && exec npm exec --offline -- iouring-net tunnel ${GOOD.join(' ')} --pid-file "${pidFile}"`]);
    try {
      const up = await npm.waitFor(/up: iontun0 [^\n]*, pid (\d+)\n/, 30_000, 'the tunnel under npm exec');
      const tunnelPid = Number(up[1]);
      const npmPid = npm.child.pid ?? 0;
      assert.notEqual(tunnelPid, npmPid);
      await npm.waitFor(new RegExp(`started through npm \\(pid ${npmPid}\\)[^\n]*send them to pid ${tunnelPid}`), 5000, 'the npm note');
      assert.equal(readFileSync(pidFile, 'utf8'), `${tunnelPid}\n`);
      assert.deepEqual(links(ns).sort(), ['iontun0', 'lo']);
      // What `kill <pid of npx>` does: npm forwards SIGTERM to its sh only.
      npm.signal('SIGTERM');
      await npm.exit(10_000);
      const deadline = Date.now() + 15_000;
      while (alive(tunnelPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(alive(tunnelPid), false, 'the tunnel outlived npm');
      assert.deepEqual(links(ns), ['lo'], 'the interface was left behind');
      assert.equal(existsSync(pidFile), false, 'the pid file was left behind');
    } finally {
      npm.signal('SIGKILL');
      killMarked(pidFile);
      await npm.exit(5000).catch(() => undefined);
    }
  } finally {
    ns.destroy();
    rmSync(project, { recursive: true, force: true });
  }
});
