/**
 * `iouring-net tunnel` at both ends of a NetPair (10.236.0.1 <-> 10.236.0.2
 * inside, UDP port 7000 on the veth outside), for bench/tunnel.ts and
 * bench/wireguard.ts. Resolves once both interfaces have their addresses.
 */
import { execFileSync } from 'node:child_process';
import { INNER, OUTER, type NetPair, type Running } from './netpair.js';

export async function startPlainTunnels(pair: NetPair, cli: string, backend: string, tunnels: Running[]): Promise<void> {
  for (const i of [0, 1] as const) {
    const args = ['tunnel', '--tun', 'iontun0', '--address', `${INNER[i]}/24`, '--listen', `${OUTER[i]}:7000`];
    args.push('--peer', `${OUTER[1 - i]}:7000`, '--backend', backend, '--quiet');
    tunnels.push(pair.start(i, [process.execPath, cli, ...args]));
  }
  // --quiet prints no startup line: the interface with its address tells.
  for (const i of [0, 1] as const) {
    const ns = pair.names[i];
    const deadline = Date.now() + 20_000;
    while (!/10\.236\.0\./.test(execFileSync('ip', ['-n', ns, '-o', 'addr', 'show'], { encoding: 'utf8' }))) {
      if (Date.now() > deadline || tunnels[i]?.child.exitCode !== null) throw new Error(`tunnel ${backend} did not start:\n${tunnels[i]?.output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
