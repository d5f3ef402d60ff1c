/**
 * `iouring-net tunnel`: create the TUN interface, give it its address,
 * bring it up, run the tunnel until SIGINT/SIGTERM, and take everything
 * down again. Failures during setup undo what was done, so a bad
 * configuration leaves no interface behind.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { TunnelArgs } from './args.js';
import { findNpmLauncher, watchProcess, type ProcessId } from './launcher.js';
import * as netdev from '../tun/netdev.js';
import { createTunnel, type Tunnel, type TunnelError } from '../tunnel/tunnel.js';
import { formatStats } from '../tunnel/stats.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;

/** Error codes that mean "the configuration is wrong", not "something broke". */
const CONFIG_CODES = new Set([
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_OUT_OF_RANGE',
  'ERR_SOCKET_BAD_PORT',
  'ERR_IOURING_NET_BACKEND_UNAVAILABLE',
  'EADDRINUSE',
  'EADDRNOTAVAIL',
]);

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function log(quiet: boolean, line: string): void {
  if (!quiet) process.stderr.write(`iouring-net tunnel: ${line}\n`);
}

/** A message a person can act on, and the exit status, for a setup error. */
export function describeSetupError(err: unknown, args: TunnelArgs, existed: boolean): CliError {
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? '';
  if (code === 'EADDRINUSE') return new CliError(`UDP ${args.listen} is already in use (${e.message})`, EXIT_CONFIG);
  if (code === 'EADDRNOTAVAIL') {
    return new CliError(`--listen ${args.listen}: that address is not assigned to any interface here (${e.message})`, EXIT_CONFIG);
  }
  if ((e as { syscall?: string }).syscall === 'TUNSETIFF' && existed && (code === 'EINVAL' || code === 'EBUSY')) {
    return new CliError(`--tun ${args.tun}: an interface of that name exists and is not a free TUN device (${e.message})`, EXIT_CONFIG);
  }
  const config = code.startsWith('ERR_TUNNEL_') || CONFIG_CODES.has(code);
  return new CliError(e.message ?? String(err), config ? EXIT_CONFIG : EXIT_FAILURE);
}

/** Queue length, address (once: an existing device may have it), up. */
function configureInterface(args: TunnelArgs, existed: boolean): void {
  netdev.ip(['link', 'set', 'dev', args.tun, 'txqueuelen', String(args.txqueuelen)]);
  try {
    netdev.addAddress(args.tun, args.address);
  } catch (err) {
    if (!(existed && /File exists/.test((err as Error).message))) throw err;
  }
  netdev.linkUp(args.tun);
}

