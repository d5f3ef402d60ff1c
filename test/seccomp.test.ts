/**
 * io_uring refused for real: the child (seccomp-child.ts) runs under a
 * seccomp filter (test/native/seccomp-run.c) that makes io_uring_setup fail
 * with EPERM, as Docker's and containerd's default profiles do, or with
 * ENOSYS, as a kernel without io_uring does. No flag or mock is involved: the
 * addon's own syscall gets the errno.
 *
 * Skips, saying why, where the filter cannot be installed (seccomp-run exits
 * 3), where gcc is missing, or where io_uring is unavailable even without a
 * filter (then a refusal by the filter cannot be told apart).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { probe } from '../src/index.js';
import type { ChildReport, OpenResult } from './seccomp-child.js';
import {
  NoCompilerError,
  SECCOMP_RUN_EXIT,
  buildSeccompRun,
  runSeccompRun,
  runUnderSeccomp,
  type RunResult,
  type SeccompErrno,
} from './tools.js';

const child = fileURLToPath(new URL('./seccomp-child.js', import.meta.url));

// The child must choose its backend itself ('auto'), whatever the environment
// of the test run forces.
const childEnv: NodeJS.ProcessEnv = { ...process.env };
delete childEnv.IOURING_NET_BACKEND;

// ─────────────────────────────────────────────────────────────────────────────
// THE ONE EXPECTATION TO CHANGE WHEN THE FALLBACK LANDS.
//
// 'throws':   where io_uring is refused, openUdp() throws ERR_IOURING_UNAVAILABLE
//             (the behaviour before the fallback backend existed).
// 'fallback': openUdp() falls back to the recvmmsg/sendmmsg backend: the socket
//             opens with backend === FALLBACK_BACKEND and a send/receive round
//             trip between two sockets works. The child reports both.
// ─────────────────────────────────────────────────────────────────────────────
const WHEN_REFUSED = 'fallback' as 'throws' | 'fallback';
const FALLBACK_BACKEND = 'mmsg';

function assertOpenWhereRefused(open: OpenResult, probeReason: string): void {
  if (WHEN_REFUSED === 'throws') assertOpenThrew(open, 'ERR_IOURING_UNAVAILABLE', probeReason);
  else assertOpenFellBack(open);
}

function assertOpenThrew(open: OpenResult, code: string, probeReason: string): void {
  assert.ok(!open.ok, `openUdp() should have thrown, but opened a '${open.ok ? open.backend : ''}' socket`);
  assert.equal(open.error.code, code, open.error.message);
  assert.ok(open.error.message.includes(probeReason), `the error should carry probe()'s reason: ${open.error.message}`);
}

function assertOpenFellBack(open: OpenResult): void {
  assert.ok(open.ok, `openUdp() should have fallen back, but threw: ${open.ok ? '' : `${open.error.code}: ${open.error.message}`}`);
  assert.equal(open.backend, FALLBACK_BACKEND);
  assert.ok(open.roundTrip.ok, `round trip failed: ${JSON.stringify(open.roundTrip)}`);
}

/** Why seccomp-run cannot be used here, or false. */
function toolSkipReason(): string | false {
  let tool: string;
  try {
    tool = buildSeccompRun();
  } catch (err) {
    if (err instanceof NoCompilerError) return `seccomp tests skipped: ${err.message}`;
    throw err; // A compile error is a bug of ours: fail loudly.
  }
  // Can a filter be installed here at all? (The tool exits 3 when not.)
  const r = runSeccompRun(['--errno', 'EPERM', '--', process.execPath, '-e', '']);
  if (r.status === SECCOMP_RUN_EXIT.noSeccomp) {
    return `seccomp tests skipped: ${tool} cannot install a seccomp filter here: ${r.stderr.trim()}`;
  }
  return false;
}

/** Why the io_uring refusal tests cannot run here, or false. */
function refusalSkipReason(): string | false {
  if (toolSkip) return toolSkip;
  const p = probe();
  if (!p.available) {
    return `seccomp tests skipped: io_uring is unavailable here even without a filter (${p.reason}), so a filter's refusal cannot be told apart`;
  }
  return false;
}

// Decided once, at load time.
const toolSkip = toolSkipReason();
const skip = refusalSkipReason();

