/**
 * Programs with several processes for test/dgram-parity.test.ts (cluster
 * workers, a socket passed to a child), run as
 * `node dgram-fork.js <node:dgram|iouring-net> <case>`: each case uses the
 * named API, so the parity test runs the same program on both and compares
 * what it prints. The top process prints one JSON line per record
 * ({ ch, v }); workers and children send theirs to it over IPC. Values are
 * made comparable here: ports become names, errors their observable fields.
 */
import { fork } from 'node:child_process';
import cluster, { type Worker } from 'node:cluster';
import * as nodeDgram from 'node:dgram';
import * as ours from '../src/dgram/socket.js';

type Sock = ours.Socket;
type Api = { createSocket: typeof ours.createSocket };

const [apiName = '', which = ''] = process.argv.slice(2);
const dgram: Api = apiName === 'node:dgram' ? (nodeDgram as unknown as Api) : ours;
const UV_UNKNOWN = -4094;
process.noDeprecation = true; // _createSocketHandle, _bindState

const ports = new Map<number, string>();
/** Give a port a name; values printed later show the name. */
function name(port: number, label: string): void {
  ports.set(port, label);
}

function plain(v: unknown): unknown {
  if (typeof v === 'number' && ports.has(v)) return ports.get(v);
  if (typeof v === 'string') return v.replace(/:(\d{4,5})\b/g, (_m, p: string) => (ports.has(Number(p)) ? `:${ports.get(Number(p))}` : ':EPH'));
  if (v instanceof Error) {
    const e = v as Error & Record<string, unknown>;
    return { error: plain(e.message), code: e.code, errno: e.errno, syscall: e.syscall, str: plain(String(e)) };
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** Record: printed by the top process, sent to it by the others. */
function out(ch: string, ...v: unknown[]): void {
  if (cluster.isWorker || process.env.DGRAM_FORK_CHILD === '1') process.send?.({ rec: [ch, plain(v)] });
  else console.log(JSON.stringify({ ch, v: plain(v) }));
}

/** Print what a worker or child reported. */
function relay(msg: unknown): void {
  const rec = (msg as { rec?: [string, unknown] } | null)?.rec;
  if (rec) console.log(JSON.stringify({ ch: rec[0], v: rec[1] }));
}

function bound(s: Sock, port: number, address: string, exclusive = false): Promise<number> {
  return new Promise((resolve) => s.bind({ port, address, exclusive }, () => resolve(s.address().port)));
}

/** Fork n workers; resolve when each has exited. */
function workers(n: number, env: (i: number) => Record<string, string> = () => ({})): { list: Worker[]; exited: Promise<void> } {
  const list: Worker[] = [];
  for (let i = 0; i < n; i++) {
    const w = cluster.fork({ ROLE: String(i), ...env(i) });
    w.on('message', relay);
    list.push(w);
  }
  const exited = Promise.all(list.map((w) => new Promise<void>((r) => w.on('exit', (code) => (out('~exit', code, w.exitedAfterDisconnect), r()))))).then(() => undefined);
  return { list, exited };
}

/** Workers share the primary's socket: one port, every datagram received once. */
async function clusterShared(): Promise<void> {
  if (cluster.isWorker) {
    const s = dgram.createSocket('udp4');
    s.on('message', (m) => process.send?.({ got: m.toString() }));
    s.on('close', () => process.send?.({ closed: true }));
    const port = await bound(s, 0, '127.0.0.1');
    process.send?.({ port });
    return;
  }
  const seen: number[] = []; // cluster's 'listening' events
  const reported: number[] = []; // the workers' own address().port
  const got: string[] = [];
  let closed = 0;
  const { list, exited } = workers(2);
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (seen.length === 2 && reported.length === 2) resolve();
    };
    cluster.on('listening', (_w, info) => {
      out('~listening', info.addressType, info.address, (info as { fd?: number }).fd);
      seen.push(info.port);
      check();
    });
    for (const w of list) {
      w.on('message', (m: { port?: number; got?: string; closed?: boolean }) => {
        if (m.port !== undefined) reported.push(m.port);
        if (m.got !== undefined) got.push(m.got);
        if (m.closed) closed++;
        check();
      });
    }
  });
  out('c', 'one shared port', new Set([...seen, ...reported]).size === 1);
  name(seen[0] ?? 0, 'SHARED');
  const tx = dgram.createSocket('udp4');
  for (let i = 0; i < 20; i++) tx.send(`d${i}`, seen[0] ?? 0, '127.0.0.1');
  for (let i = 0; i < 500 && got.length < 20; i++) await new Promise((r) => setTimeout(r, 10));
  out('c', 'received once each', got.sort().join(','));
  tx.close();
  cluster.disconnect();
  await exited;
  out('c', 'worker sockets closed by disconnect', closed);
}

