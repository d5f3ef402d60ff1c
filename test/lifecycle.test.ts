/**
 * Process and thread lifecycle: the process exits by itself, with the
 * right status, whether sockets were closed, unref'd, left busy at
 * process.exit(), or a handler threw; each worker thread has its own ring
 * and can end with I/O in flight. No assertion is about speed (measured
 * here: a child's whole run, node's start-up included, takes 140-340 ms);
 * the timeouts are hang guards.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { test } from 'node:test';
import { BACKEND, within } from './helpers.js';

const child = fileURLToPath(new URL('./exit-child.js', import.meta.url));
const workerBody = fileURLToPath(new URL('./worker-child.js', import.meta.url));

for (const how of ['close', 'unref', 'exit', 'throw']) {
  test(`the process exits by itself: ${how}`, () => {
    const r = spawnSync(process.execPath, [child, how], { timeout: 30_000, encoding: 'utf8' });
    assert.equal(r.error, undefined, `hang guard: the child did not exit by itself within 30 s: ${String(r.error)}\n${r.stderr}`);
    if (how === 'throw') {
      assert.equal(r.status, 1);
      assert.match(r.stderr, /boom/);
    } else {
      assert.equal(r.status, 0, r.stderr);
    }
    // The child ends from its first batch, with more sends just submitted.
    assert.equal(r.stdout.trim(), 'traffic');
  });
}

for (const mode of ['close', 'terminate']) {
  test(`worker_threads: own ring per thread, ends cleanly (${mode})`, async () => {
    const workers = [0, 1].map(() => new Worker(workerBody, { workerData: { mode } }));
    // Listen for exit from the start: a worker may finish before we ask.
    const exits = workers.map((w) => new Promise<number>((r) => w.once('exit', r)));
    try {
      await runWorkers(workers, exits, mode);
    } finally {
      // After a failure too: a live worker would keep this file's process alive.
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
}

async function runWorkers(workers: Worker[], exits: Promise<number>[], mode: string): Promise<void> {
  const results = await Promise.all(
    workers.map(
      (w) =>
        new Promise<{ got: number; enters: number }>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('hang guard: no message from the worker within 10 s')), 10_000);
          w.once('message', (m: { got: number; enters: number }) => {
            clearTimeout(t);
            resolve(m);
          });
          w.once('error', reject);
        }),
    ),
  );
  for (const r of results) {
    assert.equal(r.got, 100);
    // io_uring: the worker's own ring carried its traffic. dgram: no ring
    // at all. (mmsg sockets do not submit to the ring, though each
    // dispatch reaps it: no claim either way.)
    if (BACKEND === 'io_uring') assert.ok(r.enters > 0, `enters ${r.enters}`);
    if (BACKEND === 'dgram') assert.equal(r.enters, 0);
  }
  const codes = await within(
    Promise.all(workers.map((w, i) => (mode === 'terminate' ? w.terminate() : exits[i]!))),
    10_000,
    `the workers to end (${mode})`,
  );
  // A worker that closed its sockets ends by itself (0); terminate() reports 1.
  for (const c of codes) assert.equal(c, mode === 'close' ? 0 : 1, `exit code ${c}`);
}
