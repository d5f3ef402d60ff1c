/**
 * Tunnel throughput benchmark (npm run bench:tunnel; root): TCP through the
 * tunnel with iperf3, between two network namespaces joined by a veth pair.
 *
 *   direct     iperf3 over the veth pair itself, no tunnel: the limit
 *   io_uring   `iouring-net tunnel --backend io_uring --offload off` in each
 *              namespace: plain packets, copied by JS (the path before TUN
 *              offloads)
 *   offload    ... --offload on: TSO/USO super-segments through the TUN,
 *              split and coalesced natively, native forwarders
 *   wg-go      upstream wireguard-go (../shared/anchors/, see its README;
 *              else Debian's `wireguard-go`), encrypting: the anchor
 *   mmsg       ... --backend mmsg --offload off (uv_poll + recvmmsg/sendmmsg)
 *   dgram      ... --backend dgram --offload off (node:dgram)
 *
 * Each case runs `rounds` times (interleaved: direct, io_uring, offload,
 * ..., direct, ...) for `seconds` seconds after a 1 s iperf3 omit period;
 * the median is reported with min..max, with the tunnels' CPU use (both
 * ends, % of one core), CPU seconds per GB moved, and the ratios. Targets
 * (issue 13): offload >= 2x io_uring and >= 1.6x wg-go, at no more CPU per
 * byte than either; io_uring >= 2x dgram. Results go to
 * bench/out/tunnel-results.json, a chart of them to tunnel-results.svg.
 * Exit 1 if a run fails, 2 on bad options.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeBarChart, type BarChart } from './lib/chart.js';
import { killAllChildren } from './lib/children.js';
import { INNER, NetPair, OUTER, type Running } from './lib/netpair.js';
import { iperfRun, median, type RunResult } from './lib/iperf.js';
import { Progress } from './lib/progress.js';
import { caseList, intOption } from './lib/run-options.js';
import { findWireguardGo, uapiSet, wgConfig, wgKeys, type WgGo } from './lib/wggo.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = join(HERE, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const CASES = ['direct', 'io_uring', 'offload', 'wg-go', 'mmsg', 'dgram'] as const;
type Case = (typeof CASES)[number];

const USAGE = `usage: npm run bench:tunnel [-- options]   (root; bench/tunnel-setup.sh installs iperf3)
  --cases a,b     cases to run: ${CASES.join(', ')} (default: all)
  --rounds N      rounds per case; medians are reported (default 3)
  --seconds S     measured seconds per run (default 5)
  --out FILE      results JSON (default bench/out/tunnel-results.json)
  --help`;

interface Options {
  cases: Case[];
  rounds: number;
  seconds: number;
  out: string;
}

function options(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      cases: { type: 'string' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return null;
  return {
    cases: caseList(values.cases, CASES),
    rounds: intOption(values.rounds, 3, 20),
    seconds: intOption(values.seconds, 5, 120),
    out: values.out ?? join(ROOT, 'bench', 'out', 'tunnel-results.json'),
  };
}

/** Wait (bounded) until both namespaces have a 10.236.0.x address. */
async function waitAddresses(pair: NetPair, procs: Running[], c: Case): Promise<void> {
  for (const i of [0, 1] as const) {
    const ns = pair.names[i];
    const deadline = Date.now() + 20_000;
    while (!/10\.236\.0\./.test(execFileSync('ip', ['-n', ns, '-o', 'addr', 'show'], { encoding: 'utf8' }))) {
      if (Date.now() > deadline || procs[i]?.child.exitCode !== null) throw new Error(`tunnel ${c} did not start:\n${procs[i]?.output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Our tunnel CLI in each namespace, with this backend and offload setting. */
async function startOurs(pair: NetPair, c: Case): Promise<Running[]> {
  const tunnels: Running[] = [];
  const backend = c === 'offload' ? 'io_uring' : c;
  for (const i of [0, 1] as const) {
    const args = ['tunnel', '--tun', 'iontun0', '--address', `${INNER[i]}/24`, '--listen', `${OUTER[i]}:7000`];
    args.push('--peer', `${OUTER[1 - i]}:7000`, '--backend', backend, '--offload', c === 'offload' ? 'on' : 'off', '--quiet');
    tunnels.push(pair.start(i, [process.execPath, CLI, ...args]));
  }
  // --quiet prints no startup line: the interface with its address tells.
  await waitAddresses(pair, tunnels, c);
  return tunnels;
}

/** wireguard-go in each namespace (wgbA, wgbB: UAPI sockets are per name, not per namespace). */
async function startWgGo(pair: NetPair, wg: WgGo): Promise<Running[]> {
  const names = [`wgb${process.pid % 10000}a`, `wgb${process.pid % 10000}b`] as const;
  const keys = [wgKeys(), wgKeys()] as const;
  const procs: Running[] = [];
  for (const i of [0, 1] as const) {
    procs.push(pair.start(i, ['env', 'LOG_LEVEL=error', wg.path, '-f', names[i]]));
  }
  for (const i of [0, 1] as const) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await uapiSet(names[i], wgConfig(keys[i], keys[1 - i]!, 7000, `${OUTER[1 - i]}:7000`, '10.236.0.0/24'));
        break;
      } catch (err) {
        if (Date.now() > deadline || procs[i]?.child.exitCode !== null) throw new Error(`wireguard-go did not start: ${(err as Error).message}\n${procs[i]?.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const ns = pair.names[i];
    execFileSync('ip', ['-n', ns, 'addr', 'add', `${INNER[i]}/24`, 'dev', names[i]]);
    execFileSync('ip', ['-n', ns, 'link', 'set', names[i], 'mtu', '1420', 'up']);
  }
  await waitAddresses(pair, procs, 'wg-go');
  return procs;
}

async function runOnce(pair: NetPair, c: Case, seconds: number, wg: WgGo | undefined): Promise<RunResult> {
  let tunnels: Running[] = [];
  try {
    if (c === 'wg-go') tunnels = await startWgGo(pair, wg!);
    else if (c !== 'direct') tunnels = await startOurs(pair, c);
    return await iperfRun(pair, c === 'direct' ? OUTER[1] : INNER[1], seconds, tunnels, c);
  } finally {
    for (const t of tunnels) t.child.kill('SIGTERM');
    await Promise.all(tunnels.map((t) => t.exited));
  }
}

function report(results: Map<Case, RunResult[]>, wg: WgGo | undefined): string[] {
  const lines: string[] = [];
  const med = (c: Case): number => median((results.get(c) ?? []).map((r) => r.gbps));
  /** CPU seconds (both ends) per GB moved: % of a core / 100 / (GB/s). */
  const cpuPerGB = (c: Case): number => median((results.get(c) ?? []).map((r) => r.tunnelCpu / 100 / (r.gbps / 8)));
  lines.push('case       Gbit/s (median, min..max)   retransmits   tunnel CPU (both ends)   CPU s/GB   vs io_uring   vs direct');
  for (const [c, runs] of results) {
    const g = runs.map((r) => r.gbps);
    const cpu = c === 'direct' ? '-' : `${median(runs.map((r) => r.tunnelCpu)).toFixed(0)}%`;
    const perGB = c === 'direct' ? '-' : cpuPerGB(c).toFixed(2);
    const vsPlain = results.has('io_uring') ? `${(med(c) / med('io_uring')).toFixed(2)}x` : '-';
    const vsDirect = results.has('direct') ? `${((100 * med(c)) / med('direct')).toFixed(1)}%` : '-';
    lines.push(
      `${c.padEnd(10)} ${`${med(c).toFixed(2)} (${Math.min(...g).toFixed(2)}..${Math.max(...g).toFixed(2)})`.padEnd(27)} ` +
        `${String(median(runs.map((r) => r.retransmits))).padEnd(13)} ${cpu.padEnd(24)} ${perGB.padEnd(10)} ${vsPlain.padEnd(13)} ${vsDirect}`,
    );
  }
  if (wg && results.has('wg-go')) lines.push(`wg-go is ${wg.label}`);
  const target = (what: string, ratio: number, want: number): void => {
    lines.push(`target: ${what}: ${ratio.toFixed(2)}x ${ratio >= want ? 'PASS' : 'MISS'}`);
  };
  const cpuTarget = (a: Case, b: Case): void => {
    const x = cpuPerGB(a);
    const y = cpuPerGB(b);
    lines.push(`target: ${a} CPU per byte <= ${b}: ${x.toFixed(2)} vs ${y.toFixed(2)} CPU s/GB ${x <= y ? 'PASS' : 'MISS'}`);
  };
  if (results.has('offload') && results.has('io_uring')) {
    target('offload >= 2x io_uring (no offloads)', med('offload') / med('io_uring'), 2);
    cpuTarget('offload', 'io_uring');
  }
  if (results.has('offload') && results.has('wg-go')) {
    target('offload >= 1.6x wg-go', med('offload') / med('wg-go'), 1.6);
    cpuTarget('offload', 'wg-go');
  }
  if (results.has('io_uring') && results.has('dgram')) target('io_uring tunnel >= 2x dgram tunnel', med('io_uring') / med('dgram'), 2);
  return lines;
}

/**
 * Gbit/s (median, min..max) and the tunnels' CPU, one bar per tunnel
 * backend. The direct path (often 10x more) is named in the subtitle
 * rather than drawn, so that the tunnels' bars stay readable.
 */
function tunnelChart(results: Map<Case, RunResult[]>, opts: Options, date: string): BarChart {
  const runs = (s: string): RunResult[] => results.get(s as Case) ?? [];
  const direct = runs('direct');
  const limit = direct.length > 0 ? ` · direct path, no tunnel: ${median(direct.map((r) => r.gbps)).toFixed(2)} Gbit/s` : '';
  return {
    title: 'TCP through the tunnel (iperf3 between two network namespaces)',
    subtitle: `${date.slice(0, 16).replace('T', ' ')} UTC · node ${process.version} · Linux ${release()} · ${cpus().length} CPUs · ` +
      `median of ${opts.rounds} round(s) × ${opts.seconds} s${limit}`,
    groups: ['iperf3 TCP, one flow, MTU 1420'],
    series: [...results.keys()].filter((c) => c !== 'direct'),
    panels: [
      {
        title: 'Gbit/s (bars: median; whiskers: min..max)',
        better: 'higher',
        value: (_g, s) => (runs(s).length > 0 ? median(runs(s).map((r) => r.gbps)) : undefined),
        range: (_g, s) => {
          const g = runs(s).map((r) => r.gbps);
          return g.length > 0 ? [Math.min(...g), Math.max(...g)] : undefined;
        },
        format: (v) => v.toFixed(2),
      },
      {
        title: 'CPU of both tunnel processes, % of one core',
        better: 'lower',
        value: (_g, s) => (runs(s).length === 0 ? undefined : median(runs(s).map((r) => r.tunnelCpu))),
        format: (v) => `${v.toFixed(0)}%`,
      },
      {
        title: 'CPU seconds (both tunnel processes) per GB moved',
        better: 'lower',
        value: (_g, s) => (runs(s).length === 0 ? undefined : median(runs(s).map((r) => r.tunnelCpu / 100 / (r.gbps / 8)))),
        format: (v) => v.toFixed(2),
      },
    ],
  };
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
    process.stderr.write('bench:tunnel needs root (network namespaces and TUN devices)\n');
    return 1;
  }
  const pair = NetPair.create();
  const cleanup = (): void => {
    killAllChildren();
    pair.destroy();
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  let wg: WgGo | undefined;
  if (opts.cases.includes('wg-go')) {
    const found = findWireguardGo(ROOT);
    if (typeof found === 'string') {
      process.stdout.write(`wg-go: skipped, ${found}\n`);
      opts.cases = opts.cases.filter((c) => c !== 'wg-go');
    } else {
      wg = found;
      process.stdout.write(`wg-go: ${wg.label}\n`);
    }
  }
  const results = new Map<Case, RunResult[]>();
  for (const c of opts.cases) results.set(c, []);
  try {
    process.stdout.write(`tunnel benchmark: ${opts.rounds} rounds x ${opts.seconds} s, ${cpus().length} CPUs, Linux ${release()}, Node ${process.version}\n`);
    // A run is iperf3's seconds + 1 omitted, plus starting and stopping the tunnels.
    const progress = new Progress(opts.rounds * opts.cases.length, opts.seconds + 3);
    for (let round = 0; round < opts.rounds; round++) {
      for (const c of opts.cases) {
        progress.start(`round ${round + 1}/${opts.rounds} ${c}`);
        const r = await runOnce(pair, c, opts.seconds, wg);
        results.get(c)?.push(r);
        progress.end(`${r.gbps.toFixed(2)} Gbit/s, ${r.retransmits} retransmits, tunnels ${r.tunnelCpu.toFixed(0)}% CPU`);
      }
    }
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  } finally {
    cleanup();
  }
  const lines = report(results, wg);
  process.stdout.write(`\n${lines.join('\n')}\n`);
  mkdirSync(dirname(opts.out), { recursive: true });
  const json = { date: new Date().toISOString(), kernel: release(), node: process.version, cpus: cpus().length, options: opts, results: Object.fromEntries(results), summary: lines };
  writeFileSync(opts.out, `${JSON.stringify(json, null, 2)}\n`);
  const chartFile = opts.out.replace(/(\.json)?$/, '.svg');
  writeBarChart(chartFile, tunnelChart(results, opts, json.date));
  process.stdout.write(`results: ${opts.out}, chart: ${chartFile}\n`);
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