function describeRun(r: RunResult): string {
  return `status ${r.status}, signal ${r.signal}${r.timedOut ? ' (timed out)' : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

function parseReport(r: RunResult): ChildReport {
  assert.equal(r.timedOut, false, `child timed out: ${describeRun(r)}`);
  assert.equal(r.status, 0, `child failed: ${describeRun(r)}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ChildReport;
  } catch {
    assert.fail(`child printed no JSON report: ${describeRun(r)}`);
  }
}

let control: ChildReport | undefined;
/** The child without any filter (run once, shared by the tests). */
function controlReport(): ChildReport {
  control ??= parseReport(runUnderSeccomp(null, child, [], childEnv));
  return control;
}

test('control: without the filter, the same child has io_uring and a working socket', { skip }, () => {
  const c = controlReport();
  assert.equal(c.probe.available, true, c.probe.reason);
  assert.equal(c.probe.reason, '');
  assert.equal(c.probe.code, undefined);
  assert.ok(c.open.ok, c.open.ok ? '' : `openUdp() threw ${c.open.error.code}: ${c.open.error.message}`);
  assert.equal(c.open.backend, 'io_uring');
  assert.ok(c.open.roundTrip.ok, `round trip failed: ${JSON.stringify(c.open.roundTrip)}`);
});

const CASES: { errno: SeccompErrno; reason: RegExp; what: string }[] = [
  { errno: 'EPERM', reason: /seccomp/, what: "Docker's and containerd's default seccomp profiles" },
  { errno: 'ENOSYS', reason: /no io_uring/, what: 'a kernel without io_uring' },
];

for (const { errno, reason, what } of CASES) {
  for (const alsoEnterRegister of [false, true]) {
    const refused = alsoEnterRegister ? 'io_uring_setup, _enter and _register' : 'io_uring_setup';
    test(`${refused} refused with ${errno} (${what}): probe() says why, openUdp() behaves`, { skip }, () => {
      const r = runUnderSeccomp(errno, child, [], childEnv, { alsoEnterRegister });
      const report = parseReport(r);

      // The filter really was on the child: one more than without it.
      const base = controlReport().seccompFilters;
      assert.notEqual(base, null, '/proc/self/status has no Seccomp_filters line (Linux 5.9+): cannot tell that the filter was on');
      assert.equal(report.seccompFilters, base! + 1, 'the child did not run under the filter');

      const p = report.probe;
      assert.equal(p.available, false, 'probe() must not report io_uring as available');
      assert.equal(p.code, errno);
      assert.match(p.reason, reason);
      assert.deepEqual(p.ops, []);
      assert.ok(Object.values(p.features).every((v) => v === false), `no features expected: ${JSON.stringify(p.features)}`);

      assertOpenWhereRefused(report.open, p.reason);
    });
  }
}

test('io_uring forced (IOURING_NET_BACKEND=io_uring) where seccomp refuses it: openUdp() throws with the reason', { skip }, () => {
  const r = runUnderSeccomp('EPERM', child, [], { ...childEnv, IOURING_NET_BACKEND: 'io_uring' }, { alsoEnterRegister: true });
  const report = parseReport(r);
  assert.equal(report.probe.code, 'EPERM');
  assertOpenThrew(report.open, 'ERR_IOURING_NET_BACKEND_UNAVAILABLE', report.probe.reason);
});

test('seccomp-run: usage errors exit 2, a missing command 127, otherwise the command runs', { skip: toolSkip }, () => {
  const usageErrors = [[], ['--errno', 'EBADF', '--', 'true'], ['--errno', 'EPERM', 'true'], ['--errno', 'EPERM', '--'], ['--errno'], ['--bogus']];
  for (const args of usageErrors) {
    const r = runSeccompRun(args);
    assert.equal(r.status, SECCOMP_RUN_EXIT.usage, `${JSON.stringify(args)}: ${describeRun(r)}`);
    assert.match(r.stderr, /usage: seccomp-run --errno EPERM\|ENOSYS/);
  }
  const missing = runSeccompRun(['--errno', 'ENOSYS', '--', '/nonexistent/command']);
  assert.equal(missing.status, SECCOMP_RUN_EXIT.notFound, describeRun(missing));
  const ok = runSeccompRun(['--errno', 'EPERM', '--also-enter-register', '--', process.execPath, '-e', 'process.exit(7)']);
  assert.equal(ok.status, 7, describeRun(ok));
});
