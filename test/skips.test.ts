/**
 * The skip report's own checks (test/skips.ts): skips are found in
 * node:test's TAP, nested ones get their describe() parents, the native
 * tests' TAP lines are read, and the allowlist lets through only the skips
 * it names, in the runs it names: a TUN suite skipped because namespaces
 * cannot be made, or a tool is missing, is never allowed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { allowedBy, collectSkips, skipsInNativeLog, skipsInTap } from './skips.js';

const TAP = `TAP version 13
# Subtest: node:dgram parity: bind
    # Subtest: bind(): 'listening' comes from dns.lookup's tick
    ok 8 - bind(): 'listening' comes from dns.lookup's tick # SKIP the dgram backend binds node:dgram's socket after ours, so 'listening' comes later
    # Subtest: a name with \\# in it
    ok 9 - a name with \\# in it # SKIP why \\# not
    1..9
ok 1 - node:dgram parity: bind
# Subtest: multishot receive re-arms after running out of buffers (ENOBUFS): nothing lost
ok 2 - multishot receive re-arms after running out of buffers (ENOBUFS): nothing lost # SKIP io_uring backend only
# Subtest: ping through a TUN device answered from JS (multishot reads, packetInfo false, IPv4)
ok 3 - ping through a TUN device answered from JS (multishot reads, packetInfo false, IPv4) # SKIP cannot create network namespaces here: ip netns add failed
# Subtest: a plain pass
ok 4 - a plain pass
# Subtest: a skip without reason
ok 5 - a skip without reason # SKIP
1..5
`;

test('skips are read from TAP with their parents and reasons', () => {
  const skips = skipsInTap('udp-dgram', TAP);
  assert.deepEqual(
    skips.map((s) => [s.test, s.reason]),
    [
      ["node:dgram parity: bind > bind(): 'listening' comes from dns.lookup's tick", "the dgram backend binds node:dgram's socket after ours, so 'listening' comes later"],
      ['node:dgram parity: bind > a name with # in it', 'why # not'],
      ['multishot receive re-arms after running out of buffers (ENOBUFS): nothing lost', 'io_uring backend only'],
      ['ping through a TUN device answered from JS (multishot reads, packetInfo false, IPv4)', 'cannot create network namespaces here: ip netns add failed'],
      ['a skip without reason', ''],
    ],
  );
  assert.ok(skips.every((s) => s.pass === 'udp-dgram'));
});

test('the allowlist lets through only the skips it names, in the runs it names', () => {
  const [parity, hash, enobufs, tun, bare] = skipsInTap('udp-dgram', TAP);
  assert.ok(allowedBy(parity!), 'the dgram parity difference, on the dgram run');
  assert.ok(allowedBy(enobufs!), 'the io_uring-only ENOBUFS test, on the dgram run');
  assert.equal(allowedBy(hash!), undefined);
  assert.equal(allowedBy(tun!), undefined, 'a broken namespace helper is never a reason');
  assert.equal(allowedBy(bare!), undefined, 'a skip must say why');
  // The same skips in runs where they are not by design.
  assert.equal(allowedBy({ ...enobufs!, pass: 'main' }), undefined, 'the io_uring run must run the ENOBUFS test');
  assert.equal(allowedBy({ ...enobufs!, pass: 'asan-io_uring' }), undefined);
  assert.equal(allowedBy({ ...parity!, pass: 'udp-mmsg' }), undefined);
  // A reason that only looks alike.
  assert.equal(allowedBy({ ...enobufs!, reason: 'kernel lacks multishot recvmsg' }), undefined);
  for (const reason of [
    'needs root (CAP_NET_ADMIN) to create TUN devices and network namespaces; run the tests as root to include it',
    '`ping` is not installed (scripts/ensure-tools.sh installs it)',
    'iproute2 `ip` is not installed (scripts/ensure-tools.sh installs it)',
    'io_uring is not usable here: EPERM',
    'the kernel has no multishot reads for TUN (IORING_OP_READ_MULTISHOT needs Linux 6.7)',
  ]) {
    for (const pass of ['main', 'poll', 'udp-mmsg', 'udp-dgram', 'asan-io_uring', 'asan-mmsg']) {
      assert.equal(allowedBy({ pass, test: tun!.test, reason }), undefined, `${pass}: ${reason}`);
    }
  }
});

test("the native tests' skips are read, per binary and build", () => {
  const log = [
    '== ring_test: run (ASan/UBSan)',
    '1..3',
    'ok 1 - setup',
    'ok 2 - pbuf_ring # SKIP no provided buffer rings (-22)',
    'not ok 3 - x: line 1: bad',
    '# skipped: pbuf_ring: no provided buffer rings (-22)',
    '== reactor_test: run (-O2)',
    '1..0 # SKIP io_uring_setup: Operation not permitted',
    '# skipped: all 9 tests: io_uring_setup returned -1 (Operation not permitted)',
  ].join('\n');
  assert.deepEqual(skipsInNativeLog(log), [
    { pass: 'native', test: 'ring_test (ASan/UBSan): pbuf_ring', reason: 'no provided buffer rings (-22)' },
    { pass: 'native', test: 'reactor_test (-O2): all tests', reason: 'io_uring_setup: Operation not permitted' },
  ]);
  for (const s of skipsInNativeLog(log)) assert.equal(allowedBy(s), undefined);
});

test('a reports directory: TAP files per run, nested runs, the native log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ionet-skips-'));
  try {
    writeFileSync(join(dir, 'udp-dgram.tap'), TAP);
    writeFileSync(join(dir, 'main~seccomp-EPERM-udp-sendrecv.tap'), TAP);
    writeFileSync(join(dir, 'native.log'), '== mmsg_test: run (-O2)\nok 1 - a # SKIP b\n');
    writeFileSync(join(dir, 'other.txt'), 'ok 1 - ignored # SKIP x\n');
    const { skips, passes } = collectSkips(dir);
    assert.deepEqual(passes.sort(), ['main/seccomp-EPERM-udp-sendrecv', 'native', 'udp-dgram']);
    assert.equal(skips.length, 11);
    const nestedEnobufs = skips.find((s) => s.pass === 'main/seccomp-EPERM-udp-sendrecv' && s.reason === 'io_uring backend only');
    assert.ok(nestedEnobufs && allowedBy(nestedEnobufs), 'the seccomp child runs udp-sendrecv on mmsg');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
