/**
 * Parity: every scenario runs against node:dgram and against iouring-net's
 * node:dgram layer in this process, and both must produce the same record
 * of events, callback arguments, return values and errors (see
 * dgram-harness.ts for what is recorded and how it is normalized).
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { defineParity, type Scenario, type Sock, type Trace } from './dgram-harness.js';
import { BACKEND } from './helpers.js';

const hasV6Loopback = Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === '::1'));

/** Bind and wait for the callback (bounded). */
function bindTo(t: Trace, s: Sock, port: unknown, address?: string): Promise<void> {
  return t.within(
    new Promise<void>((resolve) => {
      if (address === undefined) s.bind(port as number, () => resolve());
      else s.bind(port as number, address, () => resolve());
    }),
    'bind',
  );
}

/** A bound receiver whose messages go to channel ch; its port is named RX. */
async function receiver(t: Trace, ch = '~rx', type: 'udp4' | 'udp6' = 'udp4', address = type === 'udp4' ? '127.0.0.1' : '::1'): Promise<{ rx: Sock; port: number }> {
  const rx = t.watch(t.sock(type), ch, ['message', 'error']);
  await bindTo(t, rx, 0, address);
  return { rx, port: t.name(rx.address().port, 'RX') };
}

const enotfound = (host: string): Error =>
  Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { errno: -3008, code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: host });

/** A lookup option: literals as themselves, peer.test is 127.0.0.1, the rest fails. */
function fakeLookup(t: Trace): (host: string, family: number, cb: (err: Error | null, address: string, family: number) => void) => void {
  return (host, family, cb) => {
    t.log('lookup', host, family);
    if (isIP(host)) process.nextTick(cb, null, host, isIP(host));
    else if (host === 'peer.test') process.nextTick(cb, null, '127.0.0.1', 4);
    else process.nextTick(cb, enotfound(host), '', 0);
  };
}

const construction: Scenario[] = [
  {
    name: 'createSocket: argument validation',
    async run(t) {
      const cases: [string, unknown][] = [
        ['udp5', 'udp5'],
        ['no type', undefined],
        ['number', 5],
        ['empty options', {}],
        ['null', null],
        ['lookup not a function', { type: 'udp4', lookup: 5 }],
        ['lookup checked before type', { type: 'udp5', lookup: 5 }],
        ['signal not a signal', { type: 'udp4', signal: 5 }],
        ['recvBufferSize -1', { type: 'udp4', recvBufferSize: -1 }],
        ['recvBufferSize 1.5', { type: 'udp4', recvBufferSize: 1.5 }],
        ["recvBufferSize '5'", { type: 'udp4', recvBufferSize: '5' }],
        ['recvBufferSize 2**32', { type: 'udp4', recvBufferSize: 2 ** 32 }],
        ['recvBufferSize 1e11', { type: 'udp4', recvBufferSize: 1e11 }],
        ['recvBufferSize checked before type', { type: 'udp5', recvBufferSize: -1 }],
        ['sendBufferSize -1', { type: 'udp4', sendBufferSize: -1 }],
        ['recvBufferSize 0 is ignored', { type: 'udp4', recvBufferSize: 0 }],
        ['recvBufferSize NaN is ignored', { type: 'udp4', recvBufferSize: NaN }],
        ['flags are not validated', { type: 'udp6', ipv6Only: 'x', reuseAddr: 1 }],
        ['udp6', 'udp6'],
        ['options udp4', { type: 'udp4' }],
      ];
      for (const [label, arg] of cases) {
        t.call('c', label, () => {
          const s = t.track(t.api.createSocket(arg as 'udp4'));
          return s.type;
        });
      }
    },
  },
  {
    name: 'new Socket() and the createSocket message listener',
    async run(t) {
      const s = t.track(new t.api.Socket('udp4'));
      t.log('c', s instanceof t.api.Socket, s.type, Object.keys(s).filter((k) => !k.startsWith('_')));
      t.log('c', typeof s.bind, typeof s.send, typeof s[Symbol.asyncDispose]);
      const rx = t.sock('udp4', (msg, rinfo) => t.log('m', 'listener', msg, rinfo, Object.keys(rinfo)));
      await bindTo(t, rx, 0, '127.0.0.1');
      t.name(rx.address().port, 'RX');
      t.sock('udp4').send('hello', rx.address().port, '127.0.0.1');
      await t.entriesOn('m', 1);
    },
  },
];

