/**
 * Helpers to configure network interfaces (a TUN device after openTun()):
 * bring it up, give it addresses and routes, set its MTU, move it to a
 * network namespace, delete it. They run iproute2's `ip` synchronously
 * (execFileSync, a 10 s limit each) and are meant for setup and tests,
 * never for the data path. They need CAP_NET_ADMIN, like `ip` itself.
 *
 * Every helper takes `{ netns }` to act inside a named network namespace
 * (`ip -n NAME ...`, as made by `ip netns add NAME`).
 *
 * Errors: ERR_NETDEV_NO_IP when `ip` is not installed (Debian: apt-get
 * install iproute2), ERR_NETDEV_COMMAND when it fails; the message holds
 * the command and what `ip` printed.
 */
import { execFileSync } from 'node:child_process';
import { CodedError, invalidArgType, invalidArgValue, outOfRange } from '../core/errors.js';

export interface NetdevOptions {
  /** Act inside this named network namespace (ip -n). */
  netns?: string;
}

export interface AddressOptions extends NetdevOptions {
  /** IPv6: skip duplicate address detection, so the address works at once (default true). */
  nodad?: boolean;
  /** Point-to-point peer address (ip addr add LOCAL peer PEER). */
  peer?: string;
}

/** The program to run; tests may point it elsewhere. */
const IP = process.env.IOURING_NET_IP ?? 'ip';
const TIMEOUT_MS = 10_000;

function checkName(what: string, v: unknown): string {
  if (typeof v !== 'string') throw invalidArgType(what, 'of type string', v);
  if (v.length === 0 || Buffer.byteLength(v) > 15 || /[/:\s]/.test(v) || v.startsWith('-')) {
    throw invalidArgValue(what, v, 'must be an interface name of at most 15 bytes without "/", ":" or spaces');
  }
  return v;
}

function checkNetns(opts: NetdevOptions | undefined): string[] {
  const ns = opts?.netns;
  if (ns === undefined) return [];
  if (typeof ns !== 'string' || ns.length === 0 || ns.startsWith('-') || /[/\s]/.test(ns)) {
    throw invalidArgValue('options.netns', ns, 'must be a network namespace name');
  }
  return ['-n', ns];
}

/** An address with a prefix length, such as 10.0.0.1/24 or fd00::1/64. */
function checkCidr(v: unknown): string {
  if (typeof v !== 'string') throw invalidArgType('address', 'of type string', v);
  if (!/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(v)) throw invalidArgValue('address', v, 'must be an IP address with an optional /prefix');
  return v;
}

/**
 * Run `ip` with these arguments; returns its standard output. Throws
 * ERR_NETDEV_NO_IP or ERR_NETDEV_COMMAND.
 */
export function ip(args: readonly string[], opts?: NetdevOptions): string {
  const argv = [...checkNetns(opts), ...args];
  try {
    return execFileSync(IP, argv, { encoding: 'utf8', timeout: TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; status?: number | null };
    if (err.code === 'ENOENT') {
      throw new CodedError('ERR_NETDEV_NO_IP', `the \`${IP}\` command (iproute2) was not found: install it (Debian: apt-get install iproute2)`);
    }
    const said = (err.stderr ?? '').trim() || err.message;
    throw new CodedError('ERR_NETDEV_COMMAND', `${IP} ${argv.join(' ')} failed: ${said}`);
  }
}

/** Bring the interface up (ip link set dev NAME up). */
export function linkUp(name: string, opts?: NetdevOptions): void {
  ip(['link', 'set', 'dev', checkName('name', name), 'up'], opts);
}

/** Take the interface down. */
export function linkDown(name: string, opts?: NetdevOptions): void {
  ip(['link', 'set', 'dev', checkName('name', name), 'down'], opts);
}

/** Add an address with its prefix, e.g. '10.0.0.1/24' (ip addr add). */
export function addAddress(name: string, address: string, opts?: AddressOptions): void {
  const args = ['addr', 'add', checkCidr(address)];
  if (opts?.peer !== undefined) args.push('peer', checkCidr(opts.peer));
  args.push('dev', checkName('name', name));
  if (address.includes(':') && opts?.nodad !== false) args.push('nodad');
  ip(args, opts);
}

/** Set the interface MTU (ip link set dev NAME mtu N). */
export function setMtu(name: string, mtu: number, opts?: NetdevOptions): void {
  if (typeof mtu !== 'number') throw invalidArgType('mtu', 'of type number', mtu);
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw outOfRange('mtu', '>= 68 and <= 65535', mtu);
  ip(['link', 'set', 'dev', checkName('name', name), 'mtu', String(mtu)], opts);
}

/** The interface MTU, read from `ip -o link show`. */
export function getMtu(name: string, opts?: NetdevOptions): number {
  const out = ip(['-o', 'link', 'show', 'dev', checkName('name', name)], opts);
  const m = / mtu (\d+)/.exec(out);
  if (!m) throw new CodedError('ERR_NETDEV_COMMAND', `no MTU in the output of ip link show ${name}: ${out.trim()}`);
  return Number(m[1]);
}

/** Route a prefix through the interface (ip route add PREFIX dev NAME). */
export function addRoute(prefix: string, name: string, opts?: NetdevOptions): void {
  ip(['route', 'add', checkCidr(prefix), 'dev', checkName('name', name)], opts);
}

/** Move the interface into a named network namespace (an open TUN fd keeps working). */
export function moveToNetns(name: string, netns: string, opts?: NetdevOptions): void {
  checkNetns({ netns });
  ip(['link', 'set', 'dev', checkName('name', name), 'netns', netns], opts);
}

/** Delete the interface (a persistent TUN device, for one). */
export function deleteLink(name: string, opts?: NetdevOptions): void {
  ip(['link', 'del', 'dev', checkName('name', name)], opts);
}

/** True if the interface exists (in the namespace, with opts.netns). */
export function linkExists(name: string, opts?: NetdevOptions): boolean {
  try {
    ip(['link', 'show', 'dev', checkName('name', name)], opts);
    return true;
  } catch (e) {
    if ((e as CodedError).code === 'ERR_NETDEV_COMMAND') return false;
    throw e;
  }
}
