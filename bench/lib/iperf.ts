/**
 * One iperf3 TCP run between the two namespaces of a NetPair (client in
 * namespace 0, server in namespace 1), with the CPU time the given tunnel
 * processes used meanwhile. Shared by bench/tunnel.ts and bench/wireguard.ts.
 */
import { cpus } from 'node:os';

import { type NetPair, type Running } from './netpair.js';
import { clockTicksPerSecond, readCpuTicks, readMachineTicks } from './proc.js';

export interface RunResult {
  gbps: number;
  retransmits: number;
  /** CPU of the tunnel processes (both ends), in % of one core. */
  tunnelCpu: number;
  /**
   * CPU of the whole machine (tunnels, iperf3, the kernel's TCP, everything
   * else running), in % of one core: near 100% x cores means the run was
   * CPU-bound, and then throughput is cores / (CPU per Gbit/s).
   */
  machineCpu: number;
}

/** Bounded wait for a pattern in a process's output. */
export async function waitForOutput(p: Running, re: RegExp, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!re.test(p.output())) {
    if (p.child.exitCode !== null || Date.now() > deadline) throw new Error(`${what} failed:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * iperf3 -c target for `seconds` (after a 1 s omit period); `tunnels`: the
 * processes whose CPU time is measured.
 */
export async function iperfRun(pair: NetPair, target: string, seconds: number, tunnels: Running[], label: string): Promise<RunResult> {
  const server = pair.start(1, ['iperf3', '-s', '-1', '-B', target, '--forceflush']);
  await waitForOutput(server, /listening/i, 10_000, 'iperf3 -s');
  const pids = tunnels.map((t) => t.child.pid ?? 0);
  const ticks = pids.map((pid) => readCpuTicks(pid));
  const machine = readMachineTicks();
  const started = Date.now();
  const client = pair.start(0, ['iperf3', '-c', target, '-t', String(seconds + 1), '-O', '1', '-J', '--connect-timeout', '5000']);
  const code = await client.exited;
  const wall = (Date.now() - started) / 1000;
  const used = pids.reduce((sum, pid, k) => sum + readCpuTicks(pid) - (ticks[k] ?? 0), 0);
  const machineAfter = readMachineTicks();
  await server.exited;
  if (code !== 0) throw new Error(`iperf3 -c (${label}) exited ${code}:\n${client.output()}`);
  const report = JSON.parse(client.output()) as { end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } } };
  return {
    gbps: report.end.sum_received.bits_per_second / 1e9,
    retransmits: report.end.sum_sent.retransmits ?? 0,
    tunnelCpu: (100 * used) / clockTicksPerSecond() / wall,
    machineCpu: (100 * cpus().length * (machineAfter.busy - machine.busy)) / Math.max(1, machineAfter.total - machine.total),
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}
