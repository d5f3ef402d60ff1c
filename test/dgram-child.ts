/**
 * Child process for test/dgram-layer.test.ts: process lifetime and uncaught
 * listener errors, which must not run inside the test runner's process.
 * Usage: node dgram-child.js <case>; prints lines the test checks.
 */
import { createSocket } from '../src/dgram/socket.js';

const which = process.argv[2];

function exitSoon(code: number): void {
  // A hang guard, unref'd so that it keeps nothing alive itself: fail
  // loudly rather than hang if a case does not end by itself (each ends
  // in well under a second when it works).
  setTimeout(() => {
    console.log('still alive');
    process.exit(code);
  }, 15_000).unref();
}

switch (which) {
  case 'bound-unref': {
    // A bound, unref'd socket does not keep the process alive.
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      s.unref();
      console.log('bound');
    });
    exitSoon(3);
    break;
  }
  case 'unref-before-bind': {
    const s = createSocket('udp4');
    s.unref();
    s.bind(0, '127.0.0.1', () => console.log('bound'));
    exitSoon(3);
    break;
  }
  case 'bound-ref': {
    // A bound socket keeps the process alive until it is closed.
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      console.log('bound');
      // Not a wait for anything: the timer is unref'd, so only the socket
      // can keep the process alive until it fires; 'closing' in the
      // output proves that it did.
      setTimeout(() => {
        console.log('closing');
        s.close();
      }, 200).unref();
    });
    exitSoon(3);
    break;
  }
  case 'unbound': {
    // An unbound socket keeps nothing alive (as in node:dgram).
    createSocket('udp4');
    console.log('created');
    exitSoon(3);
    break;
  }
  case 'listener-throws': {
    // A throwing 'message' listener is an uncaught exception; the other
    // datagrams of the same batch are still delivered.
    const rx = createSocket('udp4');
    const got: string[] = [];
    process.on('uncaughtException', (err) => {
      console.log(`uncaught ${err.message}`);
    });
    rx.on('message', (msg) => {
      got.push(msg.toString());
      if (msg.toString() === 'b') throw new Error('boom');
      if (got.length === 4) {
        console.log(`got ${got.join(',')}`);
        rx.close();
        tx.close();
      }
    });
    const tx = createSocket('udp4');
    rx.bind(0, '127.0.0.1', () => {
      for (const m of ['a', 'b', 'c', 'd']) tx.send(m, rx.address().port, '127.0.0.1');
    });
    exitSoon(3);
    break;
  }
  default:
    console.log(`unknown case ${which}`);
    process.exit(2);
}
