// Command-line and environment options for the echo benchmark.
// Precedence: command line > BENCH_* environment > --quick > defaults, so a CI
// job can set BENCH_SECONDS once and a developer can still override it.
import { parseArgs } from 'node:util';

export interface Options {
  readonly seconds: number;
  readonly warmup: number;
  readonly rounds: number;
  readonly window: number;
  readonly sizes: readonly number[];
  /** undefined = every server in the table */
  readonly servers: readonly string[] | undefined;
  readonly pin: boolean;
  /** Run the allocation pass (lib/alloc.ts) after the throughput rounds. */
  readonly heap: boolean;
  /** Also run the sampling heap profiler in that pass (diagnosis; no verdict). */
  readonly heapSample: boolean;
  readonly out: string | undefined;
  readonly quick: boolean;
  readonly help: boolean;
}

export const USAGE = `usage: node dist/bench/echo.js [options]
  --servers a,b     servers to run (default: all)            env BENCH_SERVERS
  --sizes 64,1400   payload sizes in bytes                    env BENCH_SIZES
  --rounds N        rounds; medians are reported (default 3)  env BENCH_ROUNDS
  --seconds S       measured seconds per run (default 5)      env BENCH_SECONDS
  --warmup S        unmeasured warmup per run (default 1)     env BENCH_WARMUP
  --window N        datagrams in flight (default 256)         env BENCH_WINDOW
  --quick           smoke run: 1 round of 2 s
  --no-pin          do not pin processes with taskset         env BENCH_NO_PIN=1
  --no-heap         skip the heap-allocations-per-packet pass env BENCH_NO_HEAP=1
  --heap-sample     profile that pass's allocations (bench/out/heap-sample-*.txt)
  --out FILE        results JSON (default bench/out/echo-results.json)
  --help`;

export class UsageError extends Error {}

function num(name: string, raw: string, integer: boolean, min: number, max: number): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new UsageError(`${name} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got "${raw}"`);
  }
  return v;
}

function list(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        seconds: { type: 'string' },
        warmup: { type: 'string' },
        rounds: { type: 'string' },
        window: { type: 'string' },
        sizes: { type: 'string' },
        servers: { type: 'string' },
        out: { type: 'string' },
        quick: { type: 'boolean' },
        'no-pin': { type: 'boolean' },
        'no-heap': { type: 'boolean' },
        'heap-sample': { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values;
  const quick = v.quick === true;
  // First defined source wins, in precedence order.
  const pick = (cli: string | undefined, envName: string, fallback: string): string =>
    cli ?? env[envName] ?? fallback;

  const sizes = list(pick(v.sizes, 'BENCH_SIZES', '64,1400')).map((s) => num('--sizes', s, true, 1, 65507));
  if (sizes.length === 0) throw new UsageError('--sizes is empty');
  const serversRaw = v.servers ?? env['BENCH_SERVERS'];
  const servers = serversRaw === undefined ? undefined : list(serversRaw);
  if (servers !== undefined && servers.length === 0) throw new UsageError('--servers is empty');

  return {
    seconds: num('--seconds', pick(v.seconds, 'BENCH_SECONDS', quick ? '2' : '5'), false, 0.1, 3600),
    warmup: num('--warmup', pick(v.warmup, 'BENCH_WARMUP', '1'), false, 0, 600),
    rounds: num('--rounds', pick(v.rounds, 'BENCH_ROUNDS', quick ? '1' : '3'), true, 1, 1000),
    window: num('--window', pick(v.window, 'BENCH_WINDOW', '256'), true, 1, 1 << 20),
    sizes,
    servers,
    pin: v['no-pin'] !== true && env['BENCH_NO_PIN'] !== '1',
    heap: v['no-heap'] !== true && env['BENCH_NO_HEAP'] !== '1',
    heapSample: v['heap-sample'] === true,
    out: v.out,
    quick,
    help: v.help === true,
  };
}
