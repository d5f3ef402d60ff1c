/**
 * The one place that decides which backend moves packets:
 *
 *   io_uring  the ring (src/native/udp*.c)
 *   mmsg      the same addon, uv_poll + recvmmsg/sendmmsg (src/native/mmsg.c)
 *   dgram     node:dgram behind the same protocol (src/udp/dgram-driver.ts), when
 *             the addon cannot load (not Linux, build failed); the UDP choice
 *             itself is udp/backend.ts, built from the pieces here
 *
 * TUN devices and files (selectFileBackend) have two:
 *
 *   io_uring  the ring (src/native/file.c)
 *   poll      the same addon, uv_poll + non-blocking read/write for TUN fds,
 *             pread/pwrite on the loop thread for regular files
 *             (src/native/file_poll.c); never libuv's fs thread pool
 *
 * 'auto' (the default) takes io_uring when probe() says it is usable, else
 * the addon's poll path (mmsg, poll), and says once per process why it
 * skipped io_uring, through process.emitWarning with code
 * IOURING_NET_FALLBACK. The `backend` option or the IOURING_NET_BACKEND
 * environment variable forces one; forcing one that cannot work throws
 * ERR_IOURING_NET_BACKEND_UNAVAILABLE saying why. IOURING_NET_BACKEND names
 * the UDP backends; for TUN devices and files, mmsg and dgram (both "not
 * io_uring") mean poll.
 */
import { loadBinding } from './binding.js';
import { CodedError, invalidArgValue } from './errors.js';
import { probe } from './probe.js';
import { reactorFor, type Reactor } from './reactor.js';

export type BackendName = 'io_uring' | 'mmsg' | 'dgram';
export type BackendChoice = 'auto' | BackendName;
/** Backends of TUN devices and files. */
export type FileBackendName = 'io_uring' | 'poll';
export type FileBackendChoice = 'auto' | FileBackendName;

/** Native code for each backend (udp.h ION_BACKEND_*). */
export const NATIVE_BACKEND: Record<BackendName, number> = { io_uring: 0, mmsg: 1, dgram: 2 };

export interface Selection {
  backend: BackendName;
  reactor: Reactor;
}

export interface SelectOptions {
  backend?: BackendChoice | undefined;
  /** Do not emit the one-time fallback warning. */
  quiet?: boolean | undefined;
}

const CHOICES: readonly string[] = ['auto', 'io_uring', 'mmsg', 'dgram'];
const FILE_CHOICES: readonly string[] = ['auto', 'io_uring', 'poll'];
/** IOURING_NET_BACKEND for TUN devices and files: no node:dgram there. */
const FILE_FROM_ENV: Record<BackendChoice, FileBackendChoice> = { auto: 'auto', io_uring: 'io_uring', mmsg: 'poll', dgram: 'poll' };
let ioUringReason: string | null | undefined;
let warned = false;

export function unavailable(name: string, why: string): CodedError {
  return new CodedError('ERR_IOURING_NET_BACKEND_UNAVAILABLE', `the ${name} backend cannot be used here: ${why}`);
}

/** Why io_uring cannot be used in this process, or null. Probed once. */
export function ioUringUnavailableReason(): string | null {
  if (ioUringReason === undefined) {
    const p = probe();
    ioUringReason = p.available ? null : p.reason;
  }
  return ioUringReason;
}

export function requested(opt: BackendChoice | undefined): BackendChoice {
  if (opt !== undefined) {
    if (!CHOICES.includes(opt)) throw invalidArgValue('options.backend', opt, `must be one of ${CHOICES.join(', ')}`);
    return opt;
  }
  const env = process.env.IOURING_NET_BACKEND;
  if (env === undefined || env === '') return 'auto';
  if (!CHOICES.includes(env)) {
    throw invalidArgValue('IOURING_NET_BACKEND', env, `must be one of ${CHOICES.join(', ')}`);
  }
  return env as BackendChoice;
}

/** Why this thread's ring cannot be used, or null. */
export function ringReason(reactor: Reactor): string | null {
  if (reactor.ringError < 0) return ioUringUnavailableReason() ?? 'io_uring_setup failed';
  return ioUringUnavailableReason();
}

export interface FileSelectOptions {
  backend?: FileBackendChoice | undefined;
  quiet?: boolean | undefined;
}

export interface FileSelection {
  backend: FileBackendName;
  reactor: Reactor;
}

/** Choose the backend for a new TUN device or file (both need the addon). */
export function selectFileBackend(opts: FileSelectOptions, what: string): FileSelection {
  let want: FileBackendChoice;
  if (opts.backend === undefined) want = FILE_FROM_ENV[requested(undefined)];
  else if (FILE_CHOICES.includes(opts.backend)) want = opts.backend;
  else throw invalidArgValue('options.backend', opts.backend, `must be one of ${FILE_CHOICES.join(', ')}`);
  const { binding, error } = loadBinding();
  if (!binding) throw unavailable(want === 'poll' ? 'poll' : 'io_uring', `${what} needs the native addon: ${error?.message ?? 'it is not built'}`);
  const reactor = reactorFor(binding);
  if (want === 'poll') return { backend: 'poll', reactor };
  const reason = ringReason(reactor);
  if (reason === null) return { backend: 'io_uring', reactor };
  if (want === 'io_uring') throw unavailable('io_uring', reason);
  warnOnce(opts, `not using io_uring for ${what}: ${reason}; using the poll backend (non-blocking read/write on this thread)`);
  return { backend: 'poll', reactor };
}

/** The fallback warning, once per process (net/uring logged it per socket). */
export function warnOnce(opts: { quiet?: boolean | undefined }, message: string): void {
  if (warned || opts.quiet || process.env.IOURING_NET_QUIET === '1') return;
  warned = true;
  process.emitWarning(message, { code: 'IOURING_NET_FALLBACK' });
}
