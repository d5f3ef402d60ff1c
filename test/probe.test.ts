import assert from 'node:assert/strict';
import { test } from 'node:test';
import { probe } from '../src/index.js';
import { explainSetupErrno } from '../src/core/probe.js';

test('probe() reports io_uring with its features and ops, and never throws', (t) => {
  const p = probe();
  assert.equal(typeof p.available, 'boolean');
  assert.equal(typeof p.kernel, 'string');
  if (!p.available) {
    // Not necessarily a failure of ours: the reason must be readable, and
    // the rest is a skip that says why (CI, where io_uring is allowed,
    // fails on it: scripts/test.sh and test/skips.ts).
    assert.ok(p.reason.length > 10, p.reason);
    t.skip(`io_uring is not available here: ${p.reason}`);
    return;
  }
  assert.equal(p.reason, '');
  for (const op of ['NOP', 'RECVMSG', 'SENDMSG', 'ASYNC_CANCEL', 'READ', 'WRITE']) assert.ok(p.ops.includes(op), op);
  // Opcodes up to URING_CMD128 (64) have names; only later ones may show as OP_<n>.
  for (const op of p.ops) {
    const m = /^OP_(\d+)$/.exec(op);
    if (m) assert.ok(Number(m[1]) > 64, `opcode ${op} has no name`);
  }
  for (const key of ['multishotRecvmsg', 'providedBufferRings', 'deferTaskrun', 'sendZc', 'readMultishot'] as const) {
    assert.equal(typeof p.features[key], 'boolean', key);
  }
  // The kernel's version decides the features we can check for certain.
  const [major = 0, minor = 0] = p.kernel.split('.').map((x) => parseInt(x, 10));
  if (major > 6 || (major === 6 && minor >= 7)) {
    assert.ok(p.features.multishotRecvmsg && p.features.providedBufferRings && p.features.readMultishot);
    assert.ok(p.features.deferTaskrun && p.features.sendZc);
  }
});

test('setup errors get reasons a person can act on', () => {
  assert.match(explainSetupErrno('EPERM'), /seccomp|io_uring_disabled/);
  assert.match(explainSetupErrno('ENOSYS'), /no io_uring/);
  assert.match(explainSetupErrno('ENOMEM'), /RLIMIT_MEMLOCK/);
});
