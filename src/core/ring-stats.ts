/**
 * Counters of a thread's ring, which every object on it shares: shown in
 * each UDP socket's and TUN device's stats() (reactorInfo in addon.c).
 */

/** Failed io_uring_enter calls of a thread's ring, by errno. */
export interface RingEnterErrors {
  /** The kernel had no memory for the requests (retried with backoff). */
  EAGAIN: number;
  /** Completions waited in the overflow list (reaped, then retried). */
  EBUSY: number;
  /** Completions were dropped (see lostCompletions). */
  EBADR: number;
  other: number;
}

export interface RingStats {
  /** io_uring_enter calls of this thread's ring (shared by its objects). */
  enters: number;
  /** Times the completion queue overflowed on this thread's ring. */
  cqOverflows: number;
  /** Times this thread's event loop woke for its ring (completions waiting). */
  wakeups: number;
  /** io_uring_enter calls of this thread's ring that failed, by errno (each retried). */
  enterErrors: RingEnterErrors;
  /** Times the kernel said it dropped completions (EBADR) on this thread's ring. */
  lostCompletions: number;
  /** Closing objects finished by the recovery after dropped completions. */
  recoveries: number;
  /** Live receives (multishot) re-armed because their final completion was among those dropped. */
  lostRearms: number;
}

/** RingStats from reactorInfo()'s list. */
export function ringStats(r: number[]): RingStats {
  const v = (i: number): number => r[i] ?? 0;
  return {
    enters: v(2),
    cqOverflows: v(3),
    wakeups: v(7),
    enterErrors: { EAGAIN: v(8), EBUSY: v(9), EBADR: v(10), other: v(11) },
    lostCompletions: v(12),
    recoveries: v(13),
    lostRearms: v(15),
  };
}
