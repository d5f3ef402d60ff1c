// Runs the C load generator once and reports its JSON result. The generator
// announces its measurement window with MEASURE_START / MEASURE_END lines on
// stderr; the hooks fire on those lines so the caller can sample server CPU
// over (almost exactly) the interval in which echoes were counted.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { track } from './children.js';
import type { Command } from './pin.js';

export interface LoadgenParams {
  readonly port: number;
  readonly size: number;
  readonly window: number;
  readonly seconds: number;
  readonly warmup: number;
}

export interface LoadgenResult {
  readonly echoes: number;
  readonly seconds: number;
  readonly echoesPerSec: number;
  readonly lost: number;
  readonly sent: number;
  readonly mismatched: number;
  readonly refused: number;
  /** The generator's own CPU time during the measured period. */
  readonly cpuSeconds: number;
}

/** Called on the generator's phase markers. */
export interface MeasureHooks {
  onStart(): void;
  onEnd(): void;
}

/** Extra time beyond warmup+seconds before the runner gives up on loadgen. */
const WATCHDOG_SLACK_MS = 15_000;
const NUMERIC_FIELDS = ['echoes', 'seconds', 'echoesPerSec', 'lost', 'sent', 'mismatched', 'refused', 'cpuSeconds'] as const;

export function loadgenCommand(bin: string, p: LoadgenParams): Command {
  return {
    command: bin,
    args: [
      '--host', '127.0.0.1',
      '--port', String(p.port),
      '--size', String(p.size),
      '--window', String(p.window),
      '--seconds', String(p.seconds),
      '--warmup', String(p.warmup),
    ],
  };
}

function parseResult(stdout: string): LoadgenResult {
  const line = stdout.trim().split('\n').pop() ?? '';
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    throw new Error(`loadgen printed no JSON result (stdout: ${JSON.stringify(line)})`);
  }
  if (typeof data !== 'object' || data === null) throw new Error('loadgen result is not an object');
  const rec = data as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const key of NUMERIC_FIELDS) {
    const v = rec[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`loadgen result lacks numeric "${key}"`);
    out[key] = v;
  }
  return out as unknown as LoadgenResult;
}

export function runLoadgen(cmd: Command, p: LoadgenParams, hooks: MeasureHooks): Promise<LoadgenResult> {
  return new Promise<LoadgenResult>((resolve, reject) => {
    const child = spawn(cmd.command, [...cmd.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let stdout = '';
    const otherStderr: string[] = [];
    let hookError: Error | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      try {
        if (line === 'MEASURE_START') hooks.onStart();
        else if (line === 'MEASURE_END') hooks.onEnd();
        else otherStderr.push(line);
      } catch (err) {
        // Typically the server died and /proc/PID is gone; report after exit.
        hookError ??= err instanceof Error ? err : new Error(String(err));
      }
    });
    const watchdog = setTimeout(() => child.kill('SIGKILL'), (p.warmup + p.seconds) * 1000 + WATCHDOG_SLACK_MS);
    child.once('error', (err) => {
      clearTimeout(watchdog);
      reject(new Error(`cannot start loadgen: ${err.message}`));
    });
    // 'close' (not 'exit') guarantees all stdout/stderr lines were handled.
    child.once('close', (code, signal) => {
      clearTimeout(watchdog);
      if (hookError !== undefined) {
        reject(hookError);
        return;
      }
      // Exit code 3 means "ran fine but got no echoes"; the JSON still tells
      // the story, so only other failures are errors here.
      if (signal !== null || (code !== 0 && code !== 3)) {
        const why = signal !== null ? `killed by ${signal}` : `exit code ${String(code)}`;
        reject(new Error(`loadgen failed (${why}): ${otherStderr.join(' | ')}`));
        return;
      }
      try {
        resolve(parseResult(stdout));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}
