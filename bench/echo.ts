// Loopback UDP echo benchmark runner: C reference vs node:dgram vs our
// io_uring batch API. Run as `node dist/bench/echo.js --help` after tsc.
//
// Each run starts a fresh server, lets the C load generator keep a window of
// datagrams in flight through a warmup and a measured period, and samples the
// server's CPU time at the measured period's boundaries. Rounds interleave
// all servers so slow drifts of the machine hit every server alike; medians
// over rounds are reported. A separate pass then measures the JS heap bytes
// each Node server allocates per packet (lib/alloc.ts).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  formatHeap, HEAP_SECONDS, HEAP_SIZE, HEAP_V8_FLAGS, HEAP_WARMUP, heapVerdict, measureHeap, samplePath, type HeapRecord,
} from './lib/alloc.js';
import { buildIfStale } from './lib/build.js';
import { writeBarChart } from './lib/chart.js';
import { killAllChildren } from './lib/children.js';
import { loadgenCommand, runLoadgen, type LoadgenParams } from './lib/loadgen.js';
import { parseOptions, USAGE, UsageError, type Options } from './lib/options.js';
import { pinned, planPinning, type Pinning } from './lib/pin.js';
import { Progress } from './lib/progress.js';
import { clockTicksPerSecond, readCpuTicks } from './lib/proc.js';
import { compare, formatComparisons, formatTable, summarize, type RunRecord, type SummaryRow } from './lib/report.js';
import { startServer } from './lib/server.js';
import { serverTable, type ServerSpec } from './lib/servers.js';

const READY_TIMEOUT_MS = 10_000;

interface Context {
  readonly opts: Options;
  readonly pin: Pinning;
  readonly loadgenBin: string;
  readonly ticksPerSec: number;
}

/** The checkout root: the nearest ancestor holding bench/c/loadgen.c (works from dist/ or from sources). */
function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench', 'c', 'loadgen.c'))) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the project root above ${start}`);
  }
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** One server, one payload size: start, load, sample CPU, stop. */
async function runOne(ctx: Context, spec: ServerSpec, size: number, round: number): Promise<RunRecord | { skip: string }> {
  let server;
  try {
    server = await startServer(pinned(spec, ctx.pin.serverCpu), READY_TIMEOUT_MS);
  } catch (err) {
    return { skip: message(err) };
  }
  const base = { round, size, server: spec.name };
  try {
    const params: LoadgenParams = { port: server.port, size, window: ctx.opts.window, seconds: ctx.opts.seconds, warmup: ctx.opts.warmup };
    const pid = server.pid;
    // Filled in by the hooks; an object because TS cannot see closure writes to locals.
    const s: { t0?: number; c0?: number; t1?: number; c1?: number } = {};
    const res = await runLoadgen(pinned(loadgenCommand(ctx.loadgenBin, params), ctx.pin.loadgenCpu), params, {
      onStart() {
        s.t0 = performance.now();
        s.c0 = readCpuTicks(pid);
      },
      onEnd() {
        s.c1 = readCpuTicks(pid);
        s.t1 = performance.now();
      },
    });
    if (server.exitReason() !== undefined) throw new Error('server died'); // the catch explains how
    if (s.t0 === undefined || s.c0 === undefined || s.t1 === undefined || s.c1 === undefined) {
      throw new Error('loadgen did not report its measurement window');
    }
    if (res.echoes === 0) throw new Error(`no echoes received (sent ${res.sent}, refused ${res.refused})`);
    const cpuSeconds = (s.c1 - s.c0) / ctx.ticksPerSec;
    const cpuWindowSeconds = (s.t1 - s.t0) / 1000;
    // Rate × our own sampling window, so a few ms of lag in noticing the
    // markers scales both CPU and echo count alike instead of skewing one.
    const echoesInWindow = res.echoesPerSec * cpuWindowSeconds;
    return {
      ok: true,
      ...base,
      echoes: res.echoes,
      seconds: res.seconds,
      echoesPerSec: res.echoesPerSec,
      lost: res.lost,
      sent: res.sent,
      mismatched: res.mismatched,
      cpuSeconds,
      cpuWindowSeconds,
      cpuUsPerEcho: (cpuSeconds * 1e6) / echoesInWindow,
      serverCpuPercent: (cpuSeconds / cpuWindowSeconds) * 100,
      // Measured by the generator itself (getrusage), since it may already be
      // gone by the time we see MEASURE_END. Near 100% = generator-bound.
      loadgenCpuPercent: (res.cpuSeconds / res.seconds) * 100,
    };
  } catch (err) {
    // A dead server is the root cause of most errors here (e.g. its /proc
    // entry vanishing), so say that rather than the symptom.
    const died = server.exitReason();
    const tail = server.stderrTail();
    const why = died === undefined ? message(err) : `server ${died} during the run${tail === '' ? '' : `; stderr: ${tail}`}`;
    return { ok: false, ...base, error: why };
  } finally {
    await server.stop();
  }
}

