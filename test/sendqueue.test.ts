/**
 * The send queue's window for native producers (WireGuard, forwarders):
 * the room it offers, and what commitWindow() accepts. Native's side of
 * the window is tested in test/native/reactor_test.c (dring_window).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { C_STAIL, C_WORDS, M_LEN, M_OFF, M_WORDS } from '../src/core/layout.js';
import { SendQueue } from '../src/core/sendqueue.js';

function queue(slots = 8, dataStart = 1000, dataLen = 100): { q: SendQueue; desc: Int32Array; ctrl: Int32Array; sent: number[]; frontier: { v: number } } {
  const desc = new Int32Array(slots * M_WORDS);
  const ctrl = new Int32Array(C_WORDS);
  const sent: number[] = [];
  const frontier = { v: 0 };
  const q = new SendQueue({ sent: (r) => void sent.push(r) }, desc, ctrl, slots, dataStart, dataLen, () => frontier.v);
  return { q, desc, ctrl, sent, frontier };
}

/** What native does in a window: descriptors with payloads packed in order. */
function fill(desc: Int32Array, seq: number, slots: number, at: number, lens: number[]): void {
  let off = at;
  lens.forEach((len, k) => {
    const d = ((seq + k) % slots) * M_WORDS;
    desc[d + M_OFF] = off;
    desc[d + M_LEN] = len;
    off += len;
  });
}

test('a window offers the free room; commitWindow accounts what native filled', () => {
  const { q, desc, ctrl } = queue();
  const w = q.window(4, 60)!;
  assert.deepEqual(w, { seq: 0, slots: 4, at: 1000, bytes: 60 });
  fill(desc, w.seq, 8, w.at, [10, 20, 5]);
  assert.equal(q.commitWindow(w, 3), true);
  assert.equal(q.pending, 3);
  assert.equal(ctrl[C_STAIL], 3);
  // The next window starts after the 35 bytes used, with the rest of the ring.
  assert.deepEqual(q.window(8, 1000), { seq: 3, slots: 5, at: 1035, bytes: 65 });
});

test('commitWindow refuses descriptors outside the window or out of order', () => {
  const { q, desc } = queue();
  const w = q.window(4, 50)!;
  fill(desc, w.seq, 8, w.at, [10, 60]); // the second runs past the window
  assert.equal(q.commitWindow(w, 2), false);
  assert.equal(q.pending, 1, 'the first (inside) was accounted');
  assert.equal(q.commitWindow({ ...w, seq: 5 }, 1), false, 'not the tail');
  const { q: q2, desc: d2 } = queue();
  const w2 = q2.window(4, 50)!;
  d2[M_OFF] = 1020;
  d2[M_LEN] = 5;
  d2[M_WORDS + M_OFF] = 1010; // before the previous one
  d2[M_WORDS + M_LEN] = 5;
  assert.equal(q2.commitWindow(w2, 2), false);
  assert.equal(q2.commitWindow(w2, 9), false, 'more than the window');
});

test('a full queue gives no window until completions free room', () => {
  const { q, desc, frontier } = queue(4, 0, 40);
  const w = q.window(4, 40)!;
  fill(desc, 0, 4, w.at, [9, 9, 9, 9]);
  assert.equal(q.commitWindow(w, 4), true);
  assert.equal(q.window(1, 1), null);
  assert.equal(q.wantDrain, true);
  frontier.v = 2; // native finished two
  const w2 = q.window(4, 100)!;
  assert.equal(w2.slots, 2);
  assert.equal(w2.seq, 4);
  // Payload room: the ring wraps to 0, up to the oldest payload still in use, less one byte.
  assert.deepEqual([w2.at, w2.bytes], [0, 17]);
});

test('a window smaller than asked takes the completions first', () => {
  const { q, desc, frontier } = queue(8, 0, 100);
  const w = q.window(8, 90)!;
  fill(desc, 0, 8, w.at, [30, 30, 20]);
  assert.equal(q.commitWindow(w, 3), true);
  // Native finished all three but JS was never told (no SWANT): a window
  // asking for more than is left reaps them and offers the whole ring.
  frontier.v = 3;
  assert.deepEqual(q.window(8, 90), { seq: 3, slots: 8, at: 0, bytes: 90 });
  assert.equal(q.pending, 0);
});
