/**
 * The tampering run (tamper.test.ts starts it in a child process, so that
 * a crash or a hang is seen from outside): seeded random writes to the
 * words of an object's shared memory that JS can reach (control words,
 * counters, receive entries, descriptors), at random moments (before
 * traffic, inside the batch handler, from a 'close' listener), each
 * followed by traffic and close. Prints one line of JSON:
 *   { iterations, hangs, doubleCallbacks, missingCallbacks, unclosed,
 *     objectsLeft, errors: { code: count } }
 * argv: kind (udp | file), seed, iterations. The backend comes from
 * IOURING_NET_BACKEND as for every test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFile, openUdp, type RecvBatch, type RingFile, type UdpSocket } from '../src/index.js';

const [kind = 'udp', seedArg = '1', itersArg = '40'] = process.argv.slice(2);
let seed = Number(seedArg) >>> 0 || 1;
const ITER = Number(itersArg);

/** xorshift32: the same seed gives the same run. */
function rand(): number {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
}
const NASTY = [0, -1, 1, 2, 7, 64, 1024, 0x7fffffff, -0x80000000, 0xffff, 65535, -2, 12, 16];
function value(): number {
  return rand() & 1 ? NASTY[rand() % NASTY.length]! : rand() | 0;
}

const summary = {
  iterations: 0,
  hangs: 0,
  doubleCallbacks: 0,
  missingCallbacks: 0,
  unclosed: 0,
  objectsLeft: 0,
  errors: {} as Record<string, number>,
};

function countError(err: unknown): void {
  const code = String((err as { code?: unknown }).code ?? (err as Error).name);
  summary.errors[code] = (summary.errors[code] ?? 0) + 1;
}

/** Wait for pred, at most ms; false on timeout (counted as a hang by callers). */
async function until(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 1));
  }
  return true;
}

/** The words of a shared block JS can write (the first `words` int32s: control, counters, entries). */
function tamper(view: Int32Array, words: number, n: number): void {
  for (let k = 0; k < n; k++) view[rand() % Math.min(words, view.length)] = value();
}

/** The binding behind an object (the addon, or the dgram driver). */
let native: { reactorInfo(): number[] } | undefined;
function nativeOf(o: object): { reactorInfo(): number[] } {
  const h = o as { native?: { reactorInfo(): number[] }; core?: { native: { reactorInfo(): number[] } } };
  return h.native ?? h.core!.native;
}

/** Internals a hostile caller can reach (TypeScript privacy is not runtime privacy). */
function memoryOf(o: object): Uint8Array {
  const holder = (o as { memory?: { bytes: Uint8Array }; core?: { memory: { bytes: Uint8Array } } });
  return (holder.memory ?? holder.core!.memory).bytes;
}

async function udpRound(): Promise<void> {
  const a: UdpSocket = openUdp({ type: 'udp4', address: '127.0.0.1', recvBuffers: 16, sendQueueSize: 32 });
  const b: UdpSocket = openUdp({ type: 'udp4', address: '127.0.0.1' });
  await Promise.all([a.ready, b.ready]);
  native ??= nativeOf(a);
  a.on('error', countError);
  b.on('error', countError);
  let closedA = false;
  a.once('close', () => {
    closedA = true;
  });
  const when = rand() % 3; // 0: before traffic, 1: in the handler, 2: in a close listener
  const words = 16 + 32 + 16 * 12 + 32 * 12; // ctrl, stats, rmeta, sdesc
  let view = new Int32Array(memoryOf(a).buffer);
  a.onBatch = (batch: RecvBatch) => {
    if (when === 1) tamper(new Int32Array(batch.bytes.buffer), words, 1 + (rand() % 4));
    for (let i = 0; i < batch.length && a.isOpen; i++) {
      try {
        a.reply(batch, i); // entries may be garbage now: a coded error
      } catch (err) {
        countError(err);
      }
    }
  };
  b.onBatch = () => undefined;
  if (when === 0) tamper(view, words, 1 + (rand() % 4));
  const calls = new Array<number>(40).fill(0);
  let accepted = 0;
  const aPort = a.address().port;
  const bPort = b.address().port;
  for (let k = 0; k < 40 && a.isOpen; k++) {
    try {
      const ok = a.send(Buffer.alloc(10 + k), bPort, '127.0.0.1', () => calls[k]!++);
      if (ok) accepted++;
      else calls[k] = -1; // refused: no callback may come
    } catch (err) {
      countError(err);
      calls[k] = -1;
    }
    b.send(Buffer.alloc(20), aPort, '127.0.0.1');
  }
  await until(() => calls.every((c) => c !== 0) || !a.isOpen, 1000);
  if (when === 2) {
    a.prependOnceListener('close', () => tamper(view, words, 1 + (rand() % 4)));
  }
  if (a.isOpen) a.close();
  if (b.isOpen) b.close();
  if (!(await until(() => closedA, 5000))) {
    summary.hangs++;
    summary.unclosed++;
  }
  view = new Int32Array(0);
  for (let k = 0; k < calls.length; k++) {
    if (calls[k]! > 1) summary.doubleCallbacks++;
    if (calls[k] === 0) summary.missingCallbacks++;
  }
  void accepted;
}

async function fileRound(dir: string): Promise<void> {
  const path = join(dir, `f${summary.iterations}`);
  const f: RingFile = openFile(path, { flags: 'w+', queueSize: 16 });
  native ??= nativeOf(f);
  const when = rand() % 2;
  const words = 16 + 32 + 16 * 12;
  const view = new Int32Array(memoryOf(f).buffer);
  if (when === 0) tamper(view, words, 1 + (rand() % 4));
  const settled = new Array<number>(20).fill(0);
  const ops: Promise<unknown>[] = [];
  for (let k = 0; k < 20; k++) {
    const p = k % 2 ? f.write(Buffer.alloc(100, k), k * 100) : f.read(50, 0);
    ops.push(
      p.then(
        () => settled[k]!++,
        (err) => {
          countError(err);
          settled[k]!++;
        },
      ),
    );
    if (when === 1 && k === 5) tamper(view, words, 1 + (rand() % 4));
  }
  if (!(await until(() => settled.every((s) => s > 0), 5000))) summary.hangs++;
  let closedOk = false;
  if (f.isOpen) {
    f.close().then(
      () => (closedOk = true),
      (err) => {
        countError(err);
        closedOk = true;
      },
    );
  } else {
    closedOk = true;
  }
  if (!(await until(() => closedOk, 5000))) {
    summary.hangs++;
    summary.unclosed++;
  }
  await Promise.allSettled(ops);
  for (const s of settled) {
    if (s > 1) summary.doubleCallbacks++;
    if (s === 0) summary.missingCallbacks++;
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ionet-tamper-'));
  try {
    for (let i = 0; i < ITER; i++) {
      if (kind === 'udp') await udpRound();
      else await fileRound(dir);
      summary.iterations++;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Every object finalized and its id released: the reactor holds none.
  await until(() => (native?.reactorInfo()[4] ?? 0) === 0, 5000);
  summary.objectsLeft = native?.reactorInfo()[4] ?? -1;
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`tamper-child failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
