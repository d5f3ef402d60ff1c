/** Shared helpers for the test files: bounded waits and resource counts. */
import { readdirSync } from 'node:fs';
import { openUdp, type RecvBatch, type UdpSocket, type UdpSocketOptions } from '../src/index.js';

/** Resolve when pred() is true; reject after ms (every wait is bounded). */
export async function waitUntil(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
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
