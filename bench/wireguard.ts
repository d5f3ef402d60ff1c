/**
 * WireGuard throughput benchmark (npm run bench:wireguard; root): iperf3 TCP
 * between two network namespaces joined by a veth pair, in one run:
 *
 *   veth          iperf3 over the veth pair itself: the limit
 *   tunnel        the plain (unencrypted) tunnel, `iouring-net tunnel`, io_uring
 *   wg-io_uring   our WireGuard, `iouring-net wireguard -f`, on each UDP backend
 *   wg-mmsg       (IOURING_NET_BACKEND=...)
 *   wg-dgram
 *   wg-evp        our WireGuard on io_uring with OpenSSL's EVP path forced
 *                 (IOURING_NET_WG_CRYPTO=evp): what the low-level crypto
 *                 path (src/native/wg/aead_lowlevel.c) gains, side by side
 *   wggo-debian   Debian's wireguard-go (0.0.20220316, /usr/bin/wireguard-go)
 *   wggo-upstream the upstream wireguard-go of ../shared/anchors/ when present
 *                 (see its README); the output says whether it was found, and
 *                 the ratio vs upstream falls back to Debian's when not
 *
 * Every WireGuard end is started and configured as a user would (`-f`,
 * `wg set`, `ip`), MTU 1420. Each case runs `rounds` times, interleaved, for
 * `seconds` seconds after a 1 s iperf3 omit period; medians are reported
 * with min..max, the CPU of the tunnel processes (both ends) and the
 * ratios: ours vs the plain tunnel, vs Debian's wireguard-go, vs upstream.
 * Results go to bench/out/wireguard-results.json. Exit 1 if a run fails,
 * 2 on bad options.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generatePrivateKey, keyToBase64, publicKeyFromPrivate, wireGuardCrypto } from '../src/index.js';
import { chachaCost } from '../src/wireguard/native.js';
import { killAllChildren } from './lib/children.js';
import { iperfRun, median, type RunResult } from './lib/iperf.js';
import { INNER, NetPair, OUTER, type Running } from './lib/netpair.js';
import { startPlainTunnels } from './lib/plain-tunnel.js';
import { caseList, intOption } from './lib/run-options.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = join(HERE, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const CASES = ['veth', 'tunnel', 'wg-io_uring', 'wg-mmsg', 'wg-dgram', 'wg-evp', 'wggo-debian', 'wggo-upstream'] as const;
type Case = (typeof CASES)[number];
const UPSTREAM_FILE = 'wireguard-go-0.0.20250522';
const WG_PORT = 51820;

const USAGE = `usage: npm run bench:wireguard [-- options]   (root; bench/wireguard-setup.sh installs iperf3, wireguard-tools, wireguard-go)
  --cases a,b     cases to run: ${CASES.join(', ')} (default: all)
  --rounds N      rounds per case; medians are reported (default 3)
  --seconds S     measured seconds per run (default 5)
  --upstream FILE the upstream wireguard-go binary (default: ../shared/anchors/${UPSTREAM_FILE},
                  looked for next to the repository and one level up; env IOURING_NET_WG_UPSTREAM)
  --out FILE      results JSON (default bench/out/wireguard-results.json)
  --help`;

interface Options {
  cases: Case[];
  rounds: number;
  seconds: number;
  upstream: string | undefined;
  out: string;
}

/** The upstream wireguard-go: the option, the environment, or ../shared/anchors near the repository. */
function findUpstream(given: string | undefined): string | undefined {
  const candidates = given
    ? [given]
    : [
        process.env.IOURING_NET_WG_UPSTREAM,
        join(ROOT, '..', 'shared', 'anchors', UPSTREAM_FILE),
        join(ROOT, '..', '..', 'shared', 'anchors', UPSTREAM_FILE),
      ];
  for (const c of candidates) if (c && existsSync(c)) return resolve(c);
  return undefined;
}