const binding: Scenario[] = [
  {
    name: 'bind(): every signature',
    async run(t) {
      const forms: [string, (s: Sock, cb: () => void) => unknown][] = [
        ['bind(cb)', (s, cb) => s.bind(cb)],
        ['bind(0, cb)', (s, cb) => s.bind(0, cb)],
        ["bind(0, '127.0.0.1', cb)", (s, cb) => s.bind(0, '127.0.0.1', cb)],
        ["bind({ port: 0, address: '127.0.0.1' }, cb)", (s, cb) => s.bind({ port: 0, address: '127.0.0.1' }, cb)],
        ['bind({}, cb)', (s, cb) => s.bind({}, cb)],
        ['bind({ exclusive: true }, cb)', (s, cb) => s.bind({ exclusive: true }, cb)],
        ["bind(0, '', cb)", (s, cb) => s.bind(0, '', cb)],
        ["bind(0, 'localhost', cb)", (s, cb) => s.bind(0, 'localhost', cb)],
        ['bind({ fd: 0 }, cb): fd 0 is ignored', (s, cb) => s.bind({ fd: 0 }, cb)],
        ['bind(null, cb)', (s, cb) => s.bind(null as never, cb)],
        ["bind(0, '127.0.0.1', 5): last argument not a function", (s) => s.bind(0, '127.0.0.1', 5 as never)],
      ];
      for (const [label, fn] of forms) {
        const s = t.watch(t.sock('udp4'), label, ['listening', 'error']);
        const r = fn(s, () => t.log(label, 'callback', s.address()));
        t.log(label, 'returns this', r === s);
        await t.entriesOn(label, r === s ? 2 : 1);
        if (label.includes(', 5)')) t.log(label, s.address());
        t.log(label, 'listeners', s.listenerCount('listening'), s.listenerCount('error'));
      }
    },
  },
  {
    name: 'bind(): ports are converted like node:dgram (uint32, then 16 bits)',
    async run(t) {
      for (const p of [65536, 131072, '0', null, 'abc', -65536, '']) {
        const label = `bind(${JSON.stringify(p)})`;
        const s = t.watch(t.sock('udp4'), label, ['listening', 'error']);
        s.bind(p as number, '127.0.0.1');
        await t.entriesOn(label, 1);
        t.log(label, s.address());
      }
      // A free port plus 65536 binds that port.
      const tmp = t.sock('udp4');
      await bindTo(t, tmp, 0, '127.0.0.1');
      const free = t.name(tmp.address().port, 'FREE');
      await t.within(new Promise<void>((r) => tmp.close(r)), 'close');
      const s = t.watch(t.sock('udp4'), 'wrap', ['listening', 'error']);
      s.bind(free + 65536, '127.0.0.1');
      await t.entriesOn('wrap', 1);
      t.log('wrap', s.address());
    },
  },
  {
    name: 'bind(): twice, after close, close twice',
    async run(t) {
      const a = t.watch(t.sock('udp4'), 'a');
      t.call('a', 'bind', () => a.bind(0, '127.0.0.1') === a);
      t.call('a', 'bind again while binding', () => a.bind(0));
      await t.entriesOn('a', 3);
      t.call('a', 'bind again when bound', () => a.bind(0));
      const b = t.watch(t.sock('udp4'), 'b');
      t.call('b', 'close', () => b.close(t.cb('b', 'close cb 1')) === b);
      t.call('b', 'bind after close', () => b.bind(0));
      t.call('b', 'close again', () => b.close(t.cb('b', 'close cb 2')));
      await t.entriesOn('b', 6);
    },
  },
  {
    name: 'bind(): port in use emits error; the socket may bind again',
    async run(t) {
      const a = t.sock('udp4');
      await bindTo(t, a, 0, '127.0.0.1');
      const port = t.name(a.address().port, 'A');
      const b = t.watch(t.sock('udp4'), 'b');
      b.bind(port, '127.0.0.1');
      await t.entriesOn('b', 1);
      t.call('b', 'address() after failed bind', () => b.address());
      t.call('b', 'bind again', () => b.bind(0, '127.0.0.1') === b);
      await t.entriesOn('b', 4);
      // With a callback and no 'error' listener the failure is swallowed.
      const c = t.watch(t.sock('udp4'), 'c', ['listening']);
      c.bind(port, '127.0.0.1', t.cb('c', 'callback'));
      await t.settle();
      t.log('c', 'listeners', c.listenerCount('error'), c.listenerCount('listening'));
    },
  },
  {
    name: 'bind(): closing a socket frees its port for an immediate rebind',
    async run(t) {
      const a = t.watch(t.sock('udp4'), 'a', ['close', 'error']);
      await bindTo(t, a, 0, '127.0.0.1');
      const port = t.name(a.address().port, 'P');
      a.close();
      const b = t.watch(t.sock('udp4'), 'b', ['listening', 'error']);
      b.bind(port, '127.0.0.1', () => t.log('b', 'bound to', b.address()));
      await t.entriesOn('b', 2);
      await t.entriesOn('a', 1);
    },
  },
  {
    name: 'bind(): bad addresses',
    async run(t) {
      const a = t.watch(t.sock('udp4'), 'a');
      t.call('a', 'address 5', () => a.bind(0, 5 as never));
      t.call('a', 'bind again: still binding', () => a.bind(0));
      const b = t.watch(t.sock('udp4'), 'b');
      b.bind(0, '::1');
      await t.entriesOn('b', 1);
      t.call('b', 'address() after a family mismatch', () => b.address());
      const c = t.watch(t.sock('udp6'), 'c');
      c.bind(0, '127.0.0.1');
      await t.entriesOn('c', 1);
      t.call('c', 'bind again', () => c.bind(0, '::1') === c);
      await t.entriesOn('c', 3);
      const d = t.watch(t.sock({ type: 'udp4', lookup: fakeLookup(t) }), 'd');
      d.bind(0, 'nope.test');
      await t.entriesOn('d', 1);
      t.call('d', 'bind again after lookup failure', () => d.bind(0, 'peer.test') === d);
      await t.entriesOn('d', 3);
      t.log('d', d.address());
    },
  },
  {
    name: 'bind(): close while binding',
    async run(t) {
      const a = t.watch(t.sock('udp4'), 'a');
      a.bind(0, '127.0.0.1');
      a.close(t.cb('a', 'close cb'));
      await t.entriesOn('a', 2);
      await t.settle();
    },
  },
  {
    name: "bind(): 'listening' comes from dns.lookup's tick",
    notOn: { dgram: "the dgram backend binds node:dgram's socket after ours, so 'listening' comes later" },
    async run(t) {
      const s = t.watch(t.sock('udp4'), 'o', ['listening']);
      s.bind(0, '127.0.0.1');
      process.nextTick(() => t.log('o', 'tick'));
      queueMicrotask(() => t.log('o', 'microtask'));
      setImmediate(() => t.log('o', 'immediate'));
      await t.entriesOn('o', 4);
    },
  },
];

