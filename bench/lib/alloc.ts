// The allocation pass: JS heap bytes per echoed packet in steady state, for
// each Node server. Runs after the throughput rounds and separately from
// them, because it needs a V8 flag (a 64 MB young generation) that must not
// change the servers the throughput is measured on.
// The measuring itself happens inside the server (servers/heap-probe.ts);
// here we start it in probe mode, drive the load, signal the window's
// boundaries at the generator's MEASURE_START/END and collect its report.
import { join } from 'node:path';
import { runLoadgen, loadgenCommand, type LoadgenParams } from './loadgen.js';
import { pinned, type Pinning } from './pin.js';
import { startServer } from './server.js';
import type { ServerSpec } from './servers.js';

/**
 * 64 MB semi-spaces (Node 20 default: 16): a scavenge only after ~54 MB of
 * young allocation, so an (almost) allocation-free server has no GC in the
 * window and its heap delta needs no correction.
 */
export const HEAP_V8_FLAGS = ['--min-semi-space-size=64', '--max-semi-space-size=64'] as const;
/** Small packets: per-packet costs dominate; the payload size does not change what JS allocates. */
export const HEAP_SIZE = 64;
// Warm up long enough for the JIT to settle; measure briefly, so the probe's
// own ~1 KB is spread over ~10^5..10^6 packets yet a young generation of
// 64 MB does not fill up at well under 100 B/packet.
export const HEAP_WARMUP = 1;
export const HEAP_SECONDS = 2;
const REPORT_TIMEOUT_MS = 5000;

/** The server under test and the target: less than 1 B/packet counts as zero. */
const SUBJECT = 'iouring-batch';
const LIMIT = 1;
/**
 * Node allocates one 56-byte object per event-loop iteration in every
 * program (bench/README.md). When the server outruns the load generator
 * (UDP GSO made it cheaper per echo than the C generator), batches shrink
 * to a few packets and that object alone is several bytes per packet; each
 * ring wake-up is one loop iteration, so 56 B x wake-ups is Node's, not ours.
 */
const NODE_BYTES_PER_ITERATION = 56;

const FIELDS = ['packets', 'heapDeltaBytes', 'gcFreedBytes', 'minorGcs', 'majorGcs', 'bytesPerPacket', 'windowMs'] as const;
/** What servers/heap-probe.ts prints (see HeapReport there). */
type Report = Record<(typeof FIELDS)[number], number> & { batches?: number; wakeups?: number; sampled: boolean };

export type HeapRecord =
  | ({ readonly ok: true; readonly server: string; readonly size: number; readonly echoesPerSec: number } & Readonly<Report>)
  | { readonly ok: false; readonly server: string; readonly size: number; readonly error: string };

export interface HeapVerdict {
  readonly claim: string;
  readonly bytesPerPacket: number | undefined;
  readonly verdict: 'PASS' | 'MISS' | 'n/a';
}

export interface HeapSetup {
  readonly loadgenBin: string;
  readonly pin: Pinning;
  readonly window: number;
  readonly readyTimeoutMs: number;
  /** Where to write sampling heap profiles (--heap-sample), or undefined for none. */
  readonly sampleDir: string | undefined;
}

/** bench/out/heap-sample-node-dgram.txt etc. */
export const samplePath = (dir: string, server: string): string =>
  join(dir, `heap-sample-${server.replace(/[^A-Za-z0-9]+/g, '-')}.txt`);

