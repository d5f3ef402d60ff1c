/** Runs tamper-child.ts and checks its summary (udp-tamper and file-tamper tests). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./tamper-child.js', import.meta.url));

interface Summary {
  iterations: number;
  hangs: number;
  doubleCallbacks: number;
  missingCallbacks: number;
  unclosed: number;
  objectsLeft: number;
  errors: Record<string, number>;
}

export async function runTamper(kind: 'udp' | 'file', seed: number, iterations: number): Promise<Summary> {
  const child = spawn(process.execPath, [CHILD, kind, String(seed), String(iterations)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (c, s) => resolve({ code: c, signal: s })),
  );
  assert.equal(signal, null, `seed ${seed}: the child died of ${signal} (a crash)\n${err}`);
  assert.equal(code, 0, `seed ${seed}: exit ${code}\n${err}`);
  const line = out.trim().split('\n').pop() ?? '';
  const s = JSON.parse(line) as Summary;
  const ctx = `seed ${seed}: ${line}`;
  assert.equal(s.iterations, iterations, ctx);
  assert.equal(s.hangs, 0, ctx);
  assert.equal(s.unclosed, 0, ctx);
  assert.equal(s.doubleCallbacks, 0, ctx);
  assert.equal(s.missingCallbacks, 0, ctx);
  assert.equal(s.objectsLeft, 0, ctx);
  // Errors are allowed (the tampering can break an object), but only coded ones.
  for (const code of Object.keys(s.errors)) assert.match(code, /^(ERR_|E[A-Z]+$)/, ctx);
  return s;
}