const sending: Scenario[] = [
  {
    name: 'send(): every form, on an unbound socket (implicit bind)',
    async run(t) {
      const { port } = await receiver(t);
      const tx = t.watch(t.sock('udp4'), 'tx', ['listening', 'error']);
      const forms: [string, () => unknown][] = [
        ['(string, port, address, cb)', () => tx.send('a', port, '127.0.0.1', t.cb('~cb', 'a'))],
        ['(Buffer, port, cb): loopback by default', () => tx.send(Buffer.from('b'), port, t.cb('~cb', 'b'))],
        ['(Buffer, port, undefined, cb)', () => tx.send(Buffer.from('c'), port, undefined, t.cb('~cb', 'c'))],
        ["(Buffer, port, '', cb)", () => tx.send(Buffer.from('d'), port, '', t.cb('~cb', 'd'))],
        ['(Buffer, offset, length, port, address, cb)', () => tx.send(Buffer.from('xxeexx'), 2, 2, port, '127.0.0.1', t.cb('~cb', 'e'))],
        ['(string, offset, length, port, cb)', () => tx.send('xfff', 1, 3, port, t.cb('~cb', 'f'))],
        ['(Uint16Array, port, address, cb)', () => tx.send(new Uint16Array([0x6767, 0x6767]), port, '127.0.0.1', t.cb('~cb', 'g'))],
        ['(Uint16Array, offset, length, ...)', () => tx.send(new Uint16Array([0x6868, 0x6868]), 1, 2, port, '127.0.0.1', t.cb('~cb', 'h'))],
        ['(DataView, ...)', () => tx.send(new DataView(new Uint8Array([105, 105, 105]).buffer), port, '127.0.0.1', t.cb('~cb', 'i'))],
        ['([chunks], ...)', () => tx.send(['j', Buffer.from('jj'), new Uint8Array([106])], port, '127.0.0.1', t.cb('~cb', 'j'))],
        ['([], ...): an empty datagram', () => tx.send([], port, '127.0.0.1', t.cb('~cb', 'k'))],
        ['(empty Buffer, ...)', () => tx.send(Buffer.alloc(0), port, '127.0.0.1', t.cb('~cb', 'l'))],
        ['port as a string', () => tx.send('m', String(port), '127.0.0.1', t.cb('~cb', 'm'))],
        ['port as a padded string', () => tx.send('n', ` ${port} `, '127.0.0.1', t.cb('~cb', 'n'))],
        ["'localhost'", () => tx.send('o', port, 'localhost', t.cb('~cb', 'o'))],
        ['no callback', () => tx.send('p', port, '127.0.0.1')],
        ['callback not a function is ignored', () => tx.send('q', 0, 1, port, '127.0.0.1', 5 as never)],
        ['offset/length as strings', () => tx.send('xrx', '1' as never, '1' as never, port, '127.0.0.1', t.cb('~cb', 'r'))],
        ['offset/length not numbers: empty', () => tx.send('sss', 'x' as never, 'y' as never, port, '127.0.0.1', t.cb('~cb', 's'))],
      ];
      for (const [label, fn] of forms) t.call('calls', label, fn);
      await t.entriesOn('~rx', forms.length);
      await t.entriesOn('~cb', forms.length - 2);
      await t.settle();
      t.log('tx', 'bound', tx.address().address);
    },
  },
  {
    name: 'send(): argument errors are thrown synchronously',
    async run(t) {
      const { port } = await receiver(t);
      const tx = t.watch(t.sock('udp4'), 'tx');
      const bad: [string, () => unknown][] = [
        ['number payload', () => tx.send(5 as never, port, '127.0.0.1')],
        ['null payload', () => tx.send(null as never, port, '127.0.0.1')],
        ['ArrayBuffer payload', () => tx.send(new ArrayBuffer(3) as never, port, '127.0.0.1')],
        ['list with a number', () => tx.send(['a', 5] as never, port, '127.0.0.1')],
        ['list with offset/length', () => tx.send(['ab'] as never, 0, 1, port, '127.0.0.1')],
        ['port 0', () => tx.send('x', 0, '127.0.0.1')],
        ['port 65536', () => tx.send('x', 65536, '127.0.0.1')],
        ['port 1.5', () => tx.send('x', 1.5, '127.0.0.1')],
        ['port -1', () => tx.send('x', -1, '127.0.0.1')],
        ['port missing', () => tx.send('x')],
        ["port ''", () => tx.send('x', '', '127.0.0.1')],
        ['port object', () => tx.send('x', {} as never, '127.0.0.1')],
        ['address 5', () => tx.send('x', port, 5 as never)],
        ['offset out of bounds', () => tx.send(Buffer.alloc(4), 5, 1, port, '127.0.0.1')],
        ['length out of bounds', () => tx.send(Buffer.alloc(4), 1, 4, port, '127.0.0.1')],
        ['negative offset', () => tx.send('xyz', -1, 1, port, '127.0.0.1')],
        ['4 arguments with a non-function last', () => tx.send('hi', port, '127.0.0.1', 5 as never)],
        ['function as address', () => tx.send('x', port, (() => undefined) as never, 'ignored' as never)],
      ];
      for (const [label, fn] of bad) t.call('calls', label, fn);
      await t.settle();
      t.log('calls', 'still unbound', (() => {
        try {
          return tx.address();
        } catch (e) {
          return e;
        }
      })());
    },
  },
  {
    name: 'send(): errors the kernel reports (EMSGSIZE, wrong family), with and without callback',
    async run(t) {
      const { port } = await receiver(t);
      const tx = t.watch(t.sock('udp4'), 'tx');
      await bindTo(t, tx, 0, '127.0.0.1');
      tx.send(Buffer.alloc(65508), port, '127.0.0.1', t.cb('s', 'too big'));
      tx.send(Buffer.alloc(65508), port, '127.0.0.1');
      tx.send(Buffer.alloc(70000), port, t.cb('s', 'too big, default address'));
      tx.send('x', port, '::1', t.cb('s', 'IPv6 on udp4'));
      tx.send('x', port, '::1');
      tx.send(Buffer.alloc(65507, 1), port, '127.0.0.1', t.cb('s', 'largest'));
      await t.entriesOn('s', 4);
      await t.entriesOn('~rx', 1);
      await t.settle();
    },
  },
  {
    name: 'send(): IPv4 destination on a udp6 socket is EINVAL; v4-mapped works',
    async run(t) {
      if (!hasV6Loopback) return;
      const { port } = await receiver(t, '~rx', 'udp6', '::');
      const tx = t.watch(t.sock('udp6'), 'tx');
      tx.send('a', port, '127.0.0.1', t.cb('s', 'v4 literal'));
      await t.entriesOn('s', 1);
      tx.send('b', port, '::ffff:127.0.0.1', t.cb('s', 'v4-mapped'));
      tx.send('c', port, t.cb('s', 'default ::1'));
      await t.entriesOn('s', 3);
      await t.entriesOn('~rx', 2);
    },
  },
  {
    name: 'send(): use after close, and close right after send',
    async run(t) {
      const { port } = await receiver(t);
      const a = t.watch(t.sock('udp4'), 'a');
      a.close();
      t.call('a', 'send after close', () => a.send('x', port, '127.0.0.1', t.cb('a', 'cb')));
      await t.entriesOn('a', 2);
      // Bound: a send in the same tick as close() is dropped, no callback.
      const b = t.watch(t.sock('udp4'), 'b');
      await bindTo(t, b, 0, '127.0.0.1');
      b.send('y', port, '127.0.0.1', t.cb('b', 'send cb'));
      b.close();
      await t.entriesOn('b', 2);
      // Unbound: send and close wait for the implicit bind, then the send is dropped.
      const c = t.watch(t.sock('udp4'), 'c');
      c.send('z', port, '127.0.0.1', t.cb('c', 'send cb'));
      c.close(t.cb('c', 'close cb'));
      t.call('c', 'getSendQueueCount while binding', () => c.getSendQueueCount());
      await t.entriesOn('c', 4);
      await t.settle();
    },
  },
  {
    name: 'send() then close(): dropped in the same tick; sent if close() is a tick later or the socket connected',
    async run(t) {
      const { port } = await receiver(t);
      const a = t.sock('udp4');
      await bindTo(t, a, 0, '127.0.0.1');
      a.send('same tick', port, '127.0.0.1');
      a.close();
      const b = t.sock('udp4');
      await bindTo(t, b, 0, '127.0.0.1');
      b.send('closed a tick later', port, '127.0.0.1');
      process.nextTick(() => b.close());
      const c = t.sock('udp4');
      await t.within(new Promise<void>((r) => c.connect(port, '127.0.0.1', () => r())), 'connect');
      c.send('connected');
      c.close();
      // The same from 'message' listeners: replying, then closing at once or a tick later.
      const pinger = t.watch(t.sock('udp4'), '~pong', ['message']);
      await bindTo(t, pinger, 0, '127.0.0.1');
      t.name(pinger.address().port, 'PINGER');
      for (const [label, later] of [['reply, close a tick later', true], ['reply, close at once', false]] as const) {
        const echo = t.sock('udp4');
        echo.on('message', (_m, rinfo) => {
          echo.send(label, rinfo.port, rinfo.address);
          if (later) process.nextTick(() => echo.close());
          else echo.close();
        });
        await bindTo(t, echo, 0, '127.0.0.1');
        t.name(echo.address().port, later ? 'ECHO1' : 'ECHO2');
        pinger.send('ping', echo.address().port, '127.0.0.1');
      }
      await t.entriesOn('~rx', 2);
      await t.entriesOn('~pong', 1);
      await t.settle(); // a marker round trip: no second pong came before it
    },
  },
  {
    name: 'send(): host names go through the lookup option',
    async run(t) {
      const { port } = await receiver(t);
      const tx = t.watch(t.sock({ type: 'udp4', lookup: fakeLookup(t) }), 'tx');
      tx.send('a', port, 'peer.test', t.cb('s', 'peer.test'));
      await t.entriesOn('s', 1);
      tx.send('b', port, '127.0.0.1', t.cb('s', 'literal'));
      tx.send('c', port, t.cb('s', 'default'));
      await t.entriesOn('s', 3);
      tx.send('d', port, 'nope.test', t.cb('s', 'unknown host'));
      await t.entriesOn('s', 4);
      tx.send('e', port, 'nope.test');
      await t.entriesOn('tx', 2);
      await t.entriesOn('~rx', 3);
    },
  },
  {
    name: 'sendto(): the legacy form',
    async run(t) {
      const { port } = await receiver(t);
      const tx = t.watch(t.sock('udp4'), 'tx', ['error']);
      t.call('c', 'sendto', () => tx.sendto('xabc', 1, 2, port, '127.0.0.1', t.cb('s', 'cb')));
      t.call('c', 'no address', () => tx.sendto('x', 0, 1, port, undefined as never));
      t.call('c', 'offset string', () => tx.sendto('x', '0' as never, 1, port, '127.0.0.1'));
      await t.entriesOn('s', 1);
      await t.entriesOn('~rx', 1);
    },
  },
];