function describe(r: RunRecord): string {
  if (!r.ok) return `FAILED: ${r.error}`;
  const extra = r.mismatched > 0 ? `, ${r.mismatched} WRONG-LENGTH echoes` : '';
  return `${Math.round(r.echoesPerSec).toLocaleString('en-US')} echoes/s, ` +
    `${r.cpuUsPerEcho.toFixed(3)} µs CPU/echo (server ${r.serverCpuPercent.toFixed(0)}% CPU, ` +
    `loadgen ${r.loadgenCpuPercent.toFixed(0)}%), lost ${r.lost}${extra}`;
}

/** Echoes/s (with min..max over rounds) and CPU µs per echo, per payload size and server. */
function echoChart(summary: readonly SummaryRow[], opts: Options, servers: readonly string[], date: string) {
  const row = (g: string, s: string): SummaryRow | undefined => summary.find((r) => `${r.size} B` === g && r.server === s && r.runsOk > 0);
  return {
    title: 'UDP echo over loopback: servers compared',
    subtitle: `${date.slice(0, 16).replace('T', ' ')} UTC · node ${process.version} · Linux ${release()} · ${cpus().length} CPUs · ` +
      `median of ${opts.rounds} round(s) × ${opts.seconds} s · window ${opts.window}`,
    groups: opts.sizes.map((s) => `${s} B`),
    series: servers,
    panels: [
      {
        title: 'echoes per second (bars: median; whiskers: min..max)',
        better: 'higher' as const,
        value: (g: string, s: string) => row(g, s)?.echoesPerSec,
        range: (g: string, s: string): readonly [number, number] | undefined => {
          const r = row(g, s);
          return r === undefined ? undefined : [r.echoesPerSecMin, r.echoesPerSecMax];
        },
      },
      {
        title: 'server CPU µs per echo',
        better: 'lower' as const,
        value: (g: string, s: string) => row(g, s)?.cpuUsPerEcho,
        format: (v: number) => v.toFixed(2),
      },
    ],
  };
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }

  const here = dirname(fileURLToPath(import.meta.url));
  const root = findRoot(here);
  const outDir = join(root, 'bench', 'out');
  const loadgenBin = join(outDir, 'loadgen');
  const echoServerBin = join(outDir, 'echo_server');
  for (const [name, bin] of [['loadgen', loadgenBin], ['echo_server', echoServerBin]] as const) {
    const built = buildIfStale(join(root, 'bench', 'c', `${name}.c`), bin);
    console.log(built ? `built ${relative(root, bin)}` : `${relative(root, bin)} is up to date`);
  }

  const table = serverTable({ echoServerBin, nodeServersDir: join(here, 'servers') });
  const known = table.map((s) => s.name);
  const unknown = (opts.servers ?? []).filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    console.error(`unknown server(s): ${unknown.join(', ')}; known: ${known.join(', ')}`);
    return 2;
  }
  const selected = opts.servers === undefined ? table : table.filter((s) => opts.servers?.includes(s.name));

  const pin = planPinning(!opts.pin);
  const ctx: Context = { opts, pin, loadgenBin, ticksPerSec: clockTicksPerSecond() };
  const perRun = opts.warmup + opts.seconds + 0.5;
  const heapServers = opts.heap ? selected.filter((s) => s.heapProbe) : [];
  const estimate = Math.ceil(opts.rounds * opts.sizes.length * selected.length * perRun +
    heapServers.length * (HEAP_WARMUP + HEAP_SECONDS + 0.5));
  console.log(`echo benchmark: servers ${selected.map((s) => s.name).join(', ')}; sizes ${opts.sizes.join(', ')} B; ` +
    `${opts.rounds} round(s) × (${opts.warmup} s warmup + ${opts.seconds} s measured); window ${opts.window}`);
  console.log(`${pin.note}; ${cpus().length} CPUs; kernel ${release()}; node ${process.version}; ~${estimate} s total`);

  const runs: RunRecord[] = [];
  const skipped = new Map<string, string>();
  const progress = new Progress(opts.rounds * opts.sizes.length * selected.length, perRun);
  for (let round = 1; round <= opts.rounds; round++) {
    for (const size of opts.sizes) {
      // Rotate the order each round so no server always runs first (or last).
      const order = selected.map((_, i) => selected[(i + round - 1) % selected.length]).filter((s) => s !== undefined);
      for (const spec of order) {
        if (skipped.has(spec.name)) continue;
        progress.start(`round ${round}/${opts.rounds} ${String(size).padStart(5)} B  ${spec.name}`);
        const missing = spec.needs.find((f) => !existsSync(f));
        const outcome = missing !== undefined
          ? { skip: `${relative(root, missing)} not found (build it first: npx tsc -p tsconfig.json)` }
          : await runOne(ctx, spec, size, round);
        if ('skip' in outcome) {
          // Not retried: a server that cannot start would cost the READY
          // timeout in every remaining run.
          skipped.set(spec.name, outcome.skip);
          progress.end(`skipped: ${outcome.skip}`);
          // Its remaining runs will not happen.
          const remaining = (opts.rounds - round) * opts.sizes.length + (opts.sizes.length - opts.sizes.indexOf(size) - 1);
          progress.drop(remaining);
          continue;
        }
        runs.push(outcome);
        progress.end(describe(outcome));
      }
    }
  }

  const names = selected.map((s) => s.name);
  const summary = summarize(runs, opts.sizes, names);
  const comparisons = compare(summary, runs, opts.sizes);
  console.log(`\nmedians over ${opts.rounds} round(s), ${pin.note}:\n${formatTable(summary)}`);
  console.log(`\ntargets (informational, never fail the run):\n${formatComparisons(comparisons)}`);
  for (const [name, why] of skipped) console.log(`note: ${name} was skipped: ${why}`);

  // Its own pass, so the probe's V8 flag never touches the rounds above.
  const heapRuns: HeapRecord[] = [];
  const sampleDir = opts.heapSample ? outDir : undefined;
  const heapTodo = heapServers.filter((s) => !skipped.has(s.name));
  if (heapTodo.length > 0) console.log('\nheap allocations per packet:');
  const heapProgress = new Progress(heapTodo.length, HEAP_WARMUP + HEAP_SECONDS + 0.5);
  for (const spec of heapTodo) {
    heapProgress.start(`heap ${spec.name}`);
    const rec = await measureHeap({ loadgenBin, pin, window: opts.window, readyTimeoutMs: READY_TIMEOUT_MS, sampleDir }, spec);
    heapRuns.push(rec);
    heapProgress.end(rec.ok ? 'done' : 'failed');
  }
  const heapResult = heapVerdict(heapRuns);
  if (heapRuns.length > 0) {
    console.log(`\nJS heap allocations per packet (${HEAP_SIZE} B, ${HEAP_WARMUP} s warmup + ${HEAP_SECONDS} s window, ` +
      `node ${HEAP_V8_FLAGS.join(' ')}):\n${formatHeap(heapRuns, heapResult)}`);
    if (sampleDir !== undefined) {
      const files = heapRuns.filter((r) => r.ok).map((r) => relative(process.cwd(), samplePath(sampleDir, r.server)));
      console.log(`sampling heap profiles (bytes by allocating function): ${files.join(', ')}`);
    }
  }

  const outFile = opts.out ?? join(outDir, 'echo-results.json');
  mkdirSync(dirname(outFile), { recursive: true });
  const meta = {
    date: new Date().toISOString(), node: process.version, kernel: release(), cpus: cpus().length,
    clockTicksPerSec: ctx.ticksPerSec, pinning: pin,
    options: { ...opts, servers: names },
  };
  const heap = { size: HEAP_SIZE, warmup: HEAP_WARMUP, seconds: HEAP_SECONDS, v8Flags: HEAP_V8_FLAGS, verdict: heapResult, runs: heapRuns };
  writeFileSync(outFile, `${JSON.stringify({ meta, summary, comparisons, heap, skipped: Object.fromEntries(skipped), runs }, null, 2)}\n`);
  const chartFile = outFile.replace(/(\.json)?$/, '.svg');
  writeBarChart(chartFile, echoChart(summary, opts, names, meta.date));
  console.log(`\nresults written to ${relative(process.cwd(), outFile) || outFile}, chart to ${relative(process.cwd(), chartFile) || chartFile}`);

  // Exit 1 only when the harness itself is at fault, which shows as a
  // reference server that could not run. The library under test failing or
  // missing a target is a result, not an error.
  const brokenRefs = selected.filter((s) => !s.underTest &&
    (skipped.has(s.name) || [...runs, ...heapRuns].some((r) => r.server === s.name && !r.ok)));
  if (brokenRefs.length > 0) {
    console.error(`harness error: reference server(s) failed: ${brokenRefs.map((s) => s.name).join(', ')}`);
    return 1;
  }
  return 0;
}

// Never leave a server or loadgen spinning after the runner is gone.
process.on('exit', killAllChildren);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAllChildren();
    process.exit(130);
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  },
);
