/**
 * One end of the WireGuard namespace tests: run inside a network namespace
 * (`ip netns exec NS node wg-device-child.js CONFIG`), it creates a
 * WireGuard device with its TUN interface there, gives the interface its
 * address and brings it up, then answers on stdin/stdout:
 *
 *   READY {"port":...,"backend":{...},"publicKey":...,"thread":...}   once it runs
 *   stats   -> STATS <WireGuardStats as JSON>
 *   config  -> CONFIG <getConfig() as JSON>
 *   close   -> CLOSED, then it exits 0
 *   HANDSHAKE / ROAM / ERROR <json>   as the device emits them
 *
 * CONFIG is JSON: { ifname, address (CIDR), privateKey (base64),
 * listenPort, backend, tunBackend, peers: WireGuardPeerOptions[],
 * worker?: boolean }. With worker: true the device lives in a worker
 * thread (the process's namespace is the thread's too) and the main
 * thread only relays lines: what a program does to run devices on more
 * than one core.
 */
import { execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { isMainThread, parentPort, threadId, Worker, workerData } from 'node:worker_threads';
import { createWireGuard, type WireGuardOptions } from '../src/index.js';

interface ChildConfig extends WireGuardOptions {
  ifname: string;
  address: string;
  worker?: boolean;
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);

/** Run the device; `out` writes a line; returns the command handler and a close-if-open for when the parent goes away. */
async function runDevice(cfg: ChildConfig, out: (line: string) => void, done: () => void): Promise<{ command: (cmd: string) => void; orphaned: () => void }> {
  const { ifname, address, ...rest } = cfg;
  delete rest.worker; // ours, not a device option
  const dev = await createWireGuard({ ...rest, interface: ifname, quiet: true });
  dev.on('handshake', (e) => out(`HANDSHAKE ${JSON.stringify(e)}`));
  dev.on('roam', (e) => out(`ROAM ${JSON.stringify(e)}`));
  dev.on('error', (e: Error) => out(`ERROR ${JSON.stringify({ message: e.message, code: (e as { code?: string }).code })}`));
  execFileSync('ip', ['addr', 'add', address, 'dev', ifname]);
  execFileSync('ip', ['link', 'set', ifname, 'up']);
  out(`READY ${JSON.stringify({ port: dev.listenPort, backend: dev.backend, publicKey: dev.publicKey, thread: threadId })}`);
  return {
    command: (cmd) => {
      if (cmd === 'stats') out(`STATS ${JSON.stringify(dev.stats())}`);
      else if (cmd === 'config') out(`CONFIG ${JSON.stringify(dev.getConfig())}`);
      else if (cmd === 'close') {
        void dev.close().then(() => {
          out('CLOSED');
          done();
        });
      }
    },
    orphaned: () => {
      if (dev.isOpen) void dev.close().then(done);
    },
  };
}

if (!isMainThread) {
  // The worker: the device, with lines to and from the main thread.
  const port = parentPort;
  if (!port) throw new Error('no parentPort in a worker');
  const dev = await runDevice(workerData as ChildConfig, (line) => port.postMessage(line), () => port.postMessage({ exit: 0 }));
  port.on('message', (m: string | { orphaned: true }) => (typeof m === 'string' ? dev.command(m) : dev.orphaned()));
} else {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
  const rl = createInterface({ input: process.stdin });
  if (cfg.worker) {
    const worker = new Worker(new URL(import.meta.url), { workerData: cfg });
    worker.on('message', (m: string | { exit: number }) => (typeof m === 'string' ? say(m) : process.exit(m.exit)));
    worker.on('error', (e) => {
      say(`ERROR ${JSON.stringify({ message: `worker: ${e.message}` })}`);
      process.exit(1);
    });
    rl.on('line', (line) => worker.postMessage(line.trim()));
    // The parent went away: do not linger in the namespace.
    rl.on('close', () => worker.postMessage({ orphaned: true }));
  } else {
    const dev = await runDevice(cfg, say, () => process.exit(0));
    rl.on('line', (line) => {
      const cmd = line.trim();
      if (cmd === 'close') rl.close();
      dev.command(cmd);
    });
    rl.on('close', () => dev.orphaned());
  }
}
