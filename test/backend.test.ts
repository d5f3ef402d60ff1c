/**
 * Backend choice: 'auto' takes io_uring when usable, else mmsg, and says
 * why once per process; a forced backend that cannot work throws. The real
 * refusal comes from a seccomp filter (test/native/seccomp-run.c), as in
 * Docker, not from a flag.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { openUdp, probe } from '../src/index.js';
import { saveNestedTap } from './skips.js';
import { buildSeccompRun, runUnderSeccomp } from './tools.js';

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
const sendRecvTests = here('./udp-sendrecv.test.js');
const child = here('./seccomp-child.js');

function seccompSkip(): string | false {
  if (!probe().available) return 'io_uring is not available even without a filter';
  try {
    buildSeccompRun();
  } catch (e) {
    return `cannot build seccomp-run: ${(e as Error).message}`;
  }
  return false;
}

function envWithout(...names: string[]): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const n of names) delete env[n];
  return env;
}

test('the backend option forces a backend; bad values are refused', async () => {
  const s = openUdp({ type: 'udp4', address: '127.0.0.1', backend: 'mmsg' });
  assert.equal(s.backend, 'mmsg');
  assert.equal(s.receiveMode, 'mmsg');
  await new Promise<void>((r) => s.close(r));
  assert.throws(() => openUdp({ type: 'udp4', backend: 'fast' as 'mmsg' }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('IOURING_NET_BACKEND with a bad value is refused with a clear error', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import('${here('../src/index.js')}').then(m => m.openUdp({ type: 'udp4' }))`], {
    env: { ...process.env, IOURING_NET_BACKEND: 'turbo' },
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /IOURING_NET_BACKEND/);
  assert.match(r.stderr, /ERR_INVALID_ARG_VALUE/);
});

for (const errno of ['EPERM', 'ENOSYS'] as const) {
  test(`io_uring refused with ${errno}: auto picks mmsg and passes the send/receive tests`, { skip: seccompSkip() }, () => {
    const env = { ...envWithout('IOURING_NET_BACKEND', 'NODE_TEST_CONTEXT'), IOURING_NET_TEST_EXPECT: 'mmsg' };
    const r = runUnderSeccomp(errno, '--test', [sendRecvTests], env, { alsoEnterRegister: true, timeoutMs: 120_000 });
    saveNestedTap(`seccomp-${errno}-udp-sendrecv`, r.stdout); // its skips are reported and checked too
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /# pass [1-9]/);
    assert.match(r.stdout, /# fail 0/);
  });
}

test('the fallback is reported once per process, with a code, and can be silenced', { skip: seccompSkip() }, () => {
  const env = envWithout('IOURING_NET_BACKEND', 'IOURING_NET_QUIET');
  const r = runUnderSeccomp('EPERM', child, [], env);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { open: { ok: boolean; backend?: string } };
  assert.equal(report.open.ok, true);
  assert.equal(report.open.backend, 'mmsg');
  const warnings = r.stderr.split('\n').filter((l) => l.includes('IOURING_NET_FALLBACK'));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0]!, /not using io_uring for UDP/);
  assert.match(warnings[0]!, /EPERM/);
  const quiet = runUnderSeccomp('EPERM', child, [], { ...env, IOURING_NET_QUIET: '1' });
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /IOURING_NET_FALLBACK/);
});

test('without the addon, importing works and auto falls back to node:dgram', () => {
  const env = { ...envWithout('IOURING_NET_BACKEND', 'IOURING_NET_QUIET'), IOURING_NET_DISABLE_ADDON: '1' };
  const r = spawnSync(process.execPath, [child], { env, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
    probe: { available: boolean; reason: string };
    open: { ok: boolean; backend?: string; roundTrip?: { ok: boolean } };
  };
  assert.equal(report.probe.available, false);
  assert.match(report.probe.reason, /IOURING_NET_DISABLE_ADDON/);
  assert.equal(report.open.ok, true);
  assert.equal(report.open.backend, 'dgram');
  assert.equal(report.open.roundTrip?.ok, true);
  const warnings = r.stderr.split('\n').filter((l) => l.includes('IOURING_NET_FALLBACK'));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0]!, /using node:dgram/);
  // Forcing a native backend then says why it cannot be had.
  const forced = spawnSync(process.execPath, [child], { env: { ...env, IOURING_NET_BACKEND: 'mmsg' }, encoding: 'utf8', timeout: 20_000 });
  assert.match(forced.stdout, /ERR_IOURING_NET_BACKEND_UNAVAILABLE/);
  assert.match(forced.stdout, /IOURING_NET_DISABLE_ADDON/);
});
