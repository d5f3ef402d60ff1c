/**
 * `iouring-net wireguard [-f|--foreground] INTERFACE` (also installed as
 * `iouring-net-wireguard`): a userspace WireGuard interface that behaves
 * as `wireguard-go [-f] INTERFACE` does, so that wg(8) and wg-quick(8)
 * drive it unchanged.
 *
 * - The foreground process creates the TUN interface (createWireGuard:
 *   MTU 1420, down, no addresses) and serves the UAPI on
 *   /var/run/wireguard/INTERFACE.sock (serveUapi over device.uapi()), then
 *   runs until SIGTERM
 *   or SIGINT, or until the interface is deleted (`wg-quick down` does
 *   `ip link delete`), and takes both away.
 * - Without -f (and without WG_PROCESS_FOREGROUND=1) it daemonizes the way
 *   wireguard-go does: it starts itself again, detached (its own session,
 *   standard input from /dev/null), with WG_PROCESS_FOREGROUND=1 in the
 *   environment, and exits once that child reports that the interface and
 *   the socket are up (so `wg set` can follow at once, as wg-quick does), or
 *   with status 1 and the child's error if it could not set up. (wireguard-go
 *   creates both in the parent and hands the child their descriptors; here
 *   the child creates them and reports over a pipe, since the io_uring
 *   state behind them belongs to the process that made it.) Its output goes
 *   to /dev/null unless LOG_LEVEL is set, as wireguard-go's.
 * - SIGUSR1 (not in wireguard-go) prints the device's counters as one line,
 *   `stats {JSON of device.stats()}`, on standard output.
 */
import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import type { WireGuardArgs } from './args.js';
import * as netdev from '../tun/netdev.js';
import { createWireGuard } from '../wireguard/create.js';
import type { WireGuardDevice } from '../wireguard/device.js';
import type { HandshakeEvent } from '../wireguard/device-types.js';
import { serveUapi, type UapiServer } from '../wireguard/uapi-server.js';
import { CliError, EXIT_FAILURE, EXIT_OK, removeInterface } from './tunnel.js';

/** The environment variable of wireguard-go that means "run in the foreground". */
export const ENV_FOREGROUND = 'WG_PROCESS_FOREGROUND';
/** The descriptor on which a daemon child reports that it is up. */
const ENV_READY_FD = 'IOURING_NET_WG_READY_FD';
const READY_FD = 3;
/** How long a parent waits for its daemon to come up. */
const DAEMON_START_MS = 60_000;
/** How long a parent waits for a daemon that failed to set up to exit. */
const CHILD_EXIT_MS = 5000;

type LogLevel = 0 | 1 | 2;
const SILENT: LogLevel = 0;
const ERROR: LogLevel = 1;
const VERBOSE: LogLevel = 2;

/** LOG_LEVEL as wireguard-go reads it: verbose|debug, error (default), silent. */
function logLevel(): LogLevel {
  switch (process.env.LOG_LEVEL) {
    case 'verbose':
    case 'debug':
      return VERBOSE;
    case 'silent':
      return SILENT;
    default:
      return ERROR;
  }
}

class Logger {
  constructor(
    private readonly level: LogLevel,
    private readonly name: string,
  ) {}

  verbose(line: string): void {
    if (this.level >= VERBOSE) process.stdout.write(`DEBUG: (${this.name}) ${line}\n`);
  }

  error(line: string): void {
    if (this.level >= ERROR) process.stderr.write(`ERROR: (${this.name}) ${line}\n`);
  }
}

/** Run the command; resolves with the exit status. */
export async function runWireGuard(args: WireGuardArgs): Promise<number> {
  const foreground = args.foreground || process.env[ENV_FOREGROUND] === '1';
  if (!foreground) return daemonize(args);
  return runForeground(args);
}

/** A daemon child tells its parent how setting up went (once). */
function report(line: string): void {
  if (process.env[ENV_READY_FD] !== String(READY_FD)) return;
  delete process.env[ENV_READY_FD];
  try {
    writeSync(READY_FD, `${line.replace(/\n/g, ' ')}\n`);
    closeSync(READY_FD);
  } catch {
    // The parent is gone: nobody to tell.
  }
}

/** Create the interface and the UAPI socket, then serve until stopped. */
async function runForeground(args: WireGuardArgs): Promise<number> {
  const name = args.interface;
  const log = new Logger(logLevel(), name);
  let device: WireGuardDevice;
  let uapi: UapiServer;
  try {
    device = await createWireGuard({ interface: name, quiet: true });
  } catch (err) {
    const msg = `Failed to create the TUN device: ${(err as Error).message}`;
    report(`error ${msg}`);
    throw new CliError(msg, EXIT_FAILURE);
  }
  try {
    uapi = await serveUapi(device.uapi(), {
      interfaceName: name,
      onError: (err) => log.verbose(`UAPI: ${err.message}`),
    });
  } catch (err) {
    await device.close().catch(() => undefined);
    await removeInterface(name).catch(() => undefined);
    const msg = `UAPI listen error: ${(err as Error).message}`;
    report(`error ${msg}`);
    throw new CliError(msg, EXIT_FAILURE);
  }
  log.verbose(`Device started (UDP ${device.backend.udp}, TUN ${device.backend.tun}, port ${device.listenPort})`);
  log.verbose('UAPI listener started');
  report('ok');
  return serve(device, uapi, name, log);
}

