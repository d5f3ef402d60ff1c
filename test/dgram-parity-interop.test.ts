/**
 * Parity, part two (see dgram-parity.test.ts and dgram-harness.ts): where
 * node:dgram meets the rest of Node and the system. Cluster workers and a
 * socket passed to a child run as real processes (dgram-fork.ts); the other
 * scenarios run in this process: bind({ fd }) and bind(handle), implicit
 * binds of membership calls, dns.lookup looked up at call time, link-local
 * zones, async context (AsyncLocalStorage and async_hooks), the
 * 'udp.socket' diagnostics channel, and node's deprecated internals.
 * Every one runs on node:dgram and on the layer, and the records must match.
 */
import { AsyncLocalStorage, createHook, executionAsyncId } from 'node:async_hooks';
import dc from 'node:diagnostics_channel';
import * as nodeDgram from 'node:dgram';
import dns from 'node:dns';
import { closeSync, openSync } from 'node:fs';
import { createServer, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { loadBinding } from '../src/core/binding.js';
import { defineParity, type Scenario, type Sock, type Trace } from './dgram-harness.js';
import { BACKEND } from './helpers.js';

process.noDeprecation = true; // _createSocketHandle and the DEP0112 internals

interface NodeHandle {
  fd: number;
  close(): void;
}
const createSocketHandle = (nodeDgram as unknown as { _createSocketHandle: (a: string | null, p: number | null, t: string) => NodeHandle | number })
  ._createSocketHandle;

/** A bound UDP socket's fd that no handle owns (a duplicate of a node handle's, which is closed). */
function freeUdpFd(address: string, type: 'udp4' | 'udp6'): number {
  const h = createSocketHandle(address, 0, type) as NodeHandle;
  const fd = loadBinding().binding?.fdDup?.(h.fd) ?? -1;
  h.close();
  if (fd < 0) throw new Error(`cannot duplicate a UDP fd: ${fd}`);
  return fd;
}

function bindTo(t: Trace, s: Sock, port: number, address: string): Promise<void> {
  return t.within(new Promise<void>((resolve) => s.bind(port, address, () => resolve())), 'bind');
}

const processes: Scenario[] = [
  { name: 'cluster: workers share the primary socket; disconnect closes them', run: (t) => t.fork('cluster-shared') },
  { name: 'cluster: exclusive and implicit binds are the worker own; a taken port fails', run: (t) => t.fork('cluster-exclusive') },
  { name: 'cluster: close() before the primary replies closes its handle', run: (t) => t.fork('cluster-close-before-reply') },
  { name: 'cluster: an error from the primary is a bind error', run: (t) => t.fork('cluster-bind-error') },
  { name: 'cluster: bind({ fd }) in workers goes through the primary', run: (t) => t.fork('cluster-bind-fd') },
  { name: 'child.send(msg, socket): the child gets a working socket', run: (t) => t.fork('child-send') },
];

const adoption: Scenario[] = [
  {
    name: "bind({ fd }): adopts the socket, 'listening' before bind() returns",
    async run(t) {
      const fd = freeUdpFd('127.0.0.1', 'udp4');
      const s = t.watch(t.sock('udp4'), 's', ['listening', 'error', 'message', 'close']);
      t.call('s', 'bind', () => s.bind({ fd }, t.cb('s', 'bind callback')) === s);
      t.log('s', 'bind returned');
      const port = t.name(s.address().port, 'FD');
      t.log('s', s.address());
      t.call('s', 'bind again', () => s.bind(0));
      const tx = t.sock('udp4');
      await bindTo(t, tx, 0, '127.0.0.1');
      t.name(tx.address().port, 'TX');
      tx.send('to the fd', port, '127.0.0.1');
      await t.entriesOn('s', 7);
      s.send('from the fd', tx.address().port, '127.0.0.1', t.cb('s', 'send cb'));
      await t.entriesOn('s', 8);
    },
  },
  {
    name: 'bind({ fd }): an fd that is not a UDP socket is ERR_INVALID_FD_TYPE',
    async run(t) {
      const server = createServer();
      await t.within(new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r())), 'listen');
      const file = openSync('/dev/null', 'r');
      const fds: [string, number][] = [
        ['a file', file],
        ['a TCP socket', (server as unknown as { _handle: { fd: number } })._handle.fd],
        ['a closed fd', 65000],
      ];
      try {
        for (const [label, fd] of fds) {
          const s = t.watch(t.sock('udp4'), label, ['listening', 'error']);
          t.call(label, 'bind', () => s.bind({ fd }));
          t.call(label, 'bind again', () => s.bind(0));
        }
        const ok = t.watch(t.sock('udp4'), 'ignored', ['listening', 'error']);
        for (const fd of [-1, 1.5]) {
          t.call('ignored', `fd ${fd}`, () => t.watch(t.sock('udp4'), `fd ${fd}`, ['listening']).bind({ fd, port: 0, address: '127.0.0.1' }) !== null);
        }
        ok.bind({ fd: 0 });
        await t.entriesOn('ignored', 3);
        await t.entriesOn('fd -1', 1);
        await t.entriesOn('fd 1.5', 1);
      } finally {
        closeSync(file);
        server.close();
      }
    },
  },
  {
    name: 'bind({ fd }): the socket keeps its own family',
    async run(t) {
      const fd = freeUdpFd('::1', 'udp6');
      const s = t.watch(t.sock('udp4'), 's', ['listening', 'error']);
      s.bind({ fd });
      t.log('s', s.address().family, s.address().address);
      s.send('x', 9, '127.0.0.1', t.cb('s', 'send cb'));
      await t.entriesOn('s', 3);
    },
  },
  {
    name: 'bind(handle): a node UDP handle, as _createSocketHandle makes',
    async run(t) {
      const handle = createSocketHandle('127.0.0.1', 0, 'udp4');
      t.log('s', 'handle', typeof handle);
      const s = t.watch(t.sock('udp4'), 's', ['listening', 'error', 'message', 'close']);
      t.call('s', 'bind', () => s.bind(handle as never, t.cb('s', 'bind callback')) === s);
      const port = t.name(s.address().port, 'H');
      t.log('s', s.address());
      t.sock('udp4').send('to the handle', port, '127.0.0.1');
      await t.entriesOn('s', 5);
      t.log('s', 'failed handle', createSocketHandle('localhost', 0, 'udp4'));
    },
  },
];

