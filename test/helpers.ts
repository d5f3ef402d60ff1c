/** Shared helpers for the test files: bounded waits and resource counts. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFile, openUdp, type RecvBatch, type UdpSocket, type UdpSocketOptions } from '../src/index.js';

/** Resolve when pred() is true; reject after ms (every wait is bounded). */
export async function waitUntil(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * p, or a rejection naming `what` if it has not settled after ms. A hang
 * guard only: it turns a hang into a clear failure and says nothing about
 * speed (the bounds are far above anything measured).
 */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`hang guard: ${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(t));
}

/**
 * A positive marker for "nothing more comes": one write and one read of a
 * temporary file through this thread's reactor (the backend TUN devices and
 * files use in this run), resolved when both have completed. A test that
 * must show that an object closed earlier delivers nothing more checks
 * after this marker: the loop and the reactor have since dispatched
 * completions that were submitted after the close.
 */
export async function reactorMarker(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ionet-marker-'));
  try {
    const f = openFile(join(dir, 'marker'), { flags: 'w+' });
    try {
      await within(f.write('marker', 0), 5000, 'the marker write');
      const back = await within(f.read(6, 0), 5000, 'the marker read');
      if (back.toString() !== 'marker') throw new Error(`the marker read back ${JSON.stringify(back.toString())}`);
    } finally {
      await f.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same for UDP tests: a datagram between two fresh sockets of this
 * run's backend and its echo, resolved when the echo has arrived and both
 * sockets are closed again.
 */
export async function udpMarker(): Promise<void> {
  const a = await open({ type: 'udp4', address: '127.0.0.1' });
  const b = await open({ type: 'udp4', address: '127.0.0.1' });
  try {
    let back = false;
    b.onBatch = (batch) => {
      for (let i = 0; i < batch.length; i++) b.reply(batch, i);
    };
    a.onBatch = (batch) => {
      if (batch.length > 0) back = true;
    };
    a.send(Buffer.from('marker'), b.address().port, '127.0.0.1');
    await waitUntil(() => back, 5000, 'the marker datagram to come back');
  } finally {
    for (const s of [a, b]) {
      const c = closed(s);
      s.close();
      await c;
    }
  }
}

/** A promise for the next 'close' of a socket, bounded. */
export function closed(sock: UdpSocket, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('close did not arrive')), ms);
    sock.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

export interface Received {
  data: Buffer;
  address: string;
  port: number;
  family: number;
  truncated: boolean;
}

/** A batch handler that copies every packet into `into`. */
export function collector(into: Received[]): (b: RecvBatch) => void {
  return (b) => {
    for (let i = 0; i < b.length; i++) {
      into.push({ data: b.copy(i), address: b.address(i), port: b.port(i), family: b.family(i), truncated: b.truncated(i) });
    }
  };
}

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * The backend this run of the suite exercises: forced with
 * IOURING_NET_BACKEND (scripts/test.sh), or what 'auto' must pick
 * (IOURING_NET_TEST_EXPECT, set by the seccomp fallback test).
 */
export const BACKEND = process.env.IOURING_NET_TEST_EXPECT || process.env.IOURING_NET_BACKEND || 'io_uring';

/**
 * The backend of TUN devices and files in this run: IOURING_NET_BACKEND
 * names the UDP backends, and src/core/backend.ts maps the two that avoid
 * io_uring (mmsg, dgram) to 'poll' for them.
 */
export const FILE_BACKEND: 'io_uring' | 'poll' = ['mmsg', 'dgram', 'poll'].includes(BACKEND) ? 'poll' : 'io_uring';

/** The TUN read modes this run exercises: both io_uring ones, or 'poll'. */
export const TUN_READ_MODES: readonly ('multishot' | 'single' | 'poll')[] =
  FILE_BACKEND === 'poll' ? ['poll'] : ['multishot', 'single'];

/** The openTun readMode option for a mode of TUN_READ_MODES ('poll' has none). */
export function readModeOption(mode: 'multishot' | 'single' | 'poll'): 'multishot' | 'single' | 'auto' {
  return mode === 'poll' ? 'auto' : mode;
}

/** openUdp, then wait until bound (the dgram backend binds asynchronously). */
export async function open(options: UdpSocketOptions): Promise<UdpSocket> {
  const s = openUdp(options);
  await s.ready;
  return s;
}
