/**
 * The one place that decides which backend moves packets. Today only the
 * io_uring backend exists; the recvmmsg/sendmmsg and node:dgram backends
 * (see the fallback issue) plug in here, so callers never choose.
 */
import { loadBinding } from './binding.js';
import { CodedError } from './errors.js';
import { probe } from './probe.js';
import { reactorFor, type Reactor } from './reactor.js';

export type BackendName = 'io_uring';

let cachedReason: string | null | undefined;

/** This thread's io_uring reactor, or an error saying why there is none. */
export function ioUringReactor(): Reactor {
  const { binding, error } = loadBinding();
  if (!binding) throw new CodedError('ERR_IOURING_UNAVAILABLE', `io_uring backend unavailable: ${error?.message}`);
  if (cachedReason === undefined) {
    const p = probe();
    cachedReason = p.available ? null : p.reason;
  }
  if (cachedReason !== null) throw new CodedError('ERR_IOURING_UNAVAILABLE', `io_uring backend unavailable: ${cachedReason}`);
  return reactorFor(binding);
}