const membership: Scenario[] = [
  {
    name: 'addMembership() binds an unbound socket, which then does not receive; bind() is EINVAL',
    async run(t) {
      const s = t.watch(t.sock({ type: 'udp4', reuseAddr: true }), 's', ['listening', 'error', 'message']);
      t.call('s', 'addMembership', () => s.addMembership('224.0.0.114'));
      const a = s.address();
      t.log('s', a.address, a.family, a.port > 0);
      t.call('s', 'setTTL', () => s.setTTL(5));
      t.call('s', 'getRecvBufferSize > 0', () => s.getRecvBufferSize() > 0);
      t.call('s', 'dropMembership', () => s.dropMembership('224.0.0.114'));
      s.send('x', 9, '127.0.0.1', t.cb('s', 'send cb (never)'));
      await t.entriesOn('s', 6);
      const b = t.watch(t.sock('udp4'), 'b', ['listening', 'error']);
      t.call('b', 'addMembership', () => b.addMembership('224.0.0.114', '127.0.0.1'));
      b.bind(0, '127.0.0.1');
      await t.entriesOn('b', 2);
      t.call('b', 'address after the failed bind', () => b.address().address);
    },
  },
  {
    name: 'membership calls on an unbound socket: bad addresses bind nothing; the group picks the family',
    async run(t) {
      const s = t.watch(t.sock('udp4'), 's');
      t.call('s', 'bad group', () => s.addMembership('256.256.256.256'));
      t.call('s', 'still unbound', () => s.address());
      t.call('s', 'source of the other family', () => s.addSourceSpecificMembership('::1', '232.1.1.1'));
      t.call('s', 'still unbound', () => s.address());
      t.call('s', 'drop a group never joined', () => s.dropMembership('224.0.0.114'));
      t.call('s', 'now bound', () => s.address().address);
      const six = t.watch(t.sock('udp6'), 'six');
      t.call('six', 'IPv4 group on udp6', () => six.addMembership('224.0.0.114'));
      t.call('six', 'family', () => six.address().family);
      const ssm = t.watch(t.sock('udp4'), 'ssm');
      t.call('ssm', 'source-specific', () => ssm.addSourceSpecificMembership('127.0.0.1', '232.1.1.1'));
      t.call('ssm', 'bound', () => ssm.address().address);
    },
  },
  {
    name: 'after a membership call, bind({ fd }) is open EBUSY and bind(handle) replaces the socket',
    async run(t) {
      const spare = createSocketHandle('127.0.0.1', 0, 'udp4') as NodeHandle;
      try {
        const a = t.watch(t.sock('udp4'), 'a', ['listening', 'error']);
        a.addMembership('224.0.0.114');
        t.call('a', 'bind({ fd })', () => a.bind({ fd: spare.fd }));
        const b = t.watch(t.sock('udp4'), 'b', ['listening', 'error']);
        b.addMembership('224.0.0.114');
        t.call('b', 'bind(handle)', () => b.bind(createSocketHandle('127.0.0.1', 0, 'udp4') as never) === b);
        t.log('b', b.address().address);
      } finally {
        spare.close();
      }
    },
  },
];

