/**
 * Child script for the exit tests: opens sockets, sends a burst, and on
 * the first batch received sends another burst and ends the way argv[2]
 * says on the next turn (the burst's sends then reached the kernel; more
 * are in flight or queued, and the receive stays armed). Prints 'traffic'
 * first. The parent checks that it exits by itself, with the right status.
 */
import { open } from './helpers.js';

const how = process.argv[2];
let ended = false;
const a = await open({
  type: 'udp4',
  address: '127.0.0.1',
  onBatch: () => {
    if (ended) return;
    ended = true;
    for (let i = 0; i < 200; i++) b.send(Buffer.alloc(512), port, '127.0.0.1');
    process.stdout.write('traffic\n');
    setImmediate(end);
  },
});
const b = await open({ type: 'udp4', address: '127.0.0.1', onBatch: () => {} });
const port = a.address().port;
for (let i = 0; i < 200; i++) b.send(Buffer.alloc(512), port, '127.0.0.1');

function end(): void {
  if (how === 'exit') process.exit(0);
  if (how === 'unref') {
    a.unref();
    b.unref();
  }
  if (how === 'close') {
    a.close();
    b.close();
  }
  if (how === 'throw') throw new Error('boom (expected by the test)');
}
