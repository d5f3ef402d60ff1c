/** Worker body for the worker_threads test: an echo round trip on its own ring. */
import { parentPort, workerData } from 'node:worker_threads';
import type { UdpSocket } from '../src/index.js';
import { open } from './helpers.js';

const mode = (workerData as { mode: string }).mode;
let got = 0;
const srv: UdpSocket = await open({
  type: 'udp4',
  address: '127.0.0.1',
  onBatch: (b) => {
    for (let i = 0; i < b.length; i++) srv.reply(b, i);
  },
});
const cli = await open({
  type: 'udp4',
  address: '127.0.0.1',
  onBatch: (b) => {
    got += b.length;
    if (got === 100) {
      // Enters of this thread's ring while the datagrams went to and fro.
      parentPort!.postMessage({ got, enters: cli.stats().enters - enters0 });
      if (mode === 'close') {
        srv.close();
        cli.close();
      }
    }
  },
});
const enters0 = cli.stats().enters;
const ep = cli.endpoint('127.0.0.1', srv.address().port);
for (let i = 0; i < 100; i++) cli.sendTo(Buffer.from(`w${i}`), ep);