function parseReport(line: string): Report {
  const data: unknown = JSON.parse(line.slice('HEAP '.length));
  if (typeof data !== 'object' || data === null) throw new Error(`bad HEAP line: ${line}`);
  const rec = data as Record<string, unknown>;
  const out: Partial<Record<(typeof FIELDS)[number], number>> = {};
  for (const key of FIELDS) {
    const v = rec[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`HEAP line lacks numeric "${key}" (no packets in the window?): ${line}`);
    out[key] = v;
  }
  const batches = rec['batches'];
  const wakeups = rec['wakeups'];
  return {
    ...(out as Record<(typeof FIELDS)[number], number>),
    ...(typeof batches === 'number' ? { batches } : {}),
    ...(typeof wakeups === 'number' ? { wakeups } : {}),
    sampled: rec['sampled'] === true,
  };
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** One server in probe mode: start, load, signal the window, read its HEAP line, stop. */
export async function measureHeap(setup: HeapSetup, spec: ServerSpec): Promise<HeapRecord> {
  const base = { server: spec.name, size: HEAP_SIZE };
  let server;
  try {
    const cmd = { command: spec.command, args: [...HEAP_V8_FLAGS, ...spec.args] };
    const env: Record<string, string> = { BENCH_HEAP: '1' };
    if (setup.sampleDir !== undefined) env['BENCH_HEAP_SAMPLE'] = samplePath(setup.sampleDir, spec.name);
    server = await startServer(pinned(cmd, setup.pin.serverCpu), setup.readyTimeoutMs, { env });
  } catch (err) {
    return { ok: false, ...base, error: message(err) };
  }
  try {
    const params: LoadgenParams = { port: server.port, size: HEAP_SIZE, window: setup.window, seconds: HEAP_SECONDS, warmup: HEAP_WARMUP };
    const pid = server.pid;
    const res = await runLoadgen(pinned(loadgenCommand(setup.loadgenBin, params), setup.pin.loadgenCpu), params, {
      onStart: () => process.kill(pid, 'SIGUSR2'),
      onEnd: () => process.kill(pid, 'SIGUSR1'),
    });
    const line = await server.waitForLine(/^HEAP \{/, REPORT_TIMEOUT_MS);
    return { ok: true, ...base, echoesPerSec: res.echoesPerSec, ...parseReport(line) };
  } catch (err) {
    const died = server.exitReason();
    const tail = server.stderrTail();
    const why = died === undefined ? message(err) : `server ${died}${tail === '' ? '' : `; stderr: ${tail}`}`;
    return { ok: false, ...base, error: why };
  } finally {
    await server.stop();
  }
}

export function heapVerdict(records: readonly HeapRecord[]): HeapVerdict {
  const claim =
    `${SUBJECT}: 0 JS heap bytes allocated per packet in steady state ` +
    `(< ${LIMIT} B/packet, beyond Node's ${NODE_BYTES_PER_ITERATION} B per loop wake-up)`;
  const r = records.find((x) => x.server === SUBJECT);
  // A sampled run includes the profiler's own work: not a fair verdict.
  if (r === undefined || !r.ok || r.sampled) return { claim, bytesPerPacket: undefined, verdict: 'n/a' };
  const ours = beyondNode(r);
  return { claim, bytesPerPacket: ours, verdict: ours < LIMIT ? 'PASS' : 'MISS' };
}

/** Bytes per packet left after Node's per-iteration object (all of it if wake-ups are unknown). */
function beyondNode(r: HeapRecord & { ok: true }): number {
  const allocated = r.heapDeltaBytes + r.gcFreedBytes;
  const node = (r.wakeups ?? 0) * NODE_BYTES_PER_ITERATION;
  return Math.max(0, allocated - node) / r.packets;
}

const int = (v: number): string => Math.round(v).toLocaleString('en-US');

export function formatHeap(records: readonly HeapRecord[], v: HeapVerdict): string {
  const header = ['server', 'packets', 'heap delta', 'GCs minor/major', 'bytes/packet', 'bytes/batch', 'bytes/wake-up', 'how'];
  const body = records.map((r) => {
    if (!r.ok) return [r.server, '-', '-', '-', '-', '-', '-', `FAILED: ${r.error}`];
    const allocated = r.heapDeltaBytes + r.gcFreedBytes;
    const perBatch = r.batches === undefined || r.batches === 0 ? '-' : (allocated / r.batches).toFixed(1);
    const perWakeup = r.wakeups === undefined || r.wakeups === 0 ? '-' : (allocated / r.wakeups).toFixed(1);
    // Without GCs the delta is the allocation; with them, add what they freed.
    const how = (r.minorGcs + r.majorGcs === 0 ? 'heap delta, no GC in window'
      : `heap delta + ${int(r.gcFreedBytes)} B freed by the GCs`) + (r.sampled ? '; SAMPLED (profiler overhead included)' : '');
    return [r.server, int(r.packets), `${int(r.heapDeltaBytes)} B`, `${r.minorGcs}/${r.majorGcs}`, r.bytesPerPacket.toFixed(3), perBatch, perWakeup, how];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]): string =>
    row.map((c, i) => (i === 0 || i === row.length - 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  const result = v.bytesPerPacket === undefined ? 'no result' : `${v.bytesPerPacket.toFixed(3)} B/packet beyond Node's`;
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), '',
    `${v.claim}: ${result}  ${v.verdict}`].join('\n');
}
