/**
 * Multicast membership (any-source and source-specific) and the outgoing
 * interface, end to end, inside a network namespace of the test's own
 * (traffic never leaves it). Needs root.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { BACKEND } from './helpers.js';
import { Netns, tunSkipReason } from './netns.js';

const child = fileURLToPath(new URL('./multicast-child.js', import.meta.url));

test(`multicast join, send and receive in a namespace (${BACKEND})`, { skip: tunSkipReason() }, async () => {
  const ns = Netns.create('mcast');
  try {
    ns.ip('link', 'set', 'lo', 'multicast', 'on');
    ns.ip('route', 'add', '224.0.0.0/4', 'dev', 'lo');
    const r = await ns.exec(process.execPath, [child], 20_000);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { any: 'to 239.255.7.7', ssm: 'to 232.7.7.7' });
  } finally {
    ns.destroy();
  }
});
