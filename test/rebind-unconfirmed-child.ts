/**
 * Run inside a network namespace whose loopback interface is down
 * (test/tunnel-rebind-count.test.ts): a tunnel listening on 10.244.0.1 (an
 * address of veth0 here) rebinds once. Its end marker, sent to its own
 * address, needs the loopback and never comes back, so the rebind must be
 * counted as unconfirmed. Prints the tunnel's stats as one JSON line.
 */
import { createTunnel } from '../src/index.js';

async function main(): Promise<void> {
  const tunnel = await createTunnel({ tun: { name: 'rbunconf0' }, listen: '10.244.0.1:0', peer: '10.244.0.2:7000', quiet: true });
  await tunnel.rebind();
  const s = tunnel.stats();
  await tunnel.close();
  process.stdout.write(`${JSON.stringify({ rebinds: s.rebinds, rebindsUnconfirmed: s.rebindsUnconfirmed, drops: s.drops })}\n`);
}

setTimeout(() => {
  process.stderr.write('rebind-unconfirmed-child: gave up after 60 s\n');
  process.exit(1);
}, 60_000).unref();
main().catch((err: unknown) => {
  process.stderr.write(`rebind-unconfirmed-child: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