/** exclusive binds alone, implicit binds are exclusive, a shared bind of a taken port fails. */
async function clusterExclusive(): Promise<void> {
  if (cluster.isWorker) {
    const target = Number(process.env.TARGET);
    if (process.env.ROLE === '0') {
      const s = dgram.createSocket('udp4');
      process.send?.({ port: await bound(s, 0, '127.0.0.1', true) });
      dgram.createSocket('udp4').send('implicit-0', target, '127.0.0.1');
      return;
    }
    dgram.createSocket('udp4').send('implicit-1', target, '127.0.0.1');
    process.send?.({ ready: true });
    process.on('message', (m: { taken: number }) => {
      const shared = dgram.createSocket('udp4');
      shared.on('error', (e) => {
        out('w1', 'shared bind of a taken port', e, (shared as unknown as { _bindState: number })._bindState);
        const alone = dgram.createSocket('udp4');
        alone.on('error', (e2) => {
          out('w1', 'exclusive bind of a taken port', e2);
          process.send?.({ done: true });
        });
        alone.bind({ port: m.taken, address: '127.0.0.1', exclusive: true });
      });
      shared.bind(m.taken, '127.0.0.1');
    });
    return;
  }
  const rx = dgram.createSocket('udp4');
  const from = new Set<number>();
  rx.on('message', (_m, rinfo) => from.add(rinfo.port));
  const target = await bound(rx, 0, '127.0.0.1', true);
  const { list } = workers(2, () => ({ TARGET: String(target) }));
  const [w0, w1] = list as [Worker, Worker];
  const ready = new Promise<void>((r) => w1.on('message', (m: { ready?: boolean }) => m.ready && r()));
  const taken = await new Promise<number>((r) => w0.on('message', (m: { port?: number }) => m.port && r(m.port)));
  await ready;
  name(taken, 'TAKEN');
  w1.send({ taken });
  await new Promise<void>((r) => w1.on('message', (m: { done?: boolean }) => m.done && r()));
  for (let i = 0; i < 300 && from.size < 2; i++) await new Promise((r) => setTimeout(r, 10));
  out('c', 'implicit binds: distinct source ports', from.size, from.has(taken));
  for (const w of list) w.process.kill();
  rx.close();
}

/** close() before the primary replies: the handle is closed, no 'listening'. */
async function clusterCloseBeforeReply(): Promise<void> {
  if (cluster.isWorker) {
    const c = cluster as unknown as { _getServer: (self: unknown, o: unknown, cb: (e: number, h: { close(): void }) => void) => void };
    const real = c._getServer;
    const s = dgram.createSocket('udp4');
    c._getServer = function (self, options, callback) {
      out('w', 'asked the primary', (options as { addressType: string }).addressType);
      s.close(() => {
        out('w', 'close callback');
        real.call(this, self, options, (err, handle) => {
          const close = handle.close;
          handle.close = function () {
            out('w', 'handle closed');
            setImmediate(() => process.send?.({ done: true }));
            return close.call(this);
          };
          callback(err, handle);
        });
      });
    };
    s.on('listening', () => out('w', 'listening'));
    s.bind(0);
    return;
  }
  const { list, exited } = workers(1);
  await new Promise<void>((r) => list[0]?.on('message', (m: { done?: boolean }) => m.done && r()));
  cluster.disconnect();
  await exited;
}