function options(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      cases: { type: 'string' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      upstream: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return null;
  if (values.upstream !== undefined && !existsSync(values.upstream)) throw new Error(`--upstream: ${values.upstream} does not exist`);
  return {
    cases: caseList(values.cases, CASES),
    rounds: intOption(values.rounds, 3, 20),
    seconds: intOption(values.seconds, 5, 120),
    upstream: findUpstream(values.upstream),
    out: values.out ?? join(ROOT, 'bench', 'out', 'wireguard-results.json'),
  };
}

/** Keys of both ends, written once to files for `wg set ... private-key FILE`. */
interface Keys {
  dir: string;
  files: [string, string];
  publics: [string, string];
}

function makeKeys(): Keys {
  const dir = mkdtempSync(join(tmpdir(), 'iouring-net-bench-wg-'));
  const privs = [generatePrivateKey(), generatePrivateKey()];
  const files = privs.map((k, i) => {
    const f = join(dir, `key${i}`);
    writeFileSync(f, `${keyToBase64(k)}\n`, { mode: 0o600 });
    return f;
  }) as [string, string];
  const publics = privs.map((k) => keyToBase64(publicKeyFromPrivate(k))) as [string, string];
  return { dir, files, publics };
}

/** The command that runs a WireGuard case in the foreground on interface `name`. */
function wgArgv(c: Case, name: string, upstream: string | undefined): string[] {
  if (c === 'wg-evp') return ['env', 'IOURING_NET_BACKEND=io_uring', 'IOURING_NET_WG_CRYPTO=evp', process.execPath, CLI, 'wireguard', '-f', name];
  if (c.startsWith('wg-')) return ['env', `IOURING_NET_BACKEND=${c.slice(3)}`, process.execPath, CLI, 'wireguard', '-f', name];
  if (c === 'wggo-debian') return ['wireguard-go', '-f', name];
  if (upstream === undefined) throw new Error('no upstream wireguard-go');
  return [upstream, '-f', name];
}

function wg(pair: NetPair, i: 0 | 1, args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', pair.names[i], 'wg', ...args], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Start a WireGuard implementation at both ends and configure it; resolves when both interfaces are up. */
async function startWireGuard(pair: NetPair, c: Case, keys: Keys, upstream: string | undefined, tunnels: Running[]): Promise<void> {
  const names = [0, 1].map((i) => `iwgb${process.pid % 100000}${i}`) as [string, string];
  for (const i of [0, 1] as const) tunnels.push(pair.start(i, wgArgv(c, names[i], upstream)));
  for (const i of [0, 1] as const) {
    const name = names[i];
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (tunnels[i]?.child.exitCode !== null) throw new Error(`${c} did not start:\n${tunnels[i]?.output()}`);
      try {
        if (existsSync(`/var/run/wireguard/${name}.sock`)) {
          wg(pair, i, ['show', name]);
          break;
        }
      } catch {
        // not serving yet
      }
      if (Date.now() > deadline) throw new Error(`${c}: no UAPI socket for ${name} within 20 s:\n${tunnels[i]?.output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const j = i === 0 ? 1 : 0;
    wg(pair, i, ['set', name, 'private-key', keys.files[i], 'listen-port', String(WG_PORT), 'peer', keys.publics[j], 'endpoint', `${OUTER[j]}:${WG_PORT}`, 'allowed-ips', `${INNER[j]}/32`]);
    execFileSync('ip', ['-n', pair.names[i], 'addr', 'add', `${INNER[i]}/24`, 'dev', name]);
    execFileSync('ip', ['-n', pair.names[i], 'link', 'set', name, 'up']);
  }
}

async function runOnce(pair: NetPair, c: Case, opts: Options, keys: Keys): Promise<RunResult> {
  const tunnels: Running[] = [];
  try {
    if (c === 'tunnel') await startPlainTunnels(pair, CLI, 'io_uring', tunnels);
    else if (c !== 'veth') await startWireGuard(pair, c, keys, opts.upstream, tunnels);
    return await iperfRun(pair, c === 'veth' ? OUTER[1] : INNER[1], opts.seconds, tunnels, c);
  } finally {
    for (const t of tunnels) t.child.kill('SIGTERM');
    await Promise.all(tunnels.map((t) => t.exited));
  }
}

/** Inner packets per Gbit/s of iperf3 goodput: TCP over IPv4 with timestamps at MTU 1420 carries 1368 bytes each. */
const PACKETS_PER_GBIT = 1e9 / 8 / (1420 - 20 - 32);

/** One core's ns to seal and open a full-size (1420-byte) packet on the path the data plane uses: the median of 5 runs. */
interface CipherCost {
  path: string;
  sealNs: number;
  openNs: number;
}

function cipherCost(): CipherCost {
  const path = wireGuardCrypto().name;
  const runs = Array.from({ length: 5 }, () => chachaCost(path === 'openssl-lowlevel', 1420, 100_000));
  return { path, sealNs: median(runs.map((r) => r.sealNs)), openNs: median(runs.map((r) => r.openNs)) };
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}x` : '-';
}

function report(results: Map<Case, RunResult[]>, opts: Options, cipher: CipherCost): string[] {
  const med = (c: Case): number => median((results.get(c) ?? []).map((r) => r.gbps));
  const has = (c: Case): boolean => (results.get(c)?.length ?? 0) > 0;
  const lines: string[] = [];
  lines.push('case           Gbit/s (median, min..max)   retransmits   tunnel CPU (both ends)   Gbit/s per core   machine CPU   vs veth');
  for (const [c, runs] of results) {
    if (runs.length === 0) continue;
    const g = runs.map((r) => r.gbps);
    const cpu = median(runs.map((r) => r.tunnelCpu));
    const perCore = c === 'veth' || cpu <= 0 ? '-' : ((100 * med(c)) / cpu).toFixed(2);
    const vsVeth = has('veth') ? `${((100 * med(c)) / med('veth')).toFixed(1)}%` : '-';
    lines.push(
      `${c.padEnd(14)} ${`${med(c).toFixed(2)} (${Math.min(...g).toFixed(2)}..${Math.max(...g).toFixed(2)})`.padEnd(27)} ` +
        `${String(median(runs.map((r) => r.retransmits))).padEnd(13)} ${(c === 'veth' ? '-' : `${cpu.toFixed(0)}%`).padEnd(24)} ${perCore.padEnd(17)} ` +
        `${`${median(runs.map((r) => r.machineCpu)).toFixed(0)}%`.padEnd(13)} ${vsVeth}`,
    );
  }
  lines.push('');
  // When the whole machine is busy, throughput is what its cores allow
  // divided by what each Gbit/s costs everything (tunnels, iperf3, TCP):
  // the ratio of two such costs is the most one case can reach of another.
  // The cipher's own share: a seal at one end and an open at the other per
  // full-size packet (ACKs left out), from the one-core measurement above.
  const cipherPct = ((cipher.sealNs + cipher.openNs) * PACKETS_PER_GBIT * 100) / 1e9;
  lines.push(
    `ChaCha20-Poly1305 (${cipher.path}), 1420-byte packet, one core: seal ${cipher.sealNs.toFixed(0)} ns, open ${cipher.openNs.toFixed(0)} ns ` +
      `= ${cipherPct.toFixed(1)}% of a core per Gbit/s of TCP`,
  );
  if (has('wg-io_uring') && has('tunnel')) {
    const cost = (c: Case): number => median((results.get(c) ?? []).map((r) => r.machineCpu)) / med(c);
    const cores = 100 * cpus().length;
    lines.push(
      `whole-machine CPU per Gbit/s: plain tunnel ${cost('tunnel').toFixed(1)}%, wg-io_uring ${cost('wg-io_uring').toFixed(1)}% ` +
        `(of ${cores}%); plain tunnel ${(cores / cost('tunnel')).toFixed(2)} Gbit/s and ours ${(cores / cost('wg-io_uring')).toFixed(2)} Gbit/s with every core busy`,
    );
    const ceiling = cores / (cost('tunnel') + cipherPct);
    lines.push(
      `a WireGuard costing the plain tunnel plus the cipher: at most ${ceiling.toFixed(2)} Gbit/s here = ${ratio(ceiling, med('tunnel'))} the plain tunnel ` +
        `(ours beyond that: ${(cost('wg-io_uring') - cost('tunnel') - cipherPct).toFixed(1)}% per Gbit/s)`,
    );
  }
  if (has('wg-io_uring') && has('wg-evp')) {
    lines.push(`wg-io_uring (${wireGuardCrypto().name}) vs wg-evp (OpenSSL EVP): ${ratio(med('wg-io_uring'), med('wg-evp'))}`);
  }
  for (const ours of ['wg-io_uring', 'wg-mmsg', 'wg-dgram'] as const) {
    if (!has(ours)) continue;
    const parts: string[] = [];
    if (has('tunnel')) parts.push(`vs plain tunnel ${ratio(med(ours), med('tunnel'))}`);
    if (has('wggo-debian')) parts.push(`vs Debian wireguard-go ${ratio(med(ours), med('wggo-debian'))}`);
    if (has('wggo-upstream')) parts.push(`vs upstream wireguard-go ${ratio(med(ours), med('wggo-upstream'))}`);
    else parts.push(`vs upstream wireguard-go: not measured (${opts.upstream ? 'case not run' : 'binary not found'})`);
    lines.push(`${ours}: ${parts.join(', ')}`);
  }
  if (has('wg-io_uring') && has('tunnel')) {
    const r = med('wg-io_uring') / med('tunnel');
    lines.push(`target (issue 14): ours >= 0.85x the plain tunnel: ${r.toFixed(2)}x ${r >= 0.85 ? 'PASS' : 'MISS'}`);
  }
  if (has('wg-io_uring') && has('wggo-debian')) {
    const r = med('wg-io_uring') / med('wggo-debian');
    lines.push(`target (issue 14): ours >= 4x Debian's wireguard-go: ${r.toFixed(2)}x ${r >= 4 ? 'PASS' : 'MISS'}`);
  }
  if (has('wg-io_uring') && has('wggo-upstream')) {
    const r = med('wg-io_uring') / med('wggo-upstream');
    lines.push(`final target (TUN offloads issue): ours >= 1.25x upstream wireguard-go: ${r.toFixed(2)}x ${r >= 1.25 ? 'PASS' : 'MISS'}`);
  }
  return lines;
}

function header(opts: Options): string {
  const up = opts.upstream
    ? `upstream wireguard-go: ${opts.upstream}`
    : `upstream wireguard-go: not found (../shared/anchors/${UPSTREAM_FILE}); its case is skipped and Debian's wireguard-go is the only wireguard-go compared`;
  const crypto = wireGuardCrypto();
  return (
    `WireGuard benchmark: ${opts.rounds} rounds x ${opts.seconds} s, ${cpus().length} CPUs, Linux ${release()}, Node ${process.version}\n${up}\n` +
    `our data-path crypto: ${crypto.name} (${crypto.reason})\n`
  );
}

async function main(): Promise<number> {
  let opts: Options | null;
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (!opts) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench:wireguard needs root (network namespaces and TUN devices)\n');
    return 1;
  }
  const cases = opts.cases.filter((c) => c !== 'wggo-upstream' || opts.upstream !== undefined);
  process.stdout.write(header(opts));
  // Before the runs, on an otherwise idle machine.
  const cipher = cipherCost();
  process.stdout.write(`ChaCha20-Poly1305 (${cipher.path}), 1420 bytes, one core: seal ${cipher.sealNs.toFixed(0)} ns, open ${cipher.openNs.toFixed(0)} ns\n`);
  const pair = NetPair.create();
  const keys = makeKeys();
  const cleanup = (): void => {
    killAllChildren();
    pair.destroy();
    rmSync(keys.dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  const results = new Map<Case, RunResult[]>();
  for (const c of cases) results.set(c, []);
  try {
    for (let round = 0; round < opts.rounds; round++) {
      for (const c of cases) {
        const r = await runOnce(pair, c, opts, keys);
        results.get(c)?.push(r);
        const cpu = c === 'veth' ? '' : `, tunnels ${r.tunnelCpu.toFixed(0)}% CPU`;
        process.stdout.write(`  round ${round + 1} ${c.padEnd(13)} ${r.gbps.toFixed(2)} Gbit/s, ${r.retransmits} retransmits${cpu}\n`);
      }
    }
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  } finally {
    cleanup();
  }
  const lines = report(results, opts, cipher);
  process.stdout.write(`\n${lines.join('\n')}\n`);
  mkdirSync(dirname(opts.out), { recursive: true });
  const json = { date: new Date().toISOString(), kernel: release(), node: process.version, cpus: cpus().length, options: opts, results: Object.fromEntries(results), summary: lines };
  writeFileSync(opts.out, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`results: ${opts.out}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killAllChildren();
    process.exit(1);
  },
);
