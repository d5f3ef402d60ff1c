/**
 * What the kernel says about this process, for tests that must wait for a
 * state instead of sleeping and hoping it was reached:
 *
 * - armedRingReads(): reads waiting in the poll lists of this process's
 *   io_uring instances (the "PollList:" of /proc/self/fdinfo/<ring fd>,
 *   which lists every request the kernel parked until its fd is ready:
 *   a TUN read with no packet is one);
 * - epollWatches(fd): whether fd is registered in one of this process's
 *   epoll instances (libuv's loop registers a uv_poll watcher there on its
 *   next poll phase, not inside uv_poll_start);
 * - threadsBlockedOn(fd): how many threads of this process sit in a system
 *   call whose first argument is fd (/proc/self/task/<tid>/syscall).
 * - readArmed(dev): the first two combined for a TUN device of either backend.
 *
 * Linux only, like the tests that use them.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** io_uring opcodes of the reads a TUN device arms (include/uapi/linux/io_uring.h). */
const IORING_OP_READ = 22;
const IORING_OP_READ_MULTISHOT = 49;

/** This process's fds whose link target contains `kind` ('io_uring', 'eventpoll'). */
function fdsOf(kind: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).includes(kind)) out.push(fd);
    } catch {
      // closed meanwhile (readdir's own fd, or another thread's)
    }
  }
  return out;
}

function fdinfo(fd: string): string {
  try {
    return readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch {
    return '';
  }
}

/** Reads (IORING_OP_READ or READ_MULTISHOT) parked in the poll lists of this process's rings. */
export function armedRingReads(): number {
  let n = 0;
  for (const fd of fdsOf('io_uring')) {
    const list = fdinfo(fd).split('PollList:')[1]?.split('CqOverflowList:')[0] ?? '';
    for (const m of list.matchAll(/op=(\d+)/g)) {
      const op = Number(m[1]);
      if (op === IORING_OP_READ || op === IORING_OP_READ_MULTISHOT) n++;
    }
  }
  return n;
}

/** True if fd is registered in one of this process's epoll instances. */
export function epollWatches(fd: number): boolean {
  return fdsOf('eventpoll').some((ep) => [...fdinfo(ep).matchAll(/^tfd:\s+(\d+)/gm)].some((m) => Number(m[1]) === fd));
}

/** Threads of this process blocked in a system call whose first argument is fd. */
export function threadsBlockedOn(fd: number): number {
  let n = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let line = '';
    try {
      line = readFileSync(`/proc/self/task/${tid}/syscall`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    // "NR arg1 arg2 ...", or "running" / "-1 ..." when not in a system call.
    const [nr, arg1] = line.trim().split(' ');
    if (nr !== undefined && /^\d+$/.test(nr) && arg1 !== undefined && Number(arg1) === fd) n++;
  }
  return n;
}

/**
 * True once the kernel holds a read for this TUN device: on io_uring more
 * reads parked in the rings than `ringReadsBefore` (armedRingReads() taken
 * before the device was opened); on the poll backend, its fd in the loop's
 * epoll set.
 */
export function readArmed(dev: { fd: number; backend: string }, ringReadsBefore: number): boolean {
  return dev.backend === 'poll' ? epollWatches(dev.fd) : armedRingReads() > ringReadsBefore;
}