/** Signals and device events until the device stops. */
function serve(device: WireGuardDevice, uapi: UapiServer, name: string, log: Logger): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (code: number): void => {
      if (stopping) return;
      stopping = true;
      log.verbose('Shutting down');
      // The socket first (wg stops finding the interface), then the device,
      // whose TUN interface goes away with its descriptor.
      uapi
        .close()
        .then(() => device.close())
        .then(() => removeInterface(name))
        .then(
          () => resolve(code),
          (err: Error) => {
            log.error(`cleanup failed: ${err.message}`);
            resolve(EXIT_FAILURE);
          },
        );
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.error(`${signal} again, exiting now`);
        process.exit(EXIT_FAILURE);
      }
      log.verbose(`${signal}: stopping`);
      stop(EXIT_OK);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Not in wireguard-go: the device's counters (drops by reason too), one JSON line.
    process.on('SIGUSR1', () => process.stdout.write(`stats ${JSON.stringify(device.stats())}\n`));
    device.on('handshake', (e: HandshakeEvent) => log.verbose(`peer ${e.publicKey}: handshake completed (${e.initiator ? 'initiator' : 'responder'})`));
    device.on('roam', (e: { publicKey: string; endpoint: string }) => log.verbose(`peer ${e.publicKey}: endpoint ${e.endpoint}`));
    device.on('error', (err: Error & { source?: string }) => {
      if (err.source !== 'tun') {
        log.error(`${err.source ?? 'device'} error: ${err.message}`);
        return;
      }
      // The TUN device cannot be read: the interface was deleted (wg-quick
      // down), or it broke. Either way the device is over, as wireguard-go's.
      const gone = !netdev.linkExists(name);
      if (gone) log.verbose('the interface was deleted');
      else log.error(`TUN error: ${err.message}`);
      stop(gone ? EXIT_OK : EXIT_FAILURE);
    });
  });
}

/**
 * Start this command again, detached, in the foreground mode; resolve with
 * 0 once it reports that it is up, or fail with its error.
 */
function daemonize(args: WireGuardArgs): Promise<number> {
  const keepLogs = process.env.LOG_LEVEL !== undefined && logLevel() !== SILENT;
  const out = keepLogs ? 'inherit' : 'ignore';
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: ['ignore', out, out, 'pipe'],
    env: { ...process.env, [ENV_FOREGROUND]: '1', [ENV_READY_FD]: String(READY_FD) },
  });
  const pipe = child.stdio[READY_FD];
  return new Promise<number>((resolve, reject) => {
    let text = '';
    let line: string | undefined;
    let exit: string | undefined;
    let pipeClosed = false;
    let settled = false;
    let late: NodeJS.Timeout | undefined;
    const finish = (err: CliError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(late);
      pipe?.destroy();
      child.unref();
      if (err) reject(err);
      else resolve(EXIT_OK);
    };
    // 'ok': up. An error line: the child cleaned up and exits; report once
    // it is gone (bounded). Exit without a line: once the pipe is drained.
    const decide = (): void => {
      if (line === 'ok') return finish(undefined);
      if (line !== undefined && exit !== undefined) return finish(new CliError(line.replace(/^error /, ''), EXIT_FAILURE));
      if (line === undefined && exit !== undefined && pipeClosed) {
        finish(new CliError(`the daemon exited during setup (${exit})`, EXIT_FAILURE));
      }
    };
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      finish(new CliError(`the daemon for ${args.interface} did not come up within ${DAEMON_START_MS / 1000} s`, EXIT_FAILURE));
    }, DAEMON_START_MS);
    child.once('error', (err) => finish(new CliError(`Failed to daemonize: ${err.message}`, EXIT_FAILURE)));
    child.once('exit', (code, signal) => {
      exit = signal ?? `status ${code}`;
      decide();
    });
    pipe?.on('data', (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl < 0 || line !== undefined) return;
      line = text.slice(0, nl);
      if (line !== 'ok') late = setTimeout(() => finish(new CliError((line ?? '').replace(/^error /, ''), EXIT_FAILURE)), CHILD_EXIT_MS);
      decide();
    });
    pipe?.on('close', () => {
      pipeClosed = true;
      decide();
    });
    pipe?.on('error', () => undefined);
  });
}
