/**
 * Tunnel throughput benchmark (npm run bench:tunnel; root): TCP through the
 * tunnel with iperf3, between two network namespaces joined by a veth pair.
 *
 *   direct     iperf3 over the veth pair itself, no tunnel: the limit
 *   io_uring   `iouring-net tunnel --backend io_uring` in each namespace
 *   mmsg       ... --backend mmsg (uv_poll + recvmmsg/sendmmsg)
 *   dgram      ... --backend dgram (node:dgram)
 *
 * Each case runs `rounds` times (interleaved: direct, io_uring, mmsg,
 * dgram, direct, ...) for `seconds` seconds after a 1 s iperf3 omit
 * period; the median is reported with min..max, with the tunnels' CPU use
 * and the ratios. Target: io_uring >= 2x dgram. Results go to
 * bench/out/tunnel-results.json. Exit 1 if a run fails, 2 on bad options.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { killAllChildren } from './lib/children.js';
import { INNER, NetPair, OUTER, type Running } from './lib/netpair.js';
import { iperfRun, median, type RunResult } from './lib/iperf.js';
import { startPlainTunnels } from './lib/plain-tunnel.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = join(HERE, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const CASES = ['direct', 'io_uring', 'mmsg', 'dgram'] as const;
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
  const cases = (values.cases ?? CASES.join(',')).split(',').filter(Boolean);
  for (const c of cases) if (!(CASES as readonly string[]).includes(c)) throw new Error(`unknown case "${c}"`);
  const int = (v: string | undefined, def: number, max: number): number => {
    const n = v === undefined ? def : Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`"${v}" must be an integer from 1 to ${max}`);
    return n;
  };
  return {
    cases: cases as Case[],
    rounds: int(values.rounds, 3, 20),
    seconds: int(values.seconds, 5, 120),
    out: values.out ?? join(ROOT, 'bench', 'out', 'tunnel-results.json'),
  };
}

async function runOnce(pair: NetPair, c: Case, seconds: number): Promise<RunResult> {
  const tunnels: Running[] = [];
  try {
    if (c !== 'direct') await startPlainTunnels(pair, CLI, c, tunnels);
    return await iperfRun(pair, c === 'direct' ? OUTER[1] : INNER[1], seconds, tunnels, c);
  } finally {
    for (const t of tunnels) t.child.kill('SIGTERM');
    await Promise.all(tunnels.map((t) => t.exited));
  }
}

function report(results: Map<Case, RunResult[]>): string[] {
  const lines: string[] = [];
  const med = (c: Case): number => median((results.get(c) ?? []).map((r) => r.gbps));
  lines.push('case       Gbit/s (median, min..max)   retransmits   tunnel CPU (both ends)   vs dgram   vs direct');
  for (const [c, runs] of results) {
    const g = runs.map((r) => r.gbps);
    const cpu = c === 'direct' ? '-' : `${median(runs.map((r) => r.tunnelCpu)).toFixed(0)}%`;
    const vsDgram = results.has('dgram') ? `${(med(c) / med('dgram')).toFixed(2)}x` : '-';
    const vsDirect = results.has('direct') ? `${((100 * med(c)) / med('direct')).toFixed(1)}%` : '-';
    lines.push(
      `${c.padEnd(10)} ${`${med(c).toFixed(2)} (${Math.min(...g).toFixed(2)}..${Math.max(...g).toFixed(2)})`.padEnd(27)} ` +
        `${String(median(runs.map((r) => r.retransmits))).padEnd(13)} ${cpu.padEnd(24)} ${vsDgram.padEnd(10)} ${vsDirect}`,
    );
  }
  if (results.has('io_uring') && results.has('dgram')) {
    const ratio = med('io_uring') / med('dgram');
    lines.push(`target: io_uring tunnel >= 2x dgram tunnel: ${ratio.toFixed(2)}x ${ratio >= 2 ? 'PASS' : 'MISS'}`);
  }
  return lines;
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
  const results = new Map<Case, RunResult[]>();
  for (const c of opts.cases) results.set(c, []);
  try {
    process.stdout.write(`tunnel benchmark: ${opts.rounds} rounds x ${opts.seconds} s, ${cpus().length} CPUs, Linux ${release()}, Node ${process.version}\n`);
    for (let round = 0; round < opts.rounds; round++) {
      for (const c of opts.cases) {
        const r = await runOnce(pair, c, opts.seconds);
        results.get(c)?.push(r);
        process.stdout.write(`  round ${round + 1} ${c.padEnd(9)} ${r.gbps.toFixed(2)} Gbit/s, ${r.retransmits} retransmits, tunnels ${r.tunnelCpu.toFixed(0)}% CPU\n`);
      }
    }
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  } finally {
    cleanup();
  }
  const lines = report(results);
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
