// CPU pinning. On a small machine (2 cores here) an unpinned server and load
// generator migrate and fight over the same core, which makes rounds noisy and
// penalises whichever process the scheduler happens to disfavour. Pinning them
// to different CPUs gives every server the same, stable setup.
import { spawnSync } from 'node:child_process';

export interface Pinning {
  readonly enabled: boolean;
  readonly loadgenCpu: number | undefined;
  readonly serverCpu: number | undefined;
  /** Human-readable explanation for the report. */
  readonly note: string;
}

export interface Command {
  readonly command: string;
  readonly args: readonly string[];
}

/** Parses a taskset CPU list such as "0,1" or "0-3,6". */
function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.trim().split('-');
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    if (!Number.isInteger(lo) || !Number.isInteger(hi)) continue;
    for (let c = lo; c <= hi; c++) cpus.push(c);
  }
  return cpus;
}

/** Decides whether and where to pin, based on taskset and our own affinity. */
export function planPinning(disabled: boolean): Pinning {
  const off = (note: string): Pinning => ({ enabled: false, loadgenCpu: undefined, serverCpu: undefined, note });
  if (disabled) return off('unpinned (--no-pin)');
  // Asking taskset for our own affinity both proves it works and tells us
  // which CPUs we may use (containers often restrict them).
  const probe = spawnSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return off('unpinned (taskset not available)');
  const list = /list:\s*(\S+)/.exec(probe.stdout)?.[1];
  const cpus = list === undefined ? [] : parseCpuList(list);
  const [loadgenCpu, serverCpu] = cpus;
  if (loadgenCpu === undefined || serverCpu === undefined) {
    return off(`unpinned (only ${cpus.length} CPU available)`);
  }
  return { enabled: true, loadgenCpu, serverCpu, note: `pinned with taskset: loadgen on CPU ${loadgenCpu}, server on CPU ${serverCpu}` };
}

/**
 * Wraps a command in `taskset -c CPU`. taskset execs the command in place, so
 * the spawned PID is the real server's PID and /proc/PID/stat measures it.
 */
export function pinned(cmd: Command, cpu: number | undefined): Command {
  if (cpu === undefined) return cmd;
  return { command: 'taskset', args: ['-c', String(cpu), cmd.command, ...cmd.args] };
}