const connecting: Scenario[] = [
  {
    name: 'connect(): implicit bind, connect event, send without address, remoteAddress',
    async run(t) {
      const { port } = await receiver(t);
      const s = t.watch(t.sock('udp4'), 's');
      t.call('s', 'connect', () => s.connect(port, '127.0.0.1', t.cb('s', 'connect cb')));
      t.call('s', 'remoteAddress while connecting', () => s.remoteAddress());
      t.call('s', 'disconnect while connecting', () => s.disconnect());
      t.call('s', 'connect again while connecting', () => s.connect(port));
      t.call('s', 'send without port while connecting', () => s.send('x'));
      await t.entriesOn('s', 8);
      t.call('s', 'remoteAddress', () => s.remoteAddress());
      t.call('s', 'connect again', () => s.connect(port));
      s.send('one', t.cb('s', 'send cb'));
      s.send('xtwox', 1, 3, t.cb('s', 'send cb'));
      s.send('xthreex', 1, 5);
      s.send(['fo', 'ur'], t.cb('s', 'send cb'));
      t.call('s', '6-argument form with a port', () => s.send('x', 0, 1, port, '127.0.0.1'));
      t.call('s', "3-argument form: 'port' is taken as the callback", () => s.send('five', port, '127.0.0.1'));
      await t.entriesOn('~rx', 5);
      await t.settle();
      t.call('s', 'disconnect', () => s.disconnect());
      t.call('s', 'remoteAddress after disconnect', () => s.remoteAddress());
      t.call('s', 'disconnect twice', () => s.disconnect());
      t.call('s', 'send without address after disconnect', () => s.send('six'));
      s.send('seven', port, '127.0.0.1', t.cb('s', 'send cb'));
      await t.entriesOn('~rx', 6);
      await t.settle();
    },
  },
  {
    name: 'connect(): argument errors and lookup failures',
    async run(t) {
      const s = t.watch(t.sock({ type: 'udp4', lookup: fakeLookup(t) }), 's');
      for (const [label, fn] of [
        ['port 0', () => s.connect(0)],
        ["port 'x'", () => s.connect('x' as never)],
        ['port 70000', () => s.connect(70000)],
        ['address 5', () => s.connect(9, 5 as never)],
      ] as [string, () => unknown][]) {
        t.call('c', label, fn);
      }
      s.connect(9, 'nope.test', t.cb('s', 'connect cb'));
      await t.entriesOn('s', 2);
      s.connect(9, 'nope.test');
      await t.entriesOn('s', 3);
      s.connect(9, 'peer.test', t.cb('s', 'connect cb'));
      await t.entriesOn('s', 5);
      t.log('s', s.remoteAddress());
    },
  },
  {
    name: 'connect(): wrong family is EINVAL; connect(port) defaults to loopback',
    async run(t) {
      const { port } = await receiver(t);
      const a = t.watch(t.sock('udp4'), 'a');
      a.connect(port, '::1', t.cb('a', 'connect cb'));
      await t.entriesOn('a', 2);
      t.call('a', 'remoteAddress', () => a.remoteAddress());
      const b = t.watch(t.sock('udp4'), 'b');
      b.connect(port, t.cb('b', 'connect cb'));
      await t.entriesOn('b', 3);
      t.log('b', b.remoteAddress());
      if (hasV6Loopback) {
        const c = t.watch(t.sock('udp6'), 'c');
        c.connect(port, '127.0.0.1', t.cb('c', 'connect cb'));
        await t.entriesOn('c', 2);
      }
    },
  },
  {
    name: 'connect(): a connected socket gets only its peer; ECONNREFUSED is a recvmsg error',
    async run(t) {
      const { rx, port } = await receiver(t, 'rx');
      const peer = t.sock('udp4');
      await bindTo(t, peer, 0, '127.0.0.1');
      const peerPort = t.name(peer.address().port, 'PEER');
      const other = t.sock('udp4');
      await bindTo(t, other, 0, '127.0.0.1');
      t.name(other.address().port, 'OTHER');
      await t.within(new Promise<void>((r) => rx.connect(peerPort, '127.0.0.1', () => r())), 'connect');
      other.send('from other', port, '127.0.0.1');
      await t.settle();
      peer.send('from peer', port, '127.0.0.1');
      await t.entriesOn('rx', 1);
      const lone = t.watch(t.sock('udp4'), 'lone', ['error']);
      const gone = t.sock('udp4');
      await bindTo(t, gone, 0, '127.0.0.1');
      const gonePort = t.name(gone.address().port, 'GONE');
      await t.within(new Promise<void>((r) => gone.close(r)), 'close');
      await t.within(new Promise<void>((r) => lone.connect(gonePort, '127.0.0.1', () => r())), 'connect');
      lone.send('x', t.cb('~lone-cb', 'cb'));
      await t.entriesOn('lone', 1);
      await t.entriesOn('~lone-cb', 1);
    },
  },
  {
    name: 'connect(): EMSGSIZE on a connected socket has no address',
    async run(t) {
      const { port } = await receiver(t);
      const s = t.watch(t.sock('udp4'), 's');
      await t.within(new Promise<void>((r) => s.connect(port, () => r())), 'connect');
      s.send(Buffer.alloc(70000), t.cb('s', 'cb'));
      await t.entriesOn('s', 3);
    },
  },
  {
    name: 'connect() after close',
    async run(t) {
      const a = t.watch(t.sock('udp4'), 'a');
      a.close();
      t.call('a', 'connect unbound closed', () => a.connect(9));
      const b = t.watch(t.sock('udp4'), 'b');
      await bindTo(t, b, 0, '127.0.0.1');
      b.close();
      t.call('b', 'connect bound closed', () => b.connect(9));
      t.call('b', 'disconnect', () => b.disconnect());
      await t.entriesOn('a', 2);
      await t.entriesOn('b', 4);
    },
  },
];

