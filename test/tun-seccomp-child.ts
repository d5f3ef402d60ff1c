/**
 * Child script for test/tun-seccomp.test.ts, run under seccomp-run (io_uring
 * refused). With `file PATH`: writes and reads PATH through openFile(). With
 * `tun NETNS IFNAME`: opens a TUN device, moves it into the (parent's)
 * namespace with 10.83.0.1/24, answers echo requests from JS while `ping
 * 10.83.0.2` runs there, then closes it. Prints one line of JSON (Report);
 * the test decides what is right.
 */
import { netdev, openFile, openTun, type PacketBatch } from '../src/index.js';
import { execInNetns } from './netns.js';
import { echoReplyFor } from './tun-packets.js';

export interface Report {
  backend?: string;
  readMode?: string;
  /** file: what was read back. */
  data?: string;
  /** tun: ping's exit code and output, echo requests answered. */
  pingCode?: number | null;
  pingOutput?: string;
  requests?: number;
  error?: string;
}

async function fileCase(path: string): Promise<Report> {
  const f = openFile(path, { flags: 'w+' });
  await f.write('through poll', 0);
  const data = (await f.read(64, 0)).toString();
  await f.close();
  return { backend: f.backend, data };
}

async function tunCase(netns: string, name: string): Promise<Report> {
  const dev = openTun({ name });
  try {
    netdev.moveToNetns(name, netns);
    netdev.addAddress(name, '10.83.0.1/24', { netns });
    netdev.linkUp(name, { netns });
    let requests = 0;
    dev.onBatch = (b: PacketBatch) => {
      for (let i = 0; i < b.length; i++) {
        const reply = echoReplyFor(b.data(i));
        if (!reply) continue;
        requests++;
        dev.write(reply);
      }
    };
    const r = await execInNetns(netns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.83.0.2'], 20_000);
    return { backend: dev.backend, readMode: dev.readMode, pingCode: r.code, pingOutput: r.stdout + r.stderr, requests };
  } finally {
    await new Promise<void>((resolve) => dev.close(resolve));
  }
}

const [what = '', a = '', b = ''] = process.argv.slice(2);
let report: Report;
try {
  report = what === 'file' ? await fileCase(a) : await tunCase(a, b);
} catch (err) {
  report = { error: `${(err as { code?: string }).code ?? ''} ${(err as Error).message}` };
}
process.stdout.write(`${JSON.stringify(report)}\n`);
