/**
 * Runs one call sequence against node:dgram and against iouring-net's
 * node:dgram layer, recording what each does (events, callback arguments,
 * return values, thrown errors) in a normalized form that can be compared:
 * ports are replaced by the names the scenario gives them (or EPH for an
 * ephemeral port), errors by their observable fields, buffers by content.
 *
 * Entries are grouped in channels; a scenario puts things whose relative
 * order node:dgram guarantees on one channel. Channels named '~...' are
 * compared as multisets (arrival order between independent sources, e.g.
 * datagrams resolved through dns.lookup, is not guaranteed by node either).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import * as nodeDgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import * as ours from '../src/dgram/socket.js';

export type Sock = ours.Socket;
export type CreateSocket = (type: ours.SocketType | ours.SocketOptions, listener?: (msg: Buffer, rinfo: ours.RemoteInfo) => void) => Sock;

export interface Api {
  readonly name: 'node:dgram' | 'iouring-net';
  readonly createSocket: CreateSocket;
  readonly Socket: new (type: ours.SocketType | ours.SocketOptions) => Sock;
}

export const nodeApi: Api = {
  name: 'node:dgram',
  createSocket: nodeDgram.createSocket as unknown as CreateSocket,
  Socket: nodeDgram.Socket as unknown as Api['Socket'],
};
export const oursApi: Api = { name: 'iouring-net', createSocket: ours.createSocket, Socket: ours.Socket };

type Plain = null | boolean | number | string | Plain[] | { [k: string]: Plain };

/** Own properties in order, each with its kind: value or accessor, enumerable or not. */
function ownShape(e: object): string[] {
  const d = Object.getOwnPropertyDescriptors(e);
  return Object.getOwnPropertyNames(e).map((k) => {
    const p = d[k] as PropertyDescriptor;
    return `${k}:${'get' in p ? 'accessor' : 'value'}${p.enumerable ? '' : ':hidden'}`;
  });
}

/** util.inspect's rendering without the stack frames (they name different files). */
function inspected(e: Error): string {
  return inspect(e)
    .split('\n')
    .filter((line) => !/^\s+at /.test(line))
    .join('\n');
}

/** Observable fields of an error (everything code written for node:dgram may test). */
function plainError(e: Error): Plain {
  const x = e as Error & Record<string, unknown>;
  const out: { [k: string]: Plain } = {
    class: e instanceof RangeError ? 'RangeError' : e instanceof TypeError ? 'TypeError' : 'Error',
    name: e.name,
    message: e.message,
    str: String(e),
    stack0: (e.stack ?? '').split('\n')[0] ?? '',
    keys: Object.keys(e),
    own: ownShape(e),
    ctor: (e.constructor as { name?: string } | undefined)?.name ?? '<none>',
    inspect: inspected(e),
  };
  for (const k of ['code', 'errno', 'syscall', 'address', 'port', 'info', 'hostname']) {
    if (k in x) out[k] = plain(x[k]);
  }
  return out;
}

export function plain(v: unknown): Plain {
  if (v === undefined) return '<undefined>';
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (v instanceof Error) return plainError(v);
  if (Buffer.isBuffer(v)) return { buffer: v.length <= 64 ? v.toString('latin1') : `${v.length} bytes, sum ${v.reduce((a, b) => a + b, 0)}` };
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'function') return `<function ${v.name}>`;
  if (typeof v === 'object') {
    if (v instanceof nodeDgram.Socket || v instanceof ours.Socket) return '<socket>';
    const o: { [k: string]: Plain } = {};
    for (const [k, val] of Object.entries(v)) o[k] = plain(val);
    return o;
  }
  return String(v);
}

export class Trace {
  readonly api: Api;
  private readonly entries: { ch: string; v: Plain }[] = [];
  private readonly portNames = new Map<number, string>();
  private readonly sockets: Sock[] = [];

  constructor(api: Api) {
    this.api = api;
  }

  /** Name a port so that it compares equal across the two runs. */
  name(port: number, label: string): number {
    this.portNames.set(port, label);
    return port;
  }

  log(ch: string, ...values: unknown[]): void {
    this.entries.push({ ch, v: values.length === 1 ? plain(values[0]) : values.map(plain) });
  }

  /** Entries of one channel so far (raw plain values), for waiting on them. */
  count(ch: string): number {
    return this.entries.filter((e) => e.ch === ch).length;
  }

  /** A callback that records its arguments. */
  cb(ch: string, label: string): (...args: unknown[]) => void {
    return (...args: unknown[]) => this.log(ch, label, ...args);
  }

  /** Run fn and record its result or what it threw. */
  call(ch: string, label: string, fn: () => unknown): unknown {
    try {
      const r = fn();
      this.log(ch, label, 'returned', r);
      return r;
    } catch (e) {
      this.log(ch, label, 'threw', e);
      return undefined;
    }
  }

  /** A socket of the API under test, closed at the end of the scenario. */
  sock(type: ours.SocketType | ours.SocketOptions, listener?: (msg: Buffer, rinfo: ours.RemoteInfo) => void): Sock {
    const s = this.api.createSocket(type, listener);
    this.sockets.push(s);
    return s;
  }

  track(s: Sock): Sock {
    this.sockets.push(s);
    return s;
  }

  /** Record the socket's events on channel ch. */
  watch(s: Sock, ch: string, events: readonly string[] = ['listening', 'connect', 'close', 'error', 'message']): Sock {
    for (const ev of events) s.on(ev, (...args: unknown[]) => this.log(ch, ev, ...args));
    return s;
  }

