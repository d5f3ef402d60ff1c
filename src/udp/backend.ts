/**
 * The UDP backend choice (io_uring -> mmsg -> dgram), made from the shared
 * rules in core/backend.ts; node:dgram's driver is a UDP-only backend, so the
 * choice that can return it lives here, above core.
 */
import { loadBinding } from '../core/binding.js';
import { requested, ringReason, unavailable, warnOnce, type Selection, type SelectOptions } from '../core/backend.js';
import { reactorFor } from '../core/reactor.js';
import { dgramDriver } from './dgram-driver.js';

/** Choose the backend for a new socket. */
export function selectBackend(opts: SelectOptions, what: string): Selection {
  const want = requested(opts.backend);
  if (want === 'dgram') return { backend: 'dgram', reactor: reactorFor(dgramDriver()) };
  const { binding, error } = loadBinding();
  if (!binding) {
    const why = error?.message ?? 'the addon is not built';
    if (want !== 'auto') throw unavailable(want, why);
    warnOnce(opts, `not using io_uring or recvmmsg for ${what}: ${why}; using node:dgram`);
    return { backend: 'dgram', reactor: reactorFor(dgramDriver()) };
  }
  const reactor = reactorFor(binding);
  if (want === 'mmsg') return { backend: 'mmsg', reactor };
  const reason = ringReason(reactor);
  if (reason === null) return { backend: 'io_uring', reactor };
  if (want === 'io_uring') throw unavailable('io_uring', reason);
  warnOnce(opts, `not using io_uring for ${what}: ${reason}; using recvmmsg/sendmmsg`);
  return { backend: 'mmsg', reactor };
}
