/**
 * The per-peer timers (timers.ts) driven by a ManualClock: every expected
 * action is checked at its time, with the owner behaving as the data path
 * will (it reports handshakeInitiated / authenticatedPacketSent when it
 * sends what the timers asked for).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ManualClock } from '../src/wireguard/clock.js';
import {
  KEEPALIVE_TIMEOUT_MS,
  PeerTimers,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME_MS,
  REKEY_TIMEOUT_MS,
  type TimerAction,
} from '../src/wireguard/timers.js';

interface Logged {
  at: number;
  action: TimerAction;
}

/** Timers on a manual clock; `log` records actions with their time; the owner reports its sends. */
function harness(opts: { jitter?: number; persistentKeepalive?: number; reportSends?: boolean } = {}): {
  clock: ManualClock;
  timers: PeerTimers;
  log: Logged[];
  times: (type: TimerAction['type']) => number[];
} {
  const clock = new ManualClock();
  const log: Logged[] = [];
  const timers: PeerTimers = new PeerTimers({
    clock,
    jitter: () => opts.jitter ?? 0,
    wallClock: () => BigInt(clock.now()) * 1_000_000n + 1_700_000_000_000_000_000n,
    persistentKeepalive: opts.persistentKeepalive ?? 0,
    onAction: (action) => {
      log.push({ at: clock.now(), action });
      if (opts.reportSends === false) return;
      if (action.type === 'sendInitiation') {
        timers.authenticatedPacketSent();
        timers.handshakeInitiated();
      } else if (action.type === 'sendKeepalive') {
        timers.authenticatedPacketSent();
      }
    },
  });
  const times = (type: TimerAction['type']): number[] => log.filter((l) => l.action.type === type).map((l) => l.at);
  return { clock, timers, log, times };
}

test('ManualClock runs callbacks in due order, including ones scheduled while advancing', () => {
  const clock = new ManualClock(100);
  const seen: string[] = [];
  clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
  const h = clock.setTimeout(() => seen.push('never'), 15);
  clock.setTimeout(() => {
    seen.push(`a@${clock.now()}`);
    clock.setTimeout(() => seen.push(`c@${clock.now()}`), 5);
  }, 10);
  clock.clearTimeout(h);
  clock.advance(14);
  assert.deepEqual(seen, ['a@110']);
  clock.advance(100);
  assert.deepEqual(seen, ['a@110', 'c@115', 'b@120']);
  assert.equal(clock.now(), 214);
  assert.equal(clock.pending, 0);
  const loop = (): void => void clock.setTimeout(loop, 0);
  loop();
  assert.throws(() => clock.advance(1), /too many callbacks/);
});

test('rekey: data sent under a keypair we initiated older than REKEY_AFTER_TIME (120 s) starts a handshake', () => {
  const { clock, timers, times } = harness();
  timers.sessionDerived({ keypairId: 1, isInitiator: true });
  timers.handshakeComplete(1);
  clock.advanceTo(REKEY_AFTER_TIME_MS);
  timers.dataSent();
  assert.deepEqual(times('sendInitiation'), [], 'not at exactly 120 s');
  clock.advanceTo(REKEY_AFTER_TIME_MS + 1);
  timers.dataSent();
  assert.deepEqual(times('sendInitiation'), [120_001]);
  // A second batch right after does not start another (one per REKEY_TIMEOUT).
  clock.advance(1000);
  timers.dataSent();
  assert.deepEqual(times('sendInitiation'), [120_001]);
});

test('rekey: the responder does not rekey on time; anyone rekeys past REKEY_AFTER_MESSAGES', () => {
  const { clock, timers, times } = harness();
  timers.sessionDerived({ keypairId: 1, isInitiator: false });
  timers.handshakeComplete(1);
  clock.advanceTo(150_000);
  timers.dataSent();
  assert.deepEqual(times('sendInitiation'), []);
  timers.dataSent(REKEY_AFTER_MESSAGES);
  assert.deepEqual(times('sendInitiation'), []);
  timers.dataSent(REKEY_AFTER_MESSAGES + 1n);
  assert.deepEqual(times('sendInitiation'), [150_000]);
});

