/**
 * Process and thread lifecycle: the process exits promptly whether sockets
 * were closed, unref'd, left busy at process.exit(), or a handler threw;
 * each worker thread has its own ring and can end with I/O in flight.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { test } from 'node:test';

const child = fileURLToPath(new URL('./exit-child.js', import.meta.url));
const workerBody = fileURLToPath(new URL('./worker-child.js', import.meta.url));

for (const how of ['close', 'unref', 'exit', 'throw']) {
  test(`process exits promptly: ${how}`, () => {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [child, how], { timeout: 10_000, encoding: 'utf8' });
    const ms = Date.now() - t0;
    assert.equal(r.error, undefined, `child did not exit: ${String(r.error)}`);
    if (how === 'throw') {
      assert.equal(r.status, 1);
      assert.match(r.stderr, /boom/);
    } else {
      assert.equal(r.status, 0, r.stderr);
    }
    assert.ok(ms < 5000, `exit took ${ms} ms`);
  });
}

for (const mode of ['close', 'terminate']) {
  test(`worker_threads: own ring per thread, ends cleanly (${mode})`, async () => {
    const workers = [0, 1].map(() => new Worker(workerBody, { workerData: { mode } }));
    // Listen for exit from the start: a worker may finish before we ask.
    const exits = workers.map((w) => new Promise<number>((r) => w.once('exit', r)));
    const results = await Promise.all(
      workers.map(
        (w) =>
          new Promise<{ got: number }>((resolve, reject) => {
            const t = setTimeout(() => reject(new Error('worker timed out')), 10_000);
            w.once('message', (m: { got: number }) => {
              clearTimeout(t);
              resolve(m);
            });
            w.once('error', reject);
          }),
      ),
    );
    for (const r of results) assert.equal(r.got, 100);
    const codes = await Promise.all(
      workers.map((w, i) => (mode === 'terminate' ? w.terminate() : exits[i]!)),
    );
    for (const c of codes) assert.ok(c === 0 || c === 1, `exit code ${c}`);
  });
}
