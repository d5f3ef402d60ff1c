// Turns per-run records into the summary table and the target comparisons.
import { median, range, sum } from './stats.js';

export interface RunOk {
  readonly ok: true;
  readonly round: number;
  readonly size: number;
  readonly server: string;
  readonly echoes: number;
  readonly seconds: number;
  readonly echoesPerSec: number;
  readonly lost: number;
  readonly sent: number;
  readonly mismatched: number;
  /** Server CPU time (user+system) during the measured window. */
  readonly cpuSeconds: number;
  /** Wall time between the two CPU samples (≈ seconds). */
  readonly cpuWindowSeconds: number;
  readonly cpuUsPerEcho: number;
  readonly serverCpuPercent: number;
  /** Load generator CPU; near 100% means the generator, not the server, limited the rate. */
  readonly loadgenCpuPercent: number;
}

export interface RunFailed {
  readonly ok: false;
  readonly round: number;
  readonly size: number;
  readonly server: string;
  readonly error: string;
}

export type RunRecord = RunOk | RunFailed;

export interface SummaryRow {
  readonly size: number;
  readonly server: string;
  readonly runsOk: number;
  readonly runsFailed: number;
  readonly echoesPerSec: number;
  readonly echoesPerSecMin: number;
  readonly echoesPerSecMax: number;
  readonly cpuUsPerEcho: number;
  readonly serverCpuPercent: number;
  readonly loadgenCpuPercent: number;
  readonly lost: number;
  readonly mismatched: number;
}

export interface Target {
  readonly metric: 'echoesPerSec' | 'cpuUsPerEcho';
  readonly subject: string;
  readonly baseline: string;
  /** Higher-is-better metrics need ratio >= limit, lower-is-better <= limit. */
  readonly op: '>=' | '<=';
  readonly limit: number;
}

export interface Comparison extends Target {
  readonly size: number;
  /** subject / baseline of the medians, or undefined when either side has no result. */
  readonly ratio: number | undefined;
  /**
   * Median over rounds of the per-round ratio. The two runs of a round are
   * seconds apart, so this cancels slow machine drift (shared VMs) better;
   * shown as a cross-check, the verdict uses `ratio`.
   */
  readonly pairedRatio: number | undefined;
  readonly verdict: 'PASS' | 'MISS' | 'n/a';
}

/** The project's goals for the io_uring batch API. */
export const TARGETS: readonly Target[] = [
  { metric: 'echoesPerSec', subject: 'iouring-batch', baseline: 'node:dgram', op: '>=', limit: 1.8 },
  { metric: 'cpuUsPerEcho', subject: 'iouring-batch', baseline: 'c-reference', op: '<=', limit: 1.3 },
  { metric: 'echoesPerSec', subject: 'iouring-dgram', baseline: 'node:dgram', op: '>=', limit: 1.4 },
  { metric: 'echoesPerSec', subject: 'mmsg-batch', baseline: 'node:dgram', op: '>=', limit: 1.6 },
];

export function summarize(runs: readonly RunRecord[], sizes: readonly number[], servers: readonly string[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const size of sizes) {
    for (const server of servers) {
      const mine = runs.filter((r) => r.size === size && r.server === server);
      const ok = mine.filter((r): r is RunOk => r.ok);
      if (mine.length === 0) continue; // skipped before any run
      const eps = ok.map((r) => r.echoesPerSec);
      const { min, max } = range(eps);
      rows.push({
        size,
        server,
        runsOk: ok.length,
        runsFailed: mine.length - ok.length,
        echoesPerSec: median(eps),
        echoesPerSecMin: min,
        echoesPerSecMax: max,
        cpuUsPerEcho: median(ok.map((r) => r.cpuUsPerEcho)),
        serverCpuPercent: median(ok.map((r) => r.serverCpuPercent)),
        loadgenCpuPercent: median(ok.map((r) => r.loadgenCpuPercent)),
        lost: sum(ok.map((r) => r.lost)),
        mismatched: sum(ok.map((r) => r.mismatched)),
      });
    }
  }
  return rows;
}

function pairedRatio(runs: readonly RunRecord[], size: number, t: Target): number | undefined {
  const ok = runs.filter((r): r is RunOk => r.ok && r.size === size);
  const ratios: number[] = [];
  for (const a of ok.filter((r) => r.server === t.subject)) {
    const b = ok.find((r) => r.server === t.baseline && r.round === a.round);
    if (b !== undefined && b[t.metric] > 0) ratios.push(a[t.metric] / b[t.metric]);
  }
  return ratios.length > 0 ? median(ratios) : undefined;
}

export function compare(rows: readonly SummaryRow[], runs: readonly RunRecord[], sizes: readonly number[]): Comparison[] {
  const out: Comparison[] = [];
  for (const size of sizes) {
    for (const t of TARGETS) {
      const get = (server: string): number | undefined => {
        const row = rows.find((r) => r.size === size && r.server === server);
        const v = row?.[t.metric];
        return v !== undefined && Number.isFinite(v) && v > 0 ? v : undefined;
      };
      const a = get(t.subject);
      const b = get(t.baseline);
      const ratio = a !== undefined && b !== undefined ? a / b : undefined;
      const pass = ratio !== undefined && (t.op === '>=' ? ratio >= t.limit : ratio <= t.limit);
      out.push({ ...t, size, ratio, pairedRatio: pairedRatio(runs, size, t), verdict: ratio === undefined ? 'n/a' : pass ? 'PASS' : 'MISS' });
    }
  }
  return out;
}

const int = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '-');
const fix = (v: number, d: number): string => (Number.isFinite(v) ? v.toFixed(d) : '-');

function table(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  // Left-align the first two (text) columns, right-align numbers.
  const line = (r: readonly string[]): string =>
    r.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function formatTable(rows: readonly SummaryRow[]): string {
  const header = ['size', 'server', 'echoes/s', 'min..max', 'CPU µs/echo', 'srv CPU %', 'gen CPU %', 'lost', 'bad len', 'runs'];
  const body = rows.map((r) => [
    `${r.size} B`,
    r.server,
    int(r.echoesPerSec),
    `${int(r.echoesPerSecMin)}..${int(r.echoesPerSecMax)}`,
    fix(r.cpuUsPerEcho, 3),
    fix(r.serverCpuPercent, 0),
    fix(r.loadgenCpuPercent, 0),
    String(r.lost),
    String(r.mismatched),
    r.runsFailed > 0 ? `${r.runsOk} ok, ${r.runsFailed} failed` : `${r.runsOk}`,
  ]);
  return table(header, body);
}

export function formatComparisons(cmp: readonly Comparison[]): string {
  const label = (c: Comparison): string =>
    `${c.metric === 'echoesPerSec' ? 'echoes/s' : 'CPU/echo'} ${c.subject} / ${c.baseline}`;
  return cmp
    .map((c) => {
      const ratio = c.ratio === undefined ? 'n/a' : `${c.ratio.toFixed(2)}x`;
      const paired = c.pairedRatio === undefined ? '' : `  (per-round median ${c.pairedRatio.toFixed(2)}x)`;
      const why = c.ratio === undefined ? '  (missing result)' : paired;
      return `${`${c.size} B`.padEnd(7)} ${label(c).padEnd(40)} ${ratio.padStart(6)}  target ${c.op} ${c.limit}x  ${c.verdict}${why}`;
    })
    .join('\n');
}