test('retransmission every REKEY_TIMEOUT (5 s) until giving up, then zeroing 540 s later', () => {
  const { clock, timers, log, times } = harness();
  timers.needHandshake();
  clock.advanceTo(1_000_000);
  // As the Linux driver and wireguard-go: the first initiation, then a retry
  // each 5 s while attempts <= MAX_TIMER_HANDSHAKES (18), i.e. 19 retries;
  // the 20th expiry (100 s) gives up.
  const sends = times('sendInitiation');
  assert.deepEqual(sends, Array.from({ length: 20 }, (_, k) => k * REKEY_TIMEOUT_MS));
  const retries = log.filter((l) => l.action.type === 'sendInitiation').map((l) => (l.action as { retry: boolean }).retry);
  assert.deepEqual(retries, [false, ...new Array<boolean>(19).fill(true)]);
  assert.ok(sends.every((t) => t <= 95_000), 'every attempt within REKEY_ATTEMPT_TIME plus one timeout');
  assert.deepEqual(times('giveUp'), [100_000]);
  assert.deepEqual(times('zeroKeys'), [100_000 + 3 * REJECT_AFTER_TIME_MS]);
  assert.equal(log.length, 22);
});

test('retransmissions carry jitter (up to 333 ms), and a completed handshake stops them', () => {
  const { clock, timers, times } = harness({ jitter: 333 });
  timers.needHandshake();
  clock.advanceTo(11_000);
  assert.deepEqual(times('sendInitiation'), [0, 5_333, 10_666]);
  timers.sessionDerived({ keypairId: 1, isInitiator: true });
  timers.handshakeComplete(1);
  assert.equal(timers.handshakeAttempts, 0);
  clock.advanceTo(100_000);
  assert.deepEqual(times('sendInitiation'), [0, 5_333, 10_666]);
  assert.deepEqual(times('giveUp'), []);
  assert.equal(timers.lastHandshakeNanos, 1_700_000_000_000_000_000n + 11_000_000_000n);
});

test('at most one initiation per REKEY_TIMEOUT, however many batches ask', () => {
  const { clock, timers, times } = harness();
  timers.needHandshake();
  clock.advance(1000);
  timers.needHandshake();
  timers.needHandshake();
  clock.advanceTo(4_999);
  timers.needHandshake();
  assert.deepEqual(times('sendInitiation'), [0]);
});

test('passive keepalive KEEPALIVE_TIMEOUT (10 s) after data received with nothing sent back', () => {
  const { clock, timers, times } = harness();
  for (let k = 0; k < 100; k++) timers.dataReceived(); // a batch reported many times still means one keepalive
  clock.advanceTo(9_999);
  assert.deepEqual(times('sendKeepalive'), []);
  clock.advanceTo(30_000);
  assert.deepEqual(times('sendKeepalive'), [KEEPALIVE_TIMEOUT_MS]);
  // Anything sent meanwhile makes it unnecessary.
  timers.dataReceived();
  clock.advance(5_000);
  timers.authenticatedPacketSent();
  clock.advance(60_000);
  assert.deepEqual(times('sendKeepalive'), [KEEPALIVE_TIMEOUT_MS]);
});

test('new handshake when data was sent and nothing came back for KEEPALIVE + REKEY_TIMEOUT (15 s)', () => {
  const { clock, timers, times } = harness({ jitter: 100 });
  timers.sessionDerived({ keypairId: 1, isInitiator: false });
  timers.handshakeComplete(1);
  timers.dataSent();
  clock.advance(10_000);
  timers.dataSent(); // already pending: not pushed back
  clock.advanceTo(15_099);
  assert.deepEqual(times('sendInitiation'), []);
  clock.advanceTo(15_100);
  assert.deepEqual(times('sendInitiation'), [15_100]);
  // A reply in time cancels it.
  const h = harness();
  h.timers.dataSent();
  h.clock.advance(14_000);
  h.timers.authenticatedPacketReceived(true);
  h.clock.advance(60_000);
  assert.deepEqual(h.times('sendInitiation'), []);
});

