/**
 * Child for the multicast test, run inside a network namespace whose
 * loopback carries multicast: joins a group (any-source, then
 * source-specific) through the node:dgram layer, sends to it, and prints
 * one JSON line with what arrived.
 */
import { createSocket } from '../src/dgram/socket.js';

const GROUP = '239.255.7.7';
const SSM_GROUP = '232.7.7.7';

function receiveOnce(group: string, ssm: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const rx = createSocket({ type: 'udp4', reuseAddr: true });
    const tx = createSocket('udp4');
    const timer = setTimeout(() => reject(new Error(`nothing arrived for ${group}`)), 5000);
    rx.on('message', (msg) => {
      clearTimeout(timer);
      if (ssm) rx.dropSourceSpecificMembership('127.0.0.1', group, '127.0.0.1');
      else rx.dropMembership(group, '127.0.0.1');
      rx.close();
      tx.close();
      resolve(msg.toString());
    });
    rx.bind(0, () => {
      if (ssm) rx.addSourceSpecificMembership('127.0.0.1', group, '127.0.0.1');
      else rx.addMembership(group, '127.0.0.1');
      tx.bind(0, '127.0.0.1', () => {
        tx.setMulticastInterface('127.0.0.1');
        tx.setMulticastLoopback(true);
        tx.send(`to ${group}`, rx.address().port, group);
      });
    });
  });
}

const any = await receiveOnce(GROUP, false);
const ssm = await receiveOnce(SSM_GROUP, true);
process.stdout.write(`${JSON.stringify({ any, ssm })}\n`);
