/**
 * Child script for the seccomp tests (test/seccomp.test.ts), run with or
 * without test/native/seccomp-run around it. It reports, as one line of JSON
 * on stdout (the ChildReport type):
 *
 * - probe(), and how many seccomp filters this process runs under;
 * - what openUdp({ type: 'udp4', address: '127.0.0.1' }) did: the error it
 *   threw (code, message), or, when it opened, the socket's backend and the
 *   result of a send/receive round trip between two sockets on loopback.
 *
 * The child never decides what is right; the test does.
 */
import { readFileSync } from 'node:fs';
import { openUdp, probe, type ProbeResult, type UdpSocket } from '../src/index.js';

export interface ErrorInfo {
  code: string | null;
  message: string;
}

export interface RoundTrip {
  ok: boolean;
  /** What the sender got back (an echo of what it sent, when ok). */
  received?: string;
  error?: ErrorInfo;
}

export type OpenResult =
  | { ok: false; error: ErrorInfo }
  | { ok: true; backend: string; roundTrip: RoundTrip };

export interface ChildReport {
  /** Seccomp_filters from /proc/self/status (null if the kernel hides it). */
  seccompFilters: number | null;
  probe: ProbeResult;
  open: OpenResult;
}

const ROUND_TRIP_MS = 5000;

function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : null, message: err.message };
  }
  return { code: null, message: String(err) };
}

function seccompFilters(): number | null {
  try {
    const m = /^Seccomp_filters:\s*(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** `b` sends to `a`, `a` echoes it back, `b` must receive the same bytes. */
function roundTrip(a: UdpSocket, b: UdpSocket): Promise<RoundTrip> {
  const payload = `seccomp-child ${process.pid}`;
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: RoundTrip): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, error: { code: null, message: `no echo within ${ROUND_TRIP_MS} ms` } }), ROUND_TRIP_MS);
    a.onBatch = (batch) => {
      for (let i = 0; i < batch.length; i++) a.reply(batch, i);
    };
    b.onBatch = (batch) => {
      for (let i = 0; i < batch.length; i++) {
        const received = batch.copy(i).toString('utf8');
        finish({ ok: received === payload, received });
      }
    };
    a.on('error', (err: unknown) => finish({ ok: false, error: errorInfo(err) }));
    b.on('error', (err: unknown) => finish({ ok: false, error: errorInfo(err) }));
    const sent = b.send(Buffer.from(payload), a.address().port, '127.0.0.1', (err) => {
      if (err) finish({ ok: false, error: errorInfo(err) });
    });
    if (!sent) finish({ ok: false, error: { code: null, message: 'send() returned false on an empty socket' } });
  });
}

async function tryOpen(): Promise<OpenResult> {
  const opened: UdpSocket[] = [];
  try {
    const a = openUdp({ type: 'udp4', address: '127.0.0.1' });
    opened.push(a);
    const b = openUdp({ type: 'udp4', address: '127.0.0.1' });
    opened.push(b);
    // The dgram backend binds asynchronously.
    await Promise.all([a.ready, b.ready]);
    const backend: string = a.backend;
    return { ok: true, backend, roundTrip: await roundTrip(a, b) };
  } catch (err) {
    return { ok: false, error: errorInfo(err) };
  } finally {
    for (const s of opened) {
      try {
        s.close();
      } catch {
        // Already closed: nothing to release.
      }
    }
  }
}

const report: ChildReport = { seccompFilters: seccompFilters(), probe: probe(), open: await tryOpen() };
process.stdout.write(`${JSON.stringify(report)}\n`);