test('persistent keepalive: at once when turned on, then every interval without other traffic', () => {
  const { clock, timers, times } = harness();
  timers.setPersistentKeepalive(25);
  assert.deepEqual(times('sendKeepalive'), [0]);
  clock.advanceTo(60_000);
  assert.deepEqual(times('sendKeepalive'), [0, 25_000, 50_000]);
  // Received traffic restarts the interval.
  clock.advanceTo(70_000);
  timers.authenticatedPacketReceived(true);
  clock.advanceTo(100_000);
  assert.deepEqual(times('sendKeepalive'), [0, 25_000, 50_000, 95_000]);
  timers.setPersistentKeepalive(0);
  clock.advanceTo(500_000);
  assert.deepEqual(times('sendKeepalive'), [0, 25_000, 50_000, 95_000]);
  assert.throws(() => timers.setPersistentKeepalive(65536), RangeError);
  // Configured from the start (no immediate keepalive): the first traffic starts the interval.
  const h = harness({ persistentKeepalive: 10 });
  h.timers.authenticatedPacketSent();
  h.clock.advanceTo(35_000);
  assert.deepEqual(h.times('sendKeepalive'), [10_000, 20_000, 30_000]);
});

test('keypairs expire REJECT_AFTER_TIME (180 s) after derivation; all keys zeroed 540 s after the last', () => {
  const { clock, timers, log } = harness({ reportSends: false });
  timers.sessionDerived({ keypairId: 1, isInitiator: true });
  timers.handshakeComplete(1);
  clock.advanceTo(100_000);
  timers.sessionDerived({ keypairId: 2, isInitiator: true });
  timers.handshakeComplete(2);
  clock.advanceTo(2_000_000);
  assert.deepEqual(
    log.map((l) => [l.at, l.action]),
    [
      [180_000, { type: 'expireKeys', keypairId: 1 }],
      [280_000, { type: 'expireKeys', keypairId: 2 }],
      [100_000 + 3 * REJECT_AFTER_TIME_MS, { type: 'zeroKeys' }],
    ],
  );
  // No rekey from an expired keypair: it is no longer current.
  timers.dataSent();
  assert.equal(log.length, 3);
});

test('only the three newest keypairs keep expiry timers', () => {
  const { clock, timers, log } = harness({ reportSends: false });
  for (let id = 1; id <= 5; id++) {
    timers.sessionDerived({ keypairId: id, isInitiator: false });
    clock.advance(1_000);
  }
  clock.advanceTo(REJECT_AFTER_TIME_MS + 10_000);
  assert.deepEqual(
    log.filter((l) => l.action.type === 'expireKeys').map((l) => (l.action as { keypairId: number }).keypairId),
    [3, 4, 5],
  );
});

test('an ageing keypair we initiated is renewed once when a transport packet arrives after 165 s', () => {
  const { clock, timers, log, times } = harness();
  timers.sessionDerived({ keypairId: 1, isInitiator: true });
  timers.handshakeComplete(1);
  clock.advanceTo(165_000);
  timers.authenticatedPacketReceived(true);
  timers.authenticatedPacketReceived(false); // handshake messages never trigger it
  assert.deepEqual(times('sendInitiation'), []);
  clock.advanceTo(165_001);
  timers.authenticatedPacketReceived(false);
  assert.deepEqual(times('sendInitiation'), []);
  timers.authenticatedPacketReceived(true);
  assert.deepEqual(times('sendInitiation'), [165_001]);
  // Later packets do not start more (the retransmission timer retries on its own).
  clock.advanceTo(171_000);
  timers.authenticatedPacketReceived(true);
  const fresh = log.filter((l) => l.action.type === 'sendInitiation' && !l.action.retry).map((l) => l.at);
  assert.deepEqual(fresh, [165_001]);
});

test('stop() cancels every timer and ignores events until start()', () => {
  const { clock, timers, log } = harness();
  timers.sessionDerived({ keypairId: 1, isInitiator: true });
  timers.dataReceived();
  timers.needHandshake();
  const before = log.length;
  timers.stop();
  timers.dataReceived();
  timers.needHandshake();
  timers.dataSent();
  clock.advanceTo(10_000_000);
  assert.equal(log.length, before);
  assert.equal(clock.pending, 0);
  timers.start();
  timers.needHandshake();
  assert.equal(log.length, before + 1);
});

test('REKEY_TIMEOUT and friends have the paper values', () => {
  assert.equal(REKEY_AFTER_TIME_MS, 120_000);
  assert.equal(REJECT_AFTER_TIME_MS, 180_000);
  assert.equal(REKEY_TIMEOUT_MS, 5_000);
  assert.equal(KEEPALIVE_TIMEOUT_MS, 10_000);
  assert.equal(REKEY_AFTER_MESSAGES, 2n ** 60n);
});
