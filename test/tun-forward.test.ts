/**
 * The tunnel's native forwarders and the TUN offload paths under the ASan
 * addon (scripts/test-asan-addon.sh runs tun-*.test.ts, and the tunnel
 * processes inherit its environment): a smaller run of
 * tunnel-offload-run.ts, 20 MB each way with IPv6 TCP, UDP round trips and
 * ping alongside, offloads on both sides, on one side only (native
 * forwarding there) and on neither (the JS path), on the TUN
 * backend of this run (io_uring, or poll with IOURING_NET_BACKEND=mmsg,
 * which also puts the tunnels' UDP sockets on the mmsg backend). Skips
 * (saying why) when not root or without `ip`/`ping`.
 */
import { test } from 'node:test';
import { FILE_BACKEND } from './helpers.js';
import { tunSkipReason } from './netns.js';
import { runOffloadCase } from './tunnel-offload-run.js';

const skip = tunSkipReason(['ping']);

for (const offload of [['on', 'on'], ['off', 'on'], ['off', 'off']] as const) {
  test(`20 MB each way through tunnels (offloads ${offload.join('/')}, TUN ${FILE_BACKEND})`, { skip, timeout: 300_000 }, async () => {
    await runOffloadCase({ tunBackend: FILE_BACKEND, offload: [offload[0], offload[1]], bytes: 20_000_000, bytes6: 5_000_000 }, (line) =>
      console.log(line),
    );
  });
}
