/**
 * TUN devices and files where io_uring is refused for real: the child
 * (tun-seccomp-child.ts) runs under test/native/seccomp-run with
 * io_uring_setup, _enter and _register failing with EPERM, as Docker's
 * default seccomp profile does. With the default backend ('auto') it must
 * pick the poll backend, say so once (IOURING_NET_FALLBACK), and work: a
 * file round trip, and a ping answered through a TUN device (root and a
 * network namespace, as tun-ping.test.ts). The child chooses its backend
 * itself, whatever IOURING_NET_BACKEND this run sets. Then whole suites run
 * under the same filter: the file suite, and the TUN close and bad-input
 * suites (teardown, exit and workers with no ring at all).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { probe } from '../src/index.js';
import { Netns, tunSkipReason, uniqueIfName } from './netns.js';
import type { Report } from './tun-seccomp-child.js';
import { saveNestedTap } from './skips.js';
import { buildSeccompRun, runSeccompRun, runUnderSeccomp, SECCOMP_RUN_EXIT, type RunResult } from './tools.js';

const child = fileURLToPath(new URL('./tun-seccomp-child.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ionet-seccomp-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Why io_uring cannot be refused here in a way we can tell apart, or false. */
function seccompSkip(): string | false {
  if (!probe().available) return 'io_uring is unavailable even without a filter: a refusal could not be told apart';
  try {
    buildSeccompRun();
  } catch (err) {
    return `cannot build seccomp-run: ${(err as Error).message}`;
  }
  const r = runSeccompRun(['--errno', 'EPERM', '--', process.execPath, '-e', '']);
  if (r.status === SECCOMP_RUN_EXIT.noSeccomp) return `seccomp-run cannot install a filter here: ${r.stderr.trim()}`;
  return false;
}

const skip = seccompSkip();
const tunSkip = skip || tunSkipReason(['ping']);

const env: NodeJS.ProcessEnv = { ...process.env };
delete env.IOURING_NET_BACKEND;
delete env.IOURING_NET_QUIET;

function runChild(args: string[]): { report: Report; run: RunResult } {
  const run = runUnderSeccomp('EPERM', child, args, env, { alsoEnterRegister: true, timeoutMs: 60_000 });
  const info = `status ${run.status}${run.timedOut ? ' (timed out)' : ''}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  assert.equal(run.status, 0, info);
  const report = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as Report;
  assert.equal(report.error, undefined, info);
  return { report, run };
}

/** The one fallback warning, naming the object and the reason. */
function assertWarnedOnce(stderr: string, what: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l.includes('IOURING_NET_FALLBACK'));
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, what);
  assert.match(lines[0]!, /EPERM/);
}

test('io_uring refused (EPERM): openFile picks the poll backend and reads back what it wrote', { skip }, () => {
  const { report, run } = runChild(['file', join(dir, 'f.txt')]);
  assert.equal(report.backend, 'poll');
  assert.equal(report.data, 'through poll');
  assertWarnedOnce(run.stderr, /not using io_uring for a file/);
});

test('io_uring refused (EPERM): openTun picks the poll backend and answers ping', { skip: tunSkip }, () => {
  const ns = Netns.create('seccomp');
  try {
    const { report, run } = runChild(['tun', ns.name, uniqueIfName()]);
    assert.equal(report.backend, 'poll');
    assert.equal(report.readMode, 'poll');
    assert.equal(report.pingCode, 0, report.pingOutput);
    assert.match(report.pingOutput ?? '', /3 received/);
    assert.ok((report.requests ?? 0) >= 3, `answered ${report.requests} echo requests`);
    assertWarnedOnce(run.stderr, /not using io_uring for a TUN device/);
  } finally {
    ns.destroy();
  }
});

/** Run a test file under the filter, expecting the poll backend. */
function suiteUnderSeccomp(file: string): void {
  const suiteEnv: NodeJS.ProcessEnv = { ...env, IOURING_NET_TEST_EXPECT: 'mmsg', IOURING_NET_QUIET: '1' };
  delete suiteEnv.NODE_TEST_CONTEXT;
  const path = fileURLToPath(new URL(`./${file}`, import.meta.url));
  const r = runUnderSeccomp('EPERM', '--test', [path], suiteEnv, { alsoEnterRegister: true, timeoutMs: 120_000 });
  saveNestedTap(`seccomp-EPERM-${file.replace(/\.test\.js$/, '')}`, r.stdout); // its skips are reported and checked too
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /# pass [1-9]/);
  assert.match(r.stdout, /# fail 0/);
}

test('io_uring refused (EPERM): the file suite passes on the poll backend', { skip, timeout: 130_000 }, () => {
  suiteUnderSeccomp('file-io.test.js');
});

for (const suite of ['tun-close.test.js', 'tun-bad-input.test.js']) {
  test(`io_uring refused (EPERM): ${suite} passes on the poll backend`, { skip: tunSkip, timeout: 130_000 }, () => {
    suiteUnderSeccomp(suite);
  });
}
