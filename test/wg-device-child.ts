/**
 * One end of the WireGuard namespace tests: run inside a network namespace
 * (`ip netns exec NS node wg-device-child.js CONFIG`), it creates a
 * WireGuard device with its TUN interface there, gives the interface its
 * address and brings it up, then answers on stdin/stdout:
 *
 *   READY {"port":...,"backend":{...},"publicKey":...}   once it runs
 *   stats   -> STATS <WireGuardStats as JSON>
 *   config  -> CONFIG <getConfig() as JSON>
 *   close   -> CLOSED, then it exits 0
 *   HANDSHAKE / ROAM / ERROR <json>   as the device emits them
 *
 * CONFIG is JSON: { ifname, address (CIDR), privateKey (base64),
 * listenPort, backend, tunBackend, peers: WireGuardPeerOptions[] }.
 */
import { execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createWireGuard, type WireGuardOptions } from '../src/index.js';

interface ChildConfig extends WireGuardOptions {
  ifname: string;
  address: string;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const say = (line: string): void => void process.stdout.write(`${line}\n`);

const { ifname, address, ...options } = cfg;
const dev = await createWireGuard({ ...options, interface: ifname, quiet: true });
dev.on('handshake', (e) => say(`HANDSHAKE ${JSON.stringify(e)}`));
dev.on('roam', (e) => say(`ROAM ${JSON.stringify(e)}`));
dev.on('error', (e: Error) => say(`ERROR ${JSON.stringify({ message: e.message, code: (e as { code?: string }).code })}`));
execFileSync('ip', ['addr', 'add', address, 'dev', ifname]);
execFileSync('ip', ['link', 'set', ifname, 'up']);
say(`READY ${JSON.stringify({ port: dev.listenPort, backend: dev.backend, publicKey: dev.publicKey })}`);

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'stats') say(`STATS ${JSON.stringify(dev.stats())}`);
  else if (cmd === 'config') say(`CONFIG ${JSON.stringify(dev.getConfig())}`);
  else if (cmd === 'close') {
    rl.close();
    void dev.close().then(() => {
      say('CLOSED');
      process.exit(0);
    });
  }
});
// The parent went away: do not linger in the namespace.
rl.on('close', () => {
  if (dev.isOpen) void dev.close().then(() => process.exit(0));
});