const options: Scenario[] = [
  {
    name: 'socket options on an unbound socket',
    async run(t) {
      const s = t.watch(t.sock('udp4'), 's');
      const calls: [string, () => unknown][] = [
        ['address', () => s.address()],
        ['remoteAddress', () => s.remoteAddress()],
        ['setTTL(5)', () => s.setTTL(5)],
        ['setTTL(0)', () => s.setTTL(0)],
        ['setTTL(256)', () => s.setTTL(256)],
        ["setTTL('5')", () => s.setTTL('5' as never)],
        ['setTTL(NaN)', () => s.setTTL(NaN)],
        ['setMulticastTTL(5)', () => s.setMulticastTTL(5)],
        ['setMulticastTTL(256)', () => s.setMulticastTTL(256)],
        ['setMulticastTTL(-1)', () => s.setMulticastTTL(-1)],
        ["setMulticastTTL('x')", () => s.setMulticastTTL('x' as never)],
        ['setMulticastLoopback(true)', () => s.setMulticastLoopback(true)],
        ['setBroadcast(true)', () => s.setBroadcast(true)],
        ["setMulticastInterface('127.0.0.1')", () => s.setMulticastInterface('127.0.0.1')],
        ['setMulticastInterface(5)', () => s.setMulticastInterface(5 as never)],
        ['addMembership()', () => s.addMembership(undefined as never)],
        ['dropMembership()', () => s.dropMembership(undefined as never)],
        ['addSourceSpecificMembership()', () => s.addSourceSpecificMembership(undefined as never, undefined as never)],
        ["addSourceSpecificMembership('1.1.1.1')", () => s.addSourceSpecificMembership('1.1.1.1', undefined as never)],
        ["dropSourceSpecificMembership('1.1.1.1', 5)", () => s.dropSourceSpecificMembership('1.1.1.1', 5 as never)],
        ['getRecvBufferSize', () => s.getRecvBufferSize()],
        ['getSendBufferSize', () => s.getSendBufferSize()],
        ['setRecvBufferSize(1000)', () => s.setRecvBufferSize(1000)],
        ['setRecvBufferSize(-1)', () => s.setRecvBufferSize(-1)],
        ["setSendBufferSize('x')", () => s.setSendBufferSize('x' as never)],
        ['setSendBufferSize(1.5)', () => s.setSendBufferSize(1.5)],
        ['getSendQueueSize', () => s.getSendQueueSize()],
        ['getSendQueueCount', () => s.getSendQueueCount()],
        ['disconnect', () => s.disconnect()],
        ['ref', () => s.ref() === s],
        ['unref', () => s.unref() === s],
        ['ref again', () => s.ref() === s],
      ];
      for (const [label, fn] of calls) t.call('calls', label, fn);
    },
  },
  {
    name: 'socket options on a bound socket',
    async run(t) {
      const s = t.watch(t.sock({ type: 'udp4', recvBufferSize: 100000, sendBufferSize: 60000 }), 's');
      await bindTo(t, s, 0, '127.0.0.1');
      const calls: [string, () => unknown][] = [
        ['getRecvBufferSize (option)', () => s.getRecvBufferSize()],
        ['getSendBufferSize (option)', () => s.getSendBufferSize()],
        ['setTTL(64)', () => s.setTTL(64)],
        ['setTTL(255)', () => s.setTTL(255)],
        ['setTTL(256)', () => s.setTTL(256)],
        ['setTTL(1.5)', () => s.setTTL(1.5)],
        ['setTTL(2**32 + 5)', () => s.setTTL(2 ** 32 + 5)],
        ['setBroadcast(1)', () => s.setBroadcast(1 as never)],
        ['setBroadcast(false)', () => s.setBroadcast(false)],
        ['setMulticastTTL(0)', () => s.setMulticastTTL(0)],
        ['setMulticastTTL(255)', () => s.setMulticastTTL(255)],
        ['setMulticastTTL(256)', () => s.setMulticastTTL(256)],
        ['setMulticastLoopback(0)', () => s.setMulticastLoopback(0)],
        ["setMulticastLoopback('yes')", () => s.setMulticastLoopback('yes')],
        ['setRecvBufferSize(100000)', () => s.setRecvBufferSize(100000)],
        ['getRecvBufferSize', () => s.getRecvBufferSize()],
        ['setSendBufferSize(100000)', () => s.setSendBufferSize(100000)],
        ['getSendBufferSize', () => s.getSendBufferSize()],
        ['setSendBufferSize(0): a no-op', () => s.setSendBufferSize(0)],
        ['getSendBufferSize again', () => s.getSendBufferSize()],
        ['setSendBufferSize(2**31)', () => s.setSendBufferSize(2 ** 31)],
        ['setRecvBufferSize(2**32)', () => s.setRecvBufferSize(2 ** 32)],
        ['getSendQueueSize', () => s.getSendQueueSize()],
        ['getSendQueueCount', () => s.getSendQueueCount()],
        ['address', () => s.address()],
      ];
      for (const [label, fn] of calls) t.call('calls', label, fn);
    },
  },
  {
    name: 'socket options after close',
    async run(t) {
      const s = t.watch(t.sock('udp4'), 's');
      await bindTo(t, s, 0, '127.0.0.1');
      s.close();
      const calls: [string, () => unknown][] = [
        ['setTTL', () => s.setTTL(5)],
        ["setTTL('5')", () => s.setTTL('5' as never)],
        ['setBroadcast', () => s.setBroadcast(true)],
        ['setMulticastTTL', () => s.setMulticastTTL(5)],
        ['setMulticastLoopback', () => s.setMulticastLoopback(true)],
        ['setMulticastInterface', () => s.setMulticastInterface('127.0.0.1')],
        ['addMembership', () => s.addMembership('224.0.0.114')],
        ['addMembership()', () => s.addMembership(undefined as never)],
        ['dropMembership', () => s.dropMembership('224.0.0.114')],
        ['addSourceSpecificMembership', () => s.addSourceSpecificMembership('x', 'y')],
        ['dropSourceSpecificMembership', () => s.dropSourceSpecificMembership('x', 'y')],
        ['getRecvBufferSize', () => s.getRecvBufferSize()],
        ['setRecvBufferSize', () => s.setRecvBufferSize(5)],
        ['setRecvBufferSize(-1)', () => s.setRecvBufferSize(-1)],
        ['address', () => s.address()],
        ['remoteAddress', () => s.remoteAddress()],
        ['disconnect', () => s.disconnect()],
        ['ref', () => s.ref() === s],
        ['unref', () => s.unref() === s],
        ['getSendQueueSize', () => s.getSendQueueSize()],
        ['getSendQueueCount', () => s.getSendQueueCount()],
        ['send', () => s.send('x', 9, '127.0.0.1')],
        ['bind', () => s.bind(0)],
        ['close', () => s.close()],
      ];
      for (const [label, fn] of calls) t.call('calls', label, fn);
      await t.entriesOn('s', 1);
    },
  },
];