/** A stand-in for dns.lookup: literals as themselves, peer.test is 127.0.0.1, the rest fails. */
function fakeDns(t: Trace): typeof dns.lookup {
  return ((host: string, options: unknown, cb: (err: Error | null, address?: string, family?: number) => void) => {
    t.log('lookup', host, options);
    const enotfound = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { errno: -3008, code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: host });
    if (isIP(host)) process.nextTick(cb, null, host, isIP(host));
    else if (host === 'peer.test') process.nextTick(cb, null, '127.0.0.1', 4);
    else process.nextTick(cb, enotfound);
  }) as unknown as typeof dns.lookup;
}

const lookup: Scenario[] = [
  {
    name: 'dns.lookup is used as it is at call time (programs replace it); its errors surface',
    async run(t) {
      const real = dns.lookup;
      dns.lookup = fakeDns(t);
      try {
        const rx = t.watch(t.sock('udp4'), 'rx', ['listening', 'error', 'message']);
        rx.bind(0, 'peer.test');
        await t.entriesOn('rx', 1);
        const port = t.name(rx.address().port, 'RX');
        const tx = t.watch(t.sock('udp4'), 'tx', ['listening', 'error']);
        tx.send('by name', port, 'peer.test', t.cb('s', 'by name'));
        await t.entriesOn('s', 1);
        tx.send('literal', port, '127.0.0.1', t.cb('s', 'literal'));
        await t.entriesOn('s', 2);
        tx.send('failing', port, 'nope.test', t.cb('s', 'failing'));
        await t.entriesOn('s', 3);
        tx.send('failing, no callback', port, 'nope.test');
        await t.entriesOn('tx', 2);
        const c = t.watch(t.sock('udp4'), 'c', ['connect', 'error']);
        c.connect(port, 'peer.test', t.cb('c', 'connect cb'));
        await t.entriesOn('c', 2);
        await t.entriesOn('rx', 3);
      } finally {
        dns.lookup = real;
      }
    },
  },
];

/** An interface with a link-local IPv6 address, as Node's own test finds one. */
function linkLocal(): { address: string; ifname: string } | undefined {
  for (const [ifname, list] of Object.entries(networkInterfaces())) {
    const hit = list?.find((i) => i.family === 'IPv6' && i.address.startsWith('fe80:'));
    if (hit) return { address: hit.address, ifname };
  }
  return undefined;
}

