/**
 * Command-line arguments of `iouring-net tunnel`: parsed with node:util
 * parseArgs and checked here, before anything is created, so that a bad
 * configuration costs nothing to undo. Problems throw UsageError (exit 2).
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import type { BackendChoice, FileBackendChoice } from '../core/backend.js';
import { checkListenAddress, parseHostPort } from '../tunnel/addr.js';

export class UsageError extends Error {}

export const TUNNEL_USAGE = `Usage: iouring-net tunnel --tun NAME --address CIDR --listen [ADDR:]PORT --peer HOST:PORT [options]

Carries IP packets between a TUN interface and a peer over UDP: packets read
from the interface go to the peer, one per datagram; datagrams from the peer
(and only from it) are written to the interface.

Options:
  --tun NAME             TUN interface to create (removed on exit unless it existed before)
  --address CIDR         address of the interface, e.g. 10.10.0.1/24 or fd00:10::1/64
  --listen [ADDR:]PORT   local UDP address and port; [IPV6]:PORT for IPv6
  --peer HOST:PORT       the other end ([IPV6]:PORT); a host name is resolved once
  --mtu N                interface MTU (default 1420: 1500 minus IPv6 + UDP headers, with room)
  --txqueuelen N         packets the kernel queues for the tunnel to read (default 1000; the
                         kernel's 500 drops bursts of a fast TCP flow)
  --backend NAME         UDP backend: auto (default), io_uring, mmsg, dgram
  --tun-backend NAME     TUN backend: auto (default), io_uring, poll
  --offload MODE         TUN offloads (TSO/USO super-segments, coalesced writes) and
                         native forwarding: auto (default: where the kernel has them),
                         on (fail without them), off (plain packets, copied by JS)
  --stats SECONDS        print the counters every SECONDS seconds
  --pid-file PATH        write the tunnel's pid to PATH once it is up (removed on exit)
  -q, --quiet            no startup line and no fallback warning
  -h, --help             this text

Signals: SIGHUP replaces the UDP socket (rebind), SIGUSR1 prints the counters,
SIGINT and SIGTERM stop the tunnel and remove the interface. Send them to the
tunnel's own pid (printed at start, or --pid-file), not to npx/npm: npm does
not pass them on. Started by npx or npm, the tunnel stops when npm exits.
Exit status: 0 after SIGINT/SIGTERM, 1 on a failure, 2 on a bad configuration.`;

export const WIREGUARD_USAGE = `Usage: iouring-net wireguard [-f|--foreground] INTERFACE
       iouring-net-wireguard [-f|--foreground] INTERFACE

A userspace WireGuard interface, run as wireguard-go is run: it creates the
TUN interface INTERFACE (down, no addresses) and serves the cross-platform
userspace API on /var/run/wireguard/INTERFACE.sock, so that wg(8) and
wg-quick(8) configure it (WG_QUICK_USERSPACE_IMPLEMENTATION=iouring-net-wireguard).
It goes to the background once the interface and the socket exist, unless
-f is given. SIGTERM or SIGINT, or deleting the interface, stop it: the
interface and the socket are removed.

Options:
  -f, --foreground   stay in the foreground
  -h, --help         this text

Environment:
  WG_PROCESS_FOREGROUND=1       same as -f
  LOG_LEVEL=verbose|error|silent  what is logged (default error); in the
                                background, logs are kept only if LOG_LEVEL is set
  IOURING_NET_BACKEND=NAME      UDP backend: io_uring, mmsg or dgram (default: the best one)

Exit status: 0 once running in the background, or after SIGINT/SIGTERM;
1 when setting up failed; 2 on a bad command line.`;

export const MAIN_USAGE = `Usage: iouring-net <command> [options]

Commands:
  tunnel      a TUN <-> UDP tunnel (iouring-net tunnel --help)
  wireguard   a userspace WireGuard interface, as wireguard-go (iouring-net wireguard --help)

Options:
  -h, --help       this text
  -v, --version    the version`;

export interface TunnelArgs {
  tun: string;
  /** Interface address with its prefix length. */
  address: string;
  listen: string;
  peer: string;
  mtu: number;
  txqueuelen: number;
  backend: BackendChoice;
  /** undefined: the library's default (auto, or what IOURING_NET_BACKEND implies). */
  tunBackend: FileBackendChoice | undefined;
  /** TUN offloads: 'auto', true (on) or false (off). */
  offload: boolean | 'auto';
  /** Seconds between counter lines; 0 = never. */
  stats: number;
  /** Where to write the pid once the tunnel is up. */
  pidFile: string | undefined;
  quiet: boolean;
}

const BACKENDS: readonly string[] = ['auto', 'io_uring', 'mmsg', 'dgram'];
const TUN_BACKENDS: readonly string[] = ['auto', 'io_uring', 'poll'];

