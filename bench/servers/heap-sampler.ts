// Where do the bytes come from? With BENCH_HEAP=1 BENCH_HEAP_SAMPLE=<file>,
// the heap probe runs V8's sampling heap profiler over its window and this
// writes a summary: bytes by allocating function, with the heaviest stacks.
// Diagnosis only: the profiler's own work (and the GCs it may cause) is in
// that run's HEAP numbers.
//
// "(V8 API)" in the summary means an allocation made by C++ with no JS frame
// on the stack, i.e. by Node itself or an addon.
import { writeFileSync } from 'node:fs';
import { Session, type HeapProfiler } from 'node:inspector';

/** Small enough to catch a few bytes per batch; the profiler scales samples up to bytes. */
const SAMPLING_INTERVAL = 64;
const TOP_FUNCTIONS = 15;
const STACKS_PER_FUNCTION = 2;

type Node = HeapProfiler.SamplingHeapProfileNode;

/** Posts synchronously: an in-process session answers before post() returns. */
function post<T>(session: Session, method: string, params: object = {}): T {
  let result: T | undefined;
  let error: Error | null = null;
  session.post(method, params, (err: Error | null, res?: object) => {
    error = err;
    result = res as T;
  });
  if (error !== null) throw error;
  if (result === undefined) throw new Error(`inspector: no synchronous answer to ${method}`);
  return result;
}

function frameName(n: Node): string {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '');
  return url === '' ? (f.functionName || '(anonymous)') : `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber + 1}`;
}

export function summarize(head: Node): string {
  const bySelf = new Map<string, { bytes: number; stacks: Map<string, number> }>();
  let total = 0;
  const walk = (n: Node, stack: readonly string[]): void => {
    const here = [frameName(n), ...stack];
    if (n.selfSize > 0) {
      total += n.selfSize;
      const name = here[0] ?? '';
      const entry = bySelf.get(name) ?? { bytes: 0, stacks: new Map<string, number>() };
      entry.bytes += n.selfSize;
      // here[] ends with the synthetic "(root)" frame: leave it out.
      const key = here.slice(1, -1).join('\n      <- ');
      entry.stacks.set(key, (entry.stacks.get(key) ?? 0) + n.selfSize);
      bySelf.set(name, entry);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(head, []);
  const lines = [`sampled ${total} B in all (interval ${SAMPLING_INTERVAL} B), by allocating function:`];
  for (const [name, e] of [...bySelf].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, TOP_FUNCTIONS)) {
    lines.push(`${String(e.bytes).padStart(10)} B  ${name}`);
    for (const [stack, bytes] of [...e.stacks].sort((a, b) => b[1] - a[1]).slice(0, STACKS_PER_FUNCTION)) {
      if (stack !== '') lines.push(`      ${bytes} B via\n      <- ${stack}`);
    }
  }
  lines.push('("(V8 API)": allocated by C++ with no JS frame on the stack, i.e. by Node itself or an addon.)');
  return `${lines.join('\n')}\n`;
}

/** Starts sampling now; the returned function stops it and writes the summary to `path`. */
export function startHeapSampling(path: string): () => void {
  const session = new Session();
  session.connect();
  // Without the include flags, objects already collected (nearly all of a
  // steady-state server's garbage) would be missing from the profile.
  post(session, 'HeapProfiler.startSampling', {
    samplingInterval: SAMPLING_INTERVAL,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return () => {
    const { profile } = post<HeapProfiler.StopSamplingReturnType>(session, 'HeapProfiler.stopSampling');
    session.disconnect();
    writeFileSync(path, summarize(profile.head));
  };
}