const zones: Scenario[] = [
  {
    name: 'link-local IPv6: zoned binds, and address() and rinfo.address keep the %zone',
    async run(t) {
      const ll = linkLocal();
      if (!ll) {
        t.log('z', 'no link-local address here: nothing to compare');
        return;
      }
      const zoned = `${ll.address}%${ll.ifname}`;
      const rx = t.watch(t.sock('udp6'), 'z', ['message', 'error']);
      await bindTo(t, rx, 0, zoned);
      const port = t.name(rx.address().port, 'RX');
      t.log('z', rx.address().address === zoned);
      const tx = t.sock('udp6');
      await bindTo(t, tx, 0, zoned);
      t.name(tx.address().port, 'TX');
      tx.send('hello, local world', port, zoned);
      await t.entriesOn('z', 2);
      t.log('z', 'sender shows the zone');
    },
  },
];

/** Which async resource a callback runs in: its type, and whether it is the expected one. */
class Hooks {
  readonly types = new Map<number, { type: string; trigger: number }>();
  readonly calls = new Map<number, string[]>();
  private readonly hook = createHook({
    init: (id, type, trigger) => void this.types.set(id, { type, trigger }),
    before: (id) => void this.note(id, 'before'),
    after: (id) => void this.note(id, 'after'),
    destroy: (id) => void this.note(id, 'destroy'),
  });

  private note(id: number, what: string): void {
    this.calls.set(id, [...(this.calls.get(id) ?? []), what]);
  }

  enable(): this {
    this.hook.enable();
    return this;
  }

  disable(): void {
    this.hook.disable();
  }

  /** The resources of a type made since enable(). */
  ofType(type: string): number[] {
    return [...this.types].filter(([, v]) => v.type === type).map(([id]) => id);
  }

  current(): { type: string | undefined; trigger: number | undefined } {
    const r = this.types.get(executionAsyncId());
    return { type: r?.type, trigger: r?.trigger };
  }
}

const context: Scenario[] = [
  {
    name: "AsyncLocalStorage: 'message' in the socket's, 'listening', send callbacks, 'connect' and 'close' in their call's",
    async run(t) {
      const als = new AsyncLocalStorage<string>();
      const rx = als.run('created', () => t.sock('udp4'));
      rx.on('message', (m) => t.log('~als', 'message', m.toString(), als.getStore()));
      rx.on('listening', () => t.log('~als', 'listening', als.getStore()));
      await als.run('bind', () => bindTo(t, rx, 0, '127.0.0.1'));
      const port = t.name(rx.address().port, 'RX');
      const tx = t.sock('udp4');
      als.run('send 1', () => tx.send('one', port, '127.0.0.1', () => t.log('~als', 'send cb', als.getStore())));
      als.run('send 2', () => tx.send('two', port, 'localhost', () => t.log('~als', 'send cb', als.getStore())));
      await t.entriesOn('~als', 5);
      const c = als.run('connect', () => t.sock('udp4'));
      als.run('connect call', () => c.connect(port, '127.0.0.1', () => t.log('~als', 'connect cb', als.getStore())));
      await t.entriesOn('~als', 6);
      als.run('connected send', () => c.send('three', () => t.log('~als', 'send cb', als.getStore())));
      await t.entriesOn('~als', 8);
      als.run('close', () => rx.close(() => t.log('~als', 'close', als.getStore())));
      await t.entriesOn('~als', 9);
    },
  },
  {
    name: "async_hooks: a UDPWRAP per socket; a send callback's resource is a child of it (init, before, after, destroy)",
    async run(t) {
      const hooks = new Hooks().enable();
      try {
        const rx = t.sock('udp4');
        const [wrap] = hooks.ofType('UDPWRAP');
        t.log('h', 'UDPWRAP made with the socket', hooks.ofType('UDPWRAP').length);
        // (The send callback and the message race: node calls back on a tick.)
        rx.on('message', () => t.log('~h', 'message runs in the socket', hooks.current().type, executionAsyncId() === wrap));
        await bindTo(t, rx, 0, '127.0.0.1');
        const port = t.name(rx.address().port, 'RX');
        let sendRes = -1;
        rx.send('x', port, '127.0.0.1', () => {
          const cur = hooks.current();
          sendRes = executionAsyncId();
          t.log('~h', 'send callback', cur.type, cur.trigger === wrap);
        });
        t.log('h', 'no UDPSENDWRAP (node sends at once and calls back on a tick)', hooks.ofType('UDPSENDWRAP').length);
        await t.entriesOn('~h', 2);
        rx.close(() => {
          const cur = hooks.current();
          t.log('h', 'close', cur.type, cur.trigger === wrap);
        });
        await t.entriesOn('h', 3);
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
        t.log('h', 'send callback resource', hooks.calls.get(sendRes));
        t.log('h', 'socket wrap', hooks.calls.get(wrap ?? -1)?.filter((c) => c === 'destroy'));
      } finally {
        hooks.disable();
      }
    },
  },
];