/** Linux's dev_valid_name(), and no leading '-' (it would read as an option of ip). */
function checkIfName(name: string): string {
  if (name === '' || Buffer.byteLength(name) > 15 || name === '.' || name === '..' || /[/:\s]/.test(name) || name.startsWith('-')) {
    throw new UsageError(`--tun: "${name}" is not a valid interface name (1-15 bytes, no "/", ":" or spaces)`);
  }
  return name;
}

/** ADDR/PREFIX with a prefix length that fits the family. */
export function checkCidr(text: string): string {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) throw new UsageError(`--address: "${text}" is not ADDRESS/PREFIX (e.g. 10.10.0.1/24)`);
  const family = isIP(m[1] ?? '');
  if (family === 0) throw new UsageError(`--address: "${m[1]}" is not an IP address`);
  const prefix = Number(m[2]);
  const max = family === 4 ? 32 : 128;
  if (prefix > max) throw new UsageError(`--address: prefix /${prefix} is too long for IPv${family} (at most /${max})`);
  return text;
}

function required(v: string | undefined, flag: string): string {
  if (v === undefined || v === '') throw new UsageError(`${flag} is required`);
  return v;
}

function intArg(v: string | undefined, flag: string, min: number, max: number, def: number): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`${flag}: "${v}" must be an integer from ${min} to ${max}`);
  return Number(v);
}

/** The arguments after `tunnel`; 'help' for --help. */
export function parseTunnelArgs(argv: readonly string[]): TunnelArgs | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        tun: { type: 'string' },
        address: { type: 'string' },
        listen: { type: 'string' },
        peer: { type: 'string' },
        mtu: { type: 'string' },
        txqueuelen: { type: 'string' },
        backend: { type: 'string' },
        'tun-backend': { type: 'string' },
        offload: { type: 'string' },
        stats: { type: 'string' },
        'pid-file': { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const listen = required(values.listen, '--listen');
  const lp = wrap(() => parseHostPort(listen, '--listen', { portOnly: true, allowZero: false }));
  if (lp.host !== '') wrap(() => checkListenAddress(lp.host, '--listen'));
  const peer = required(values.peer, '--peer');
  wrap(() => parseHostPort(peer, '--peer', { portOnly: false, allowZero: false }));
  const backend = values.backend ?? 'auto';
  if (!BACKENDS.includes(backend)) throw new UsageError(`--backend: "${backend}" is not one of ${BACKENDS.join(', ')}`);
  const tunBackend = values['tun-backend'];
  if (tunBackend !== undefined && !TUN_BACKENDS.includes(tunBackend)) {
    throw new UsageError(`--tun-backend: "${tunBackend}" is not one of ${TUN_BACKENDS.join(', ')}`);
  }
  const offload = values.offload ?? 'auto';
  if (!['auto', 'on', 'off'].includes(offload)) throw new UsageError(`--offload: "${offload}" is not one of auto, on, off`);
  const stats = values.stats === undefined ? 0 : Number(values.stats);
  if (values.stats !== undefined && !(stats > 0 && stats <= 86400)) throw new UsageError(`--stats: "${values.stats}" must be a number of seconds (0 < s <= 86400)`);
  return {
    tun: checkIfName(required(values.tun, '--tun')),
    address: checkCidr(required(values.address, '--address')),
    listen,
    peer,
    mtu: intArg(values.mtu, '--mtu', 68, 65535, 1420),
    txqueuelen: intArg(values.txqueuelen, '--txqueuelen', 1, 1_000_000, 1000),
    backend: backend as BackendChoice,
    tunBackend: tunBackend as FileBackendChoice | undefined,
    offload: offload === 'auto' ? 'auto' : offload === 'on',
    stats,
    pidFile: values['pid-file'] === undefined ? undefined : required(values['pid-file'], '--pid-file'),
    quiet: values.quiet === true,
  };
}

export interface WireGuardArgs {
  interface: string;
  /** -f/--foreground (WG_PROCESS_FOREGROUND=1 is read by the command). */
  foreground: boolean;
}

/** The arguments after `wireguard`, as wireguard-go takes them; 'help' for --help. */
export function parseWireGuardArgs(argv: readonly string[]): WireGuardArgs | 'help' {
  let foreground = false;
  const names: string[] = [];
  for (const a of argv) {
    if (a === '-f' || a === '--foreground') foreground = true;
    else if (a === '-h' || a === '--help') return 'help';
    else if (a.startsWith('-')) throw new UsageError(`unknown option "${a}"`);
    else names.push(a);
  }
  if (names.length !== 1) throw new UsageError(names.length === 0 ? 'the interface name is required' : 'only one interface name is allowed');
  const name = names[0] ?? '';
  if (name === '' || Buffer.byteLength(name) > 15 || name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw new UsageError(`"${name}" is not a valid interface name (1-15 bytes, no "/", ":" or spaces)`);
  }
  return { interface: name, foreground };
}

/** Address errors from tunnel-addr.ts are usage errors here. */
function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
