/**
 * Child script for the exit tests: opens sockets, keeps traffic in flight,
 * then ends the way argv[2] says. The parent measures how long exit takes.
 */
import { open } from './helpers.js';

const how = process.argv[2];
const a = await open({ type: 'udp4', address: '127.0.0.1', onBatch: () => {} });
const b = await open({ type: 'udp4', address: '127.0.0.1', onBatch: () => {} });
const port = a.address().port;
for (let i = 0; i < 200; i++) b.send(Buffer.alloc(512), port, '127.0.0.1');
setTimeout(() => {
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
}, 50);