  /** Wait (bounded) until pred() holds. */
  async until(pred: () => boolean, what: string, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`${this.api.name}: timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Wait for n entries on a channel (then settle() catches extra ones). */
  async entriesOn(ch: string, n: number, ms = 3000): Promise<void> {
    await this.until(() => this.count(ch) >= n, `${n} entries on '${ch}'`, ms);
  }

  /**
   * Let what the scenario started deliver its events before it goes on (to
   * catch extra ones): a datagram between two fresh sockets of the API
   * under test, not watched, so they leave no entries. Its arrival needs
   * the event loop (and, for the layer, its reactor) to have dispatched
   * what was already under way. A marker instead of a fixed sleep.
   */
  async settle(): Promise<void> {
    const rx = this.api.createSocket('udp4');
    const tx = this.api.createSocket('udp4');
    try {
      await this.within(new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r())), 'the settle marker to bind');
      const got = new Promise<void>((r) => rx.once('message', () => r()));
      tx.send('settle', rx.address().port, '127.0.0.1');
      await this.within(got, 'the settle marker datagram');
    } finally {
      await this.within(Promise.all([rx, tx].map((s) => new Promise<void>((r) => s.close(() => r())))), 'the settle marker to close');
    }
  }

  /** Bound a promise. */
  async within<T>(p: Promise<T>, what: string, ms = 3000): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.api.name}: timed out after ${ms} ms: ${what}`)), ms);
    });
    try {
      return await Promise.race([p, t]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Run a program of several processes (dgram-fork.ts, case `which`) on the
   * API under test and record what it prints; bounded, its whole process
   * group is killed at the end. A failing program fails the scenario.
   */
  async fork(which: string, ms = 20000): Promise<void> {
    const script = fileURLToPath(new URL('./dgram-fork.js', import.meta.url));
    const child = spawn(process.execPath, [script, this.api.name, which], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      const code = await this.within(exit, `${which} to finish`, ms);
      if (code !== 0) throw new Error(`${this.api.name}: ${which} exited with ${code}: ${stderr}`);
    } finally {
      try {
        process.kill(-(child.pid ?? 0), 'SIGKILL');
      } catch {
        // the group is gone already
      }
    }
    for (const line of stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const rec = JSON.parse(line) as { ch: string; v: unknown[] };
      this.log(rec.ch, ...rec.v);
    }
  }

  /** Close every socket the scenario made (bounded), so nothing outlives it. */
  async cleanup(): Promise<void> {
    await Promise.all(
      this.sockets.map(async (s) => {
        try {
          const closed = new Promise<void>((r) => s.once('close', () => r()));
          s.close();
          await this.within(closed, 'close at cleanup', 3000);
        } catch {
          // already closed
        }
      }),
    );
  }

  private renamePort(n: number): string {
    return this.portNames.get(n) ?? 'EPH';
  }

  private normalize(v: Plain, key = ''): Plain {
    if (typeof v === 'number' && key === 'port') return this.renamePort(v);
    if (typeof v === 'number' && this.portNames.has(v)) return this.renamePort(v);
    if (typeof v === 'string') {
      return v
        .replace(/:(\d{4,5})\b/g, (_, p: string) => `:${this.renamePort(Number(p))}`)
        .replace(/\bport: (\d{1,5})\b/g, (_, p: string) => `port: ${this.renamePort(Number(p))}`);
    }
    if (Array.isArray(v)) return v.map((x) => this.normalize(x));
    if (v !== null && typeof v === 'object') {
      const o: { [k: string]: Plain } = {};
      for (const [k, val] of Object.entries(v)) o[k] = this.normalize(val, k);
      return o;
    }
    return v;
  }

  /** Channel -> entries, normalized; '~' channels sorted. */
  result(): Record<string, Plain[]> {
    const out: Record<string, Plain[]> = {};
    for (const e of this.entries) (out[e.ch] ??= []).push(this.normalize(e.v));
    for (const ch of Object.keys(out)) {
      if (ch.startsWith('~')) out[ch] = (out[ch] ?? []).map((x) => JSON.stringify(x)).sort().map((s) => JSON.parse(s) as Plain);
    }
    return out;
  }
}

export interface Scenario {
  readonly name: string;
  readonly run: (t: Trace) => Promise<void>;
  /** Backends on which this scenario cannot match node:dgram, with why. */
  readonly notOn?: Readonly<Record<string, string>>;
}

/** Run a scenario on one API; always cleans up. */
export async function runOn(api: Api, s: Scenario): Promise<Record<string, Plain[]>> {
  const t = new Trace(api);
  try {
    await s.run(t);
  } finally {
    await t.cleanup();
  }
  return t.result();
}

/**
 * Register the scenarios with node:test: each runs on node:dgram, then on
 * the layer, and the two records must be equal.
 */
export function defineParity(groups: readonly (readonly [string, readonly Scenario[]])[], backend: string): void {
  for (const [group, scenarios] of groups) {
    describe(`node:dgram parity: ${group}`, () => {
      for (const s of scenarios) {
        test(s.name, { skip: s.notOn?.[backend] ?? false }, async () => {
          const want = await runOn(nodeApi, s);
          const got = await runOn(oursApi, s);
          // DGRAM_PARITY_DUMP=file appends what was compared, for review.
          const dump = process.env.DGRAM_PARITY_DUMP;
          if (dump) appendFileSync(dump, `${JSON.stringify({ scenario: s.name, record: want })}\n`);
          assert.deepStrictEqual(got, want);
        });
      }
    });
  }
}
