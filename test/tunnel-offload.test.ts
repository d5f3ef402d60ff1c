/**
 * End to end with TUN offloads: the tunnel CLI in two namespaces, 1 GB of
 * TCP each way at once (sha256 equal at both ends) with IPv6 TCP, UDP round
 * trips and ping alongside (tunnel-offload-run.ts), for offloads on one
 * side and off on the other and on both, on the io_uring and poll TUN
 * backends. Skips (saying why) when not root or without `ip`/`ping`.
 *
 * Size: IOURING_NET_TEST_TUNNEL_BYTES overrides the 1 GB (e.g. on a slow
 * CI machine; the run prints what it used).
 */
import { test } from 'node:test';
import { tunSkipReason } from './netns.js';
import { runOffloadCase, type OffloadRun } from './tunnel-offload-run.js';

const skip = tunSkipReason(['ping']);
const BYTES = Number(process.env.IOURING_NET_TEST_TUNNEL_BYTES ?? 1_000_000_000);
const cases: OffloadRun[] = [
  { tunBackend: 'io_uring', offload: ['on', 'off'], bytes: BYTES, bytes6: 100_000_000 },
  { tunBackend: 'io_uring', offload: ['on', 'on'], bytes: BYTES, bytes6: 100_000_000 },
  { tunBackend: 'poll', offload: ['off', 'on'], bytes: BYTES, bytes6: 100_000_000 },
  { tunBackend: 'poll', offload: ['on', 'on'], bytes: BYTES, bytes6: 100_000_000 },
];

for (const c of cases) {
  const label = `TUN ${c.tunBackend}, offloads ${c.offload[0]} (A) / ${c.offload[1]} (B)`;
  test(`${BYTES >= 1e9 ? `${BYTES / 1e9} GB` : `${BYTES / 1e6} MB`} of TCP each way through the tunnel, with IPv6, UDP and ping alongside (${label})`, { skip, timeout: 600_000 }, async () => {
    await runOffloadCase(c, (line) => console.log(line));
  });
}