/** Write our pid to path (whole or not at all: a reader never sees half a file). */
function writePidFile(path: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${process.pid}\n`);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new CliError(`--pid-file ${path}: ${(err as Error).message}`, EXIT_CONFIG);
  }
}

/** Remove the pid file if it is still ours (another tunnel may have taken the path since). */
function removePidFile(path: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
  } catch {
    // already gone
  }
}

/** Wait (bounded) for a created interface to go away, and delete it if it stays. */
export async function removeInterface(name: string): Promise<void> {
  for (let i = 0; i < 100 && netdev.linkExists(name); i++) await new Promise((r) => setTimeout(r, 20));
  if (netdev.linkExists(name)) netdev.deleteLink(name);
}

/** Run the tunnel until a signal stops it; resolves with the exit status. */
export async function runTunnel(args: TunnelArgs): Promise<number> {
  let existed: boolean;
  try {
    existed = netdev.linkExists(args.tun);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_FAILURE);
  }
  let tunnel: Tunnel;
  try {
    tunnel = await createTunnel({
      tun: { name: args.tun, mtu: args.mtu, ...(args.tunBackend !== undefined ? { backend: args.tunBackend } : {}) },
      listen: args.listen,
      peer: args.peer,
      backend: args.backend,
      offload: args.offload,
      quiet: args.quiet,
    });
  } catch (err) {
    throw describeSetupError(err, args, existed);
  }
  const cleanup = async (): Promise<void> => {
    if (args.pidFile !== undefined) removePidFile(args.pidFile);
    await tunnel.close();
    if (!existed) await removeInterface(args.tun);
  };
  try {
    configureInterface(args, existed);
    if (args.pidFile !== undefined) writePidFile(args.pidFile);
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err instanceof CliError ? err : describeSetupError(err, args, existed);
  }
  const local = tunnel.local;
  const b = tunnel.backend;
  const o = tunnel.tun.offloads;
  const on = (['csum', 'tso4', 'tso6', 'uso4', 'uso6'] as const).filter((k) => o[k]);
  const offloads = o.vnetHdr ? `offloads ${on.join(',') || 'none'}` : 'offloads off';
  log(
    args.quiet,
    `up: ${args.tun} ${args.address} mtu ${args.mtu}, udp ${local.address}:${local.port} <-> ${tunnel.peer.address}:${tunnel.peer.port}, backend ${b.udp} (tun ${b.tun}), ${offloads}, ${tunnel.nativeForwarding ? 'native' : 'js'} forwarding, pid ${process.pid}`,
  );
  const launcher = findNpmLauncher();
  if (launcher !== null) {
    log(
      args.quiet,
      `started through npm (pid ${launcher.pid}), which does not pass signals on: send them to pid ${process.pid}; ` +
        'the tunnel stops when npm exits (run ./node_modules/.bin/iouring-net directly to avoid npm)',
    );
  }
  return serve(tunnel, args, cleanup, launcher);
}

/** Signals, periodic counters and errors, until the tunnel stops. */
function serve(tunnel: Tunnel, args: TunnelArgs, cleanup: () => Promise<void>, launcher: ProcessId | null): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    let unwatch = (): void => undefined;
    const printStats = (): void => {
      process.stdout.write(`stats ${formatStats(tunnel.stats())}\n`);
    };
    const timer = args.stats > 0 ? setInterval(printStats, args.stats * 1000) : undefined;
    const rebind = (): void => {
      tunnel.rebind().then(
        () => log(args.quiet, `rebound: udp ${tunnel.local.address}:${tunnel.local.port} (${tunnel.stats().rebinds} rebinds)`),
        (err: Error) => process.stderr.write(`iouring-net tunnel: rebind failed, keeping the old socket: ${err.message}\n`),
      );
    };
    const stop = (code: number): void => {
      if (stopping) return;
      stopping = true;
      unwatch();
      if (timer) clearInterval(timer);
      process.off('SIGHUP', rebind);
      process.off('SIGUSR1', printStats);
      cleanup().then(
        () => resolve(code),
        (err: Error) => {
          process.stderr.write(`iouring-net tunnel: cleanup failed: ${err.message}\n`);
          resolve(EXIT_FAILURE);
        },
      );
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`iouring-net tunnel: ${signal} again, exiting now\n`);
        process.exit(EXIT_FAILURE);
      }
      log(args.quiet, `${signal}: stopping`);
      stop(EXIT_OK);
    };
    if (launcher !== null) {
      // npm died (e.g. `kill <npx pid>`): its sh is gone too, so nobody would stop us.
      unwatch = watchProcess(launcher, () => {
        log(args.quiet, `npm (pid ${launcher.pid}), which started the tunnel, has exited: stopping`);
        stop(EXIT_OK);
      });
    }
    process.on('SIGHUP', rebind);
    process.on('SIGUSR1', printStats);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    tunnel.on('error', (err: TunnelError) => {
      process.stderr.write(`iouring-net tunnel: ${err.source ?? ''} error: ${err.message}\n`);
      // A broken socket is replaced; a TUN device that cannot be read ends the tunnel.
      if (err.source === 'udp') rebind();
      else stop(EXIT_FAILURE);
    });
  });
}