const channels: Scenario[] = [
  {
    name: "diagnostics_channel 'udp.socket': every new socket is published",
    async run(t) {
      const seen: unknown[] = [];
      const onSocket = (msg: unknown): void => void seen.push((msg as { socket: unknown }).socket);
      dc.subscribe('udp.socket', onSocket);
      try {
        const a = t.sock('udp4');
        const b = t.sock({ type: 'udp6' });
        t.call('c', 'bad type', () => t.sock('udp5' as never));
        t.log('c', seen.length, seen[0] === a, seen[1] === b, seen[0] instanceof t.api.Socket);
      } finally {
        dc.unsubscribe('udp.socket', onSocket);
      }
    },
  },
];

const internals: Scenario[] = [
  {
    name: "node's deprecated internals (DEP0112) and instanceof node:dgram's Socket",
    async run(t) {
      type Old = Sock & { _bindState: number; _receiving: boolean; _queue: unknown[] | undefined; _reuseAddr: boolean; _handle: unknown; _healthCheck(): void };
      const s = t.sock({ type: 'udp4', reuseAddr: true }) as Old;
      const state = (): unknown[] => [s._bindState, s._receiving, s._queue?.length ?? 'none', s._reuseAddr, s._handle === null ? 'null' : typeof s._handle];
      t.log('i', 'instanceof', s instanceof nodeDgram.Socket);
      t.log('i', 'new', state());
      s.send('x', 9, '127.0.0.1');
      t.log('i', 'binding, one send queued', state());
      await t.within(new Promise((r) => s.once('listening', r)), 'listening');
      t.log('i', 'bound', state());
      t.call('i', '_healthCheck', () => s._healthCheck());
      s.close();
      t.log('i', 'closed', state());
      t.call('i', '_healthCheck after close', () => s._healthCheck());
    },
  },
];

const errors: Scenario[] = [
  {
    name: "errors: a SystemError's errno/syscall accessors read and write its info, and inspect with their values",
    async run(t) {
      const s = t.sock('udp4');
      let e: (Error & { errno?: number; syscall?: string; info?: unknown }) | undefined;
      try {
        s.getSendBufferSize();
      } catch (err) {
        e = err as typeof e;
      }
      if (e === undefined) throw new Error('getSendBufferSize() on an unbound socket should throw');
      t.log('e', e);
      e.errno = -22;
      e.syscall = 'changed';
      t.log('e', 'after set', e.info, e);
      t.log('e', 'toString', e.toString(), Object.prototype.toString.call(e));
    },
  },
];

defineParity(
  [
    ['processes', processes],
    ['bind({ fd }) and handles', adoption],
    ['implicit bind for membership', membership],
    ['lookup at call time', lookup],
    ['link-local zones', zones],
    ['async context', context],
    ['diagnostics_channel', channels],
    ['internals', internals],
    ['errors', errors],
  ],
  BACKEND,
);
