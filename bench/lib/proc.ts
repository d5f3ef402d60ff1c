// Server CPU accounting from /proc. utime+stime of /proc/PID/stat cover every
// thread of the process (including exited ones), which is what we want for
// Node servers with helper threads and io_uring servers with kernel-side
// worker threads that belong to the process.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** CPU time (user + system) consumed so far by process `pid`, in clock ticks. */
export function readCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) is parenthesised and may itself contain spaces or ')', so
  // split only what follows the last ')'. That remainder starts at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`cannot parse /proc/${pid}/stat`);
  }
  return utime + stime;
}

/** Clock ticks per second used by /proc/PID/stat (USER_HZ). */
export function clockTicksPerSecond(): number {
  try {
    const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (Number.isInteger(hz) && hz > 0) return hz;
  } catch {
    // fall through: getconf missing is unusual but not fatal
  }
  // USER_HZ is 100 on every mainstream Linux architecture.
  return 100;
}

/** Busy and total clock ticks of the whole machine so far (/proc/stat's "cpu" line; idle and iowait are not busy). */
export function readMachineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (v.length < 8 || v.some((n) => !Number.isFinite(n))) throw new Error('cannot parse /proc/stat');
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}
