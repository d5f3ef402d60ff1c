/**
 * Skips of a test run, and the few that are legitimate by design on the
 * machine CI uses (root, io_uring allowed, the tools of
 * scripts/ensure-tools.sh installed). scripts/test.sh has every
 * `node --test` run write a TAP copy into the reports directory
 * (build/test-reports/<pass>.tap) and the native tests' log beside them;
 * test/skip-report.ts lists every skip at the end of the run and, with
 * CI=true, fails on any skip the allowlist below does not name. So a
 * broken namespace helper, a missing tool or a kernel feature check that
 * went wrong cannot turn a suite green by skipping it.
 *
 * A test that runs a suite in a child process (under a seccomp filter)
 * hands the child's TAP to saveNestedTap(), so that the child's skips are
 * listed and checked too.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Skip {
  /** The run: 'main', 'udp-mmsg', 'asan-io_uring', 'native', or 'main/seccomp-...' for a child's run. */
  pass: string;
  /** The test's name, with its describe() parents joined by ' > ' (native: 'binary: test'). */
  test: string;
  /** The reason given ('' if none). */
  reason: string;
}

export interface Allowed {
  /** Runs where this skip is expected. */
  pass: RegExp;
  test: RegExp;
  reason: RegExp;
  /** Why it is legitimate here, printed beside the skip. */
  why: string;
}

/**
 * The skips that are legitimate by design on this machine. Each names the
 * runs it applies to, the test, and the reason the test gives; nothing else
 * may skip in CI. Keep this list short and say why each entry is here.
 */
export const ALLOWED: readonly Allowed[] = [
  {
    // udp-sendrecv.test.ts: ENOBUFS and re-arms are states of the io_uring
    // backend's multishot receive (a provided-buffer ring that runs dry);
    // the mmsg and dgram backends have no such receive. It runs, and must
    // pass, in every io_uring run. The seccomp children (backend.test.ts)
    // run this file with io_uring refused, so on mmsg.
    pass: /^(udp-mmsg|udp-dgram|asan-mmsg|main\/seccomp-(EPERM|ENOSYS)-udp-sendrecv)$/,
    test: /^multishot receive re-arms after running out of buffers \(ENOBUFS\): nothing lost$/,
    reason: /^io_uring backend only$/,
    why: 'only the io_uring backend has a multishot receive that can run out of buffers',
  },
  {
    // dgram-parity.test.ts, Scenario.notOn.dgram: the dgram backend is
    // node:dgram underneath and binds its socket after ours, so 'listening'
    // comes a tick later than node:dgram's own; a documented difference
    // of that backend (the same scenario runs on io_uring and mmsg).
    pass: /^udp-dgram$/,
    test: /^node:dgram parity: bind > bind\(\): 'listening' comes from dns\.lookup's tick$/,
    reason: /^the dgram backend binds node:dgram's socket after ours, so 'listening' comes later$/,
    why: "a documented difference of the dgram backend ('listening' one tick later)",
  },
];

/** The allowlist entry that covers a skip, if any. */
export function allowedBy(s: Skip): Allowed | undefined {
  return ALLOWED.find((a) => a.pass.test(s.pass) && a.test.test(s.test) && a.reason.test(s.reason));
}

/** node:test's TAP escapes '#' and '\' in names and reasons. */
function unescape(text: string): string {
  return text.replace(/\\([#\\])/g, '$1');
}

/** Every "# SKIP" of a TAP stream from node --test (nested subtests included). */
export function skipsInTap(pass: string, tap: string): Skip[] {
  const out: Skip[] = [];
  const parents: string[] = [];
  for (const line of tap.split('\n')) {
    const sub = /^( *)# Subtest: (.*)$/.exec(line);
    if (sub) {
      const depth = sub[1]!.length / 4;
      parents.length = depth;
      parents[depth] = unescape(sub[2]!);
      continue;
    }
    const m = /^( *)(?:not )?ok \d+ - (.*?) # SKIP(?: (.*))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const name = [...parents.slice(0, depth), unescape(m[2]!)].join(' > ');
    out.push({ pass, test: name, reason: unescape(m[3] ?? '').trim() });
  }
  return out;
}

/**
 * Every skip in the native tests' log (scripts/test-native.sh output):
 * "ok N - name # SKIP reason" per test, "1..0 # SKIP reason" for a whole
 * binary. Each binary's "== NAME: run (...)" header names it. (The
 * "# skipped: ..." summary lines repeat the per-test ones.)
 */
export function skipsInNativeLog(log: string): Skip[] {
  const out: Skip[] = [];
  let binary = '?';
  for (const line of log.split('\n')) {
    const head = /^== (\S+): run \((.*)\)$/.exec(line);
    if (head) {
      binary = `${head[1]} (${head[2]})`;
      continue;
    }
    const one = /^ok \d+ - (.*?) # SKIP ?(.*)$/.exec(line);
    if (one) out.push({ pass: 'native', test: `${binary}: ${one[1]}`, reason: one[2]!.trim() });
    const all = /^1\.\.0 # SKIP ?(.*)$/.exec(line);
    if (all) out.push({ pass: 'native', test: `${binary}: all tests`, reason: all[1]!.trim() });
  }
  return out;
}

/** Every skip recorded in a reports directory, and the runs found there. */
export function collectSkips(dir: string): { skips: Skip[]; passes: string[] } {
  const skips: Skip[] = [];
  const passes: string[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(dir).sort();
  } catch {
    return { skips, passes };
  }
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    if (f.endsWith('.tap')) {
      const pass = f.slice(0, -4).replace(/~/g, '/');
      passes.push(pass);
      skips.push(...skipsInTap(pass, text));
    } else if (f === 'native.log') {
      passes.push('native');
      skips.push(...skipsInNativeLog(text));
    }
  }
  return { skips, passes };
}

/**
 * Keep the TAP of a suite a test ran in a child process, so that its skips
 * are reported and checked with the rest (only when scripts/test.sh set a
 * reports directory). `label` names the child run, e.g. 'seccomp-EPERM-tun-close'.
 */
export function saveNestedTap(label: string, tap: string): void {
  const dir = process.env.IOURING_NET_TEST_REPORTS;
  if (!dir) return;
  const pass = process.env.IOURING_NET_TEST_PASS ?? 'unnamed';
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${pass}~${label.replace(/[^\w.-]/g, '_')}.tap`), tap);
}
