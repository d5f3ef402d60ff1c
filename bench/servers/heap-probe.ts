// Measures JS heap bytes allocated per packet by a Node echo server between
// two signals from the runner (bench/lib/alloc.ts). Inert unless BENCH_HEAP=1,
// so the throughput runs measure the server exactly as a user would run it.
//
//   SIGUSR2 = start: note used heap and the packet count, start a GCProfiler.
//   SIGUSR1 = end:   note used heap and packets again; print `HEAP {json}`.
//
// The runner starts the server with --min/--max-semi-space-size=64, so a
// scavenge needs ~54 MB of young allocation: for a (nearly) allocation-free
// server the used-heap delta over the window is then exactly what was
// allocated. If GCs do happen, v8.GCProfiler (which records the used heap
// before and after every GC synchronously, unlike PerformanceObserver 'gc'
// entries that arrive later on the event loop) says what they freed, and
// delta + freed is still the total allocated.
//
// No gc() at the start, on purpose: right after a forced full GC the used
// heap of old and code space creeps up by ~20 KB, sometimes 250 KB, with no
// allocation behind it (post-GC sweeping bookkeeping; the sampling heap
// profiler sees none of it). Without it an idle window reads ~0.8 KB.
//
// SIGUSR1 normally starts Node's inspector; with a listener installed it
// does not (checked on Node 20), and the throughput runs never send it.
import { performance } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics } from 'node:v8';

export interface HeapCounters {
  /** Datagrams received so far. */
  packets(): number;
  /** Receive callbacks so far, if the server batches (per-batch costs show as bytes/batch). */
  batches?: () => number;
  /** Event-loop wake-ups for the ring so far (each is one loop iteration). */
  wakeups?: () => number;
}

export interface HeapReport {
  packets: number;
  batches?: number;
  wakeups?: number;
  /** used_heap_size at end − at start */
  heapDeltaBytes: number;
  /** Σ (used before − used after) over the GCs in the window */
  gcFreedBytes: number;
  minorGcs: number;
  majorGcs: number;
  /** (heapDeltaBytes + gcFreedBytes) / packets; a plain delta when there were no GCs */
  bytesPerPacket: number;
  windowMs: number;
  /** True if the sampling heap profiler ran: its own work is then in the numbers. */
  sampled: boolean;
}

// Scavenge (and V8's optional minor mark-compact) collect the young
// generation only; MarkSweepCompact is a full GC. The profiler also reports
// phases (IncrementalMarking, ProcessWeakCallbacks) that are not GCs of
// their own: their freed bytes still count, but they are not counted as GCs.
const MINOR = new Set(['Scavenge', 'MinorMarkCompact']);
const MAJOR = new Set(['MarkSweepCompact']);

export function installHeapProbe(counters: HeapCounters): void {
  if (process.env['BENCH_HEAP'] !== '1') return;
  const samplePath = process.env['BENCH_HEAP_SAMPLE'];
  const batches = counters.batches ?? ((): number => 0);
  const wakeups = counters.wakeups ?? ((): number => 0);
  let start: { heap: number; packets: number; batches: number; wakeups: number; t: number; profiler: GCProfiler } | undefined;
  let stopSampling: (() => void) | undefined;
  // Loaded only when asked for: node:inspector is absent from some Node
  // builds, and the window starts a second or more after this.
  let sampler: typeof import('./heap-sampler.js') | undefined;
  if (samplePath !== undefined) {
    import('./heap-sampler.js').then(
      (m) => (sampler = m),
      (err: unknown) => console.error(`heap probe: no sampling: ${String(err)}`),
    );
  }
  // Run everything the window uses once now: first calls load internal
  // modules and compile code lazily (the global `performance` alone pulls in
  // ~60 KB of perf_hooks), which must not land in the measured delta.
  const warm = new GCProfiler();
  warm.start();
  warm.stop();
  counters.packets();
  batches();
  wakeups();
  getHeapStatistics();
  performance.now();

  process.on('SIGUSR2', () => {
    start?.profiler.stop(); // a repeated start restarts the window
    const profiler = new GCProfiler();
    profiler.start();
    const p = counters.packets();
    const b = batches();
    const w = wakeups();
    // Read the heap last, so the objects made above are not counted.
    start = { heap: getHeapStatistics().used_heap_size, packets: p, batches: b, wakeups: w, t: performance.now(), profiler };
    if (samplePath !== undefined) stopSampling = sampler?.startHeapSampling(samplePath);
  });

  process.on('SIGUSR1', () => {
    // Read the heap first, so nothing made by the report itself is counted.
    const heap = getHeapStatistics().used_heap_size;
    const p = counters.packets();
    const b = batches();
    const w = wakeups();
    const t = performance.now();
    const sampled = stopSampling !== undefined;
    stopSampling?.();
    stopSampling = undefined;
    if (start === undefined) {
      console.error('heap probe: SIGUSR1 (end) without SIGUSR2 (start)');
      return;
    }
    let minorGcs = 0;
    let majorGcs = 0;
    let gcFreedBytes = 0;
    for (const s of start.profiler.stop().statistics) {
      if (MINOR.has(s.gcType)) minorGcs++;
      else if (MAJOR.has(s.gcType)) majorGcs++;
      gcFreedBytes += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
    }
    const n = p - start.packets;
    const heapDeltaBytes = heap - start.heap;
    const report: HeapReport = {
      packets: n,
      ...(counters.batches === undefined ? {} : { batches: b - start.batches }),
      ...(counters.wakeups === undefined ? {} : { wakeups: w - start.wakeups }),
      heapDeltaBytes,
      gcFreedBytes,
      minorGcs,
      majorGcs,
      bytesPerPacket: n > 0 ? (heapDeltaBytes + gcFreedBytes) / n : Number.NaN,
      windowMs: t - start.t,
      sampled,
    };
    start = undefined;
    console.log(`HEAP ${JSON.stringify(report)}`);
  });
}