/** The primary's error reaches the worker as a 'bind' error; the socket is unbound again. */
async function clusterBindError(): Promise<void> {
  if (cluster.isWorker) {
    (cluster as unknown as { _getServer: unknown })._getServer = (_s: unknown, _o: unknown, cb: (e: number) => void) => cb(UV_UNKNOWN);
    const s = dgram.createSocket('udp4');
    s.on('error', (e) => {
      process.nextTick(() => {
        out('w', 'error', e, (s as unknown as { _bindState: number })._bindState);
        s.close(() => process.send?.({ done: true }));
      });
    });
    s.bind(() => out('w', 'bound'));
    return;
  }
  const { list, exited } = workers(1);
  await new Promise<void>((r) => list[0]?.on('message', (m: { done?: boolean }) => m.done && r()));
  cluster.disconnect();
  await exited;
}

/** bind({ fd }) in workers: the primary opens its own fd and shares it. */
async function clusterBindFd(): Promise<void> {
  if (cluster.isWorker) {
    const s = dgram.createSocket('udp4');
    s.on('message', (m) => process.send?.({ got: m.toString() }));
    s.bind({ fd: Number(process.env.FD) }, () => process.send?.({ port: s.address().port }));
    return;
  }
  const create = (nodeDgram as unknown as { _createSocketHandle: (a: string, p: number, t: string) => { fd: number } })._createSocketHandle;
  const handle = create('127.0.0.1', 0, 'udp4');
  const { list, exited } = workers(2, () => ({ FD: String(handle.fd) }));
  const portsOf: number[] = [];
  const got: string[] = [];
  await new Promise<void>((resolve) => {
    for (const w of list) {
      w.on('message', (m: { port?: number; got?: string }) => {
        if (m.port !== undefined && portsOf.push(m.port) === 2) resolve();
        if (m.got !== undefined) got.push(m.got);
      });
    }
  });
  out('c', 'workers on the fd', portsOf[0] === portsOf[1]);
  const tx = dgram.createSocket('udp4');
  for (let i = 0; i < 10; i++) tx.send(`f${i}`, portsOf[0] ?? 0, '127.0.0.1');
  for (let i = 0; i < 500 && got.length < 10; i++) await new Promise((r) => setTimeout(r, 10));
  out('c', 'received', got.sort().join(','));
  tx.close();
  cluster.disconnect();
  await exited;
}

/** child.send(msg, socket): the child gets a working socket on the same port. */
async function childSend(): Promise<void> {
  if (process.env.DGRAM_FORK_CHILD === '1') {
    process.once('message', (msg: string, s: Sock) => {
      name(Number(process.env.SERVER_PORT), 'SERVER');
      out('child', 'got', msg, s instanceof nodeDgram.Socket, s.type, s.address().port);
      s.on('message', (m, rinfo) => {
        out('child', 'message', m.toString());
        s.send('pong', rinfo.port, rinfo.address, () => s.close(() => process.disconnect()));
      });
      process.send?.('ready');
    });
    return;
  }
  const server = dgram.createSocket('udp4');
  const port = await bound(server, 0, '127.0.0.1');
  name(port, 'SERVER');
  const child = fork(process.argv[1] ?? '', process.argv.slice(2), { env: { ...process.env, DGRAM_FORK_CHILD: '1', SERVER_PORT: String(port) } });
  child.on('message', relay);
  const ready = new Promise<void>((r) => child.on('message', (m) => m === 'ready' && r()));
  // The layer's Socket is a node:dgram Socket to child_process.
  out('p', 'send returns', child.send('server', server as unknown as nodeDgram.Socket));
  await ready;
  // Only the child receives from now on.
  await new Promise<void>((r) => server.close(() => r()));
  const client = dgram.createSocket('udp4');
  const pong = new Promise<void>((r) =>
    client.on('message', (m, rinfo) => {
      out('p', 'reply', m.toString(), rinfo.port);
      r();
    }),
  );
  client.send('ping', port, '127.0.0.1');
  await pong;
  client.close();
  await new Promise<void>((r) => child.on('exit', (code) => (out('p', 'child exit', code), r())));
}

const cases: Record<string, () => Promise<void>> = {
  'cluster-shared': clusterShared,
  'cluster-exclusive': clusterExclusive,
  'cluster-close-before-reply': clusterCloseBeforeReply,
  'cluster-bind-error': clusterBindError,
  'cluster-bind-fd': clusterBindFd,
  'child-send': childSend,
};

const run = cases[which];
if (!run) {
  console.error(`unknown case ${which}`);
  process.exit(2);
}
run().then(
  () => {
    if (cluster.isPrimary && process.env.DGRAM_FORK_CHILD !== '1') process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
