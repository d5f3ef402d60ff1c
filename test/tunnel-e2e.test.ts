/**
 * End to end: two network namespaces joined by a veth pair, the tunnel CLI
 * in each (TUN iontun0, 10.232.0.1 <-> 10.232.0.2 inside, UDP over the
 * veth outside). Ping across the tunnel, then a 100 MB TCP transfer with
 * equal sha256 at both ends, while both tunnels rebind (SIGHUP) a few
 * times. Then SIGUSR1 prints the counters, SIGTERM stops both with exit
 * status 0 and the interfaces are gone. For every UDP backend (io_uring,
 * mmsg, dgram) with every TUN backend (io_uring, poll).
 * Skips (saying why) when not root or without `ip`/`ping`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitUntil } from './helpers.js';
import { tunSkipReason } from './netns.js';
import { INNER, TUN_NAME, TunnelPair, type Proc } from './tunnel-pair.js';

const skip = tunSkipReason(['ping']);
const TCP_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'tunnel-tcp.js');
const BYTES = 100 * 1000 * 1000;
const TCP_PORT = 9000;

interface Transfer {
  bytes: number;
  sha256: string;
}

function lastJson(p: Proc): Transfer {
  const line = p.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Transfer;
}

/** Counters printed on SIGUSR1, as a map. */
async function statsOf(p: Proc): Promise<Record<string, string>> {
  const before = p.stdout.length;
  p.signal('SIGUSR1');
  let line: string | undefined;
  const find = (): boolean => (line = /stats ([^\n]*)\n/.exec(p.stdout.slice(before))?.[1]) !== undefined;
  await waitUntil(find, 10_000, 'a stats line after SIGUSR1').catch((err: Error) => {
    throw new Error(`${err.message}; stdout:\n${p.stdout}`);
  });
  assert.ok(line);
  return Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string]));
}

const cases = (['io_uring', 'mmsg', 'dgram'] as const).flatMap((udp) => (['io_uring', 'poll'] as const).map((tun) => ({ udp, tun })));

for (const { udp: backend, tun: tunBackend } of cases) {
  const label = `UDP ${backend}, TUN ${tunBackend}`;
  test(`ping and 100 MB of TCP across the tunnel CLI, with rebinds (${label})`, { skip, timeout: 240_000 }, async () => {
    const pair = TunnelPair.create('tune2e');
    try {
      const args = ['--backend', backend, '--tun-backend', tunBackend];
      const tunnels = [pair.tunnel(0, args), pair.tunnel(1, args)] as const;
      for (const t of tunnels) await t.waitFor(/up: .*backend (\S+)/, 20_000, 'the tunnel to come up');
      for (const t of tunnels) assert.match(t.stderr, new RegExp(`backend ${backend} \\(tun ${tunBackend}\\)`));

      const ping = pair.run(0, ['ping', '-c', '3', '-i', '0.2', '-W', '2', INNER[1]]);
      const pr = await ping.exit(20_000);
      assert.equal(pr.code, 0, `ping across the tunnel:\n${ping.stdout}${ping.stderr}`);
      assert.match(ping.stdout, /3 received/);

      const sink = pair.node(1, TCP_SCRIPT, ['sink', INNER[1], String(TCP_PORT)]);
      await sink.waitFor(/READY/, 20_000, 'the TCP sink to listen');
      const source = pair.node(0, TCP_SCRIPT, ['source', INNER[1], String(TCP_PORT), String(BYTES)]);
      // Rebind both ends a few times while the transfer runs.
      let hups = 0;
      const rebinder = setInterval(() => {
        if (hups >= 6 || !source.running) return;
        tunnels[hups % 2]!.signal('SIGHUP');
        hups++;
      }, 150);
      let sent: Transfer;
      let got: Transfer;
      try {
        const sr = await source.exit(180_000);
        assert.equal(sr.code, 0, `TCP source:\n${source.stderr}`);
        const kr = await sink.exit(30_000);
        assert.equal(kr.code, 0, `TCP sink:\n${sink.stderr}`);
        sent = lastJson(source);
        got = lastJson(sink);
      } finally {
        clearInterval(rebinder);
      }
      assert.equal(sent.bytes, BYTES);
      assert.equal(got.bytes, BYTES, 'every byte arrived');
      assert.equal(got.sha256, sent.sha256, 'the checksums match');

      // Rebinds are serialized: wait for the ones asked for to finish.
      const counters = [await statsOf(tunnels[0]), await statsOf(tunnels[1])];
      for (const c of counters) {
        assert.equal(c.backend, backend);
        assert.equal(c.tun_backend, tunBackend);
        assert.equal(c.drop_not_from_peer, '0');
        assert.equal(c.drop_malformed, '0');
        // GSO and GRO are on where the backend has them (the bench shows the gain).
        const on = backend === 'dgram' ? 'off' : 'on';
        assert.equal(c.udp_gso, on);
        assert.equal(c.udp_gro, on);
      }
      // 100 MB in segments of at most 1380 bytes went A -> B.
      const [a, b] = counters as [Record<string, string>, Record<string, string>];
      assert.ok(Number(a.tx_bytes) > BYTES && Number(b.rx_bytes) > BYTES, JSON.stringify({ a, b }));
      const rebinds = counters.reduce((n, c) => n + Number(c.rebinds), 0);
      assert.ok(rebinds >= 1 && rebinds <= hups, `rebinds: ${rebinds} of ${hups} SIGHUPs`);
      console.log(`# ${label}: ${hups} SIGHUPs, ${rebinds} rebinds; A: ${JSON.stringify(counters[0])}`);

      for (const t of tunnels) t.signal('SIGTERM');
      for (const t of tunnels) {
        const r = await t.exit(10_000);
        assert.equal(r.code, 0, `exit status after SIGTERM:\n${t.stderr}`);
      }
      for (const ns of pair.ns) assert.equal(ns.hasLink(TUN_NAME), false, 'the TUN interface is gone');
    } finally {
      await pair.destroy();
    }
  });
}
