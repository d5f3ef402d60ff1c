// Compiles the C helpers on demand so `node dist/bench/echo.js` works from a
// fresh checkout, and recompiles whenever the source is newer than the binary.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

const CFLAGS = ['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11'];

/** Builds `out` from `src` if it is missing or stale; returns true if it compiled. */
export function buildIfStale(src: string, out: string): boolean {
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return false;
  mkdirSync(dirname(out), { recursive: true });
  // Compile to a temporary name and rename, so an interrupted build never
  // leaves a truncated binary that looks up to date.
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    execFileSync('gcc', [...CFLAGS, '-o', tmp, src], { stdio: ['ignore', 'inherit', 'inherit'] });
    renameSync(tmp, out);
  } catch (err) {
    rmSync(tmp, { force: true });
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`gcc failed for ${src}: ${why}`);
  }
  return true;
}