const lifecycle: Scenario[] = [
  {
    name: 'signal: already aborted closes at once; abort later closes',
    async run(t) {
      const ac = new AbortController();
      ac.abort();
      const a = t.watch(t.sock({ type: 'udp4', signal: ac.signal }), 'a');
      t.call('a', 'bind after abort', () => a.bind(0));
      await t.entriesOn('a', 2);
      const ac2 = new AbortController();
      const b = t.watch(t.sock({ type: 'udp4', signal: ac2.signal }), 'b');
      await bindTo(t, b, 0, '127.0.0.1');
      ac2.abort();
      ac2.abort();
      await t.entriesOn('b', 2);
      t.call('b', 'close after abort', () => b.close());
    },
  },
  {
    name: 'Symbol.asyncDispose closes (bound, unbound, twice)',
    async run(t) {
      const a = t.watch(t.sock('udp4'), 'a');
      await bindTo(t, a, 0, '127.0.0.1');
      await t.within(a[Symbol.asyncDispose](), 'dispose');
      t.log('a', 'disposed');
      await t.within(a[Symbol.asyncDispose](), 'dispose twice');
      t.log('a', 'disposed twice');
      const b = t.watch(t.sock('udp4'), 'b');
      await t.within(b[Symbol.asyncDispose](), 'dispose unbound');
      t.log('b', 'disposed');
    },
  },
  {
    name: 'close(cb): callback and event; close callbacks of a double close',
    async run(t) {
      const a = t.watch(t.sock('udp4'), 'a');
      await bindTo(t, a, 0, '127.0.0.1');
      t.call('a', 'close', () => a.close(t.cb('a', 'cb1')) === a);
      t.call('a', 'close twice', () => a.close(t.cb('a', 'cb2')));
      await t.entriesOn('a', 6);
    },
  },
];

const messages: Scenario[] = [
  {
    name: "'message': payloads of every size and rinfo (IPv4)",
    async run(t) {
      const rx = t.watch(t.sock('udp4'), 'rx', ['message', 'error']);
      await bindTo(t, rx, 0, '127.0.0.1');
      const port = t.name(rx.address().port, 'RX');
      const tx = t.sock('udp4');
      await bindTo(t, tx, 0, '127.0.0.1');
      t.name(tx.address().port, 'TX');
      for (const size of [0, 1, 64, 1400, 9000, 65507]) {
        tx.send(Buffer.alloc(size, size & 0xff), port, '127.0.0.1');
        await t.entriesOn('rx', t.count('rx') + 1);
      }
      t.log('rx', 'kept', rx.listenerCount('message'));
    },
  },
  {
    name: "'message': IPv6 and dual-stack senders",
    async run(t) {
      if (!hasV6Loopback) return;
      const rx = t.watch(t.sock('udp6'), 'rx', ['message', 'error']);
      await bindTo(t, rx, 0, '::');
      const port = t.name(rx.address().port, 'RX');
      t.log('rx', rx.address());
      const tx6 = t.sock('udp6');
      await bindTo(t, tx6, 0, '::1');
      t.name(tx6.address().port, 'TX6');
      tx6.send('six', port, '::1');
      await t.entriesOn('rx', 2);
      const tx4 = t.sock('udp4');
      await bindTo(t, tx4, 0, '127.0.0.1');
      t.name(tx4.address().port, 'TX4');
      tx4.send('four', port, '127.0.0.1');
      await t.entriesOn('rx', 3);
      const only = t.watch(t.sock({ type: 'udp6', ipv6Only: true }), 'only', ['listening', 'error']);
      only.bind(0, '::');
      await t.entriesOn('only', 1);
      t.log('only', only.address().address);
    },
  },
  {
    name: "'message': many datagrams keep their order and content",
    async run(t) {
      const rx = t.sock('udp4');
      const got: string[] = [];
      rx.on('message', (m) => got.push(m.toString()));
      await bindTo(t, rx, 0, '127.0.0.1');
      const port = rx.address().port;
      const tx = t.sock('udp4');
      for (let i = 0; i < 200; i++) tx.send(`m${i}`, port, '127.0.0.1');
      await t.until(() => got.length === 200, '200 datagrams');
      t.log('rx', got);
    },
  },
];

const groups: [string, Scenario[]][] = [
  ['construction', construction],
  ['bind', binding],
  ['send', sending],
  ['connect', connecting],
  ['socket options', options],
  ['lifecycle', lifecycle],
  ['message', messages],
];

defineParity(groups, BACKEND);
