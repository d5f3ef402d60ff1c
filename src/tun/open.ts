/**
 * openTun() and wrapTun(): TUNSETIFF (or an fd someone else attached),
 * IFF_VNET_HDR and TUNSETOFFLOAD as the offload option asks, and a
 * TunDevice over the fd.
 */
import { closeSync } from 'node:fs';
import { CodedError, errnoException, invalidArgType, invalidArgValue, outOfRange, type SystemError } from '../core/errors.js';
import * as F from '../file/binding.js';
import { fileSite, intInRange } from '../file/file.js';
import { TunDevice } from './device.js';
import { checkBool, checkIfName, MAX_IP_PACKET, resolveIo, type ResolvedIo, type TunOffloadChoice, type TunOptions, type WrapTunOptions } from './options.js';

const EINVAL = -22;
/** vnet: read buffers at most (64 KiB + the split area each: the shared memory stays under 1 GiB). */
const MAX_VNET_READS = 4096;
const TUN_F_TSO = F.TUN_F_CSUM | F.TUN_F_TSO4 | F.TUN_F_TSO6;

/** A Node-style error for a failed open, saying what to fix. */
function openError(negErrno: number, stage: number, name: string): SystemError {
  const what = name ? `the TUN device ${name}` : 'a TUN device';
  let err: SystemError;
  let hint = '';
  if (stage === F.TUN_STAGE_OPEN) {
    err = errnoException(negErrno, 'open', '/dev/net/tun');
    if (err.code === 'ENOENT') hint = '/dev/net/tun is missing: load the tun module (modprobe tun), or pass the device into the container';
    if (err.code === 'EACCES' || err.code === 'EPERM') hint = 'opening /dev/net/tun needs read-write access to it and the CAP_NET_ADMIN capability';
  } else if (stage === F.TUN_STAGE_SETIFF) {
    err = errnoException(negErrno, 'TUNSETIFF', name || undefined);
    if (err.code === 'EPERM') {
      hint = `creating or attaching to ${what} needs the CAP_NET_ADMIN capability: run as root, or grant it (setcap cap_net_admin+ep "$(command -v node)")`;
    }
    if (err.code === 'EBUSY') hint = `${what} is already open (use multiQueue for more queues)`;
    if (err.code === 'EINVAL') hint = `${what} exists with other flags (TAP, packetInfo or multiQueue differ), or the name is taken`;
  } else if (stage === F.TUN_STAGE_PERSIST) {
    err = errnoException(negErrno, 'TUNSETPERSIST', name || undefined);
  } else {
    err = errnoException(negErrno, 'SIOCSIFMTU', name || undefined);
    if (err.code === 'EINVAL') hint = 'the MTU is out of range for a TUN device (68 to 65535)';
  }
  if (hint) err.message = `${err.message}: ${hint}`;
  return err;
}

/** A device with offloads holds 64 KiB per read buffer: at most MAX_VNET_READS. */
function checkVnetReads(io: ResolvedIo, vnet: boolean): void {
  if (vnet && io.readBuffers !== undefined && io.readBuffers > MAX_VNET_READS) {
    throw outOfRange('options.readBuffers', `<= ${MAX_VNET_READS} with offloads (each buffer holds a 64 KiB super-segment)`, io.readBuffers);
  }
}

/**
 * TUNSETVNETHDRSZ + TUNSETOFFLOAD on an fd with IFF_VNET_HDR: the TUN_F_*
 * set the kernel took (it drops what it lacks, feature by feature). With
 * offload true, less than checksum + TSO throws (the fd is closed when
 * closeOnError, i.e. openTun made it); false asks for none. 'auto' never
 * throws: a refusal means no offloads, the fd still carries headers.
 */
function enableOffloads(native: F.FileBinding, fd: number, offload: TunOffloadChoice, closeOnError = true): number {
  const got = native.tunEnableOffload(fd, offload === false ? 0 : F.TUN_F_ALL);
  if (offload !== true) return got < 0 ? 0 : got;
  if (got >= 0 && (got & TUN_F_TSO) === TUN_F_TSO) return got;
  if (closeOnError) closeSync(fd);
  const why = got < 0 ? errnoException(got, 'TUNSETOFFLOAD').message : `the kernel took only features 0x${got.toString(16)}`;
  throw new CodedError('ERR_TUN_OFFLOAD_UNAVAILABLE', `TUN offloads (checksum + TSO) are not available: ${why}`);
}

/**
 * Create a TUN interface through /dev/net/tun (TUNSETIFF), or attach to an
 * existing one by name (for multiQueue or persistent devices). Needs
 * CAP_NET_ADMIN. The interface starts down and without an address: see
 * the helpers in netdev.ts (linkUp, addAddress, setMtu).
 */
export function openTun(options: TunOptions = {}): TunDevice {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const name = checkIfName(options.name);
  const packetInfo = checkBool('options.packetInfo', options.packetInfo);
  const multiQueue = checkBool('options.multiQueue', options.multiQueue);
  const persist = checkBool('options.persist', options.persist);
  const mtu = intInRange('options.mtu', options.mtu, 0, 68, MAX_IP_PACKET);
  const io = resolveIo(options);
  const site = fileSite(io.backend, 'a TUN device'); // fail before creating anything
  const native = site.native;
  if (io.offload === true && packetInfo) throw invalidArgValue('options.offload', true, 'cannot be combined with packetInfo');
  const nameOut = new Uint8Array(16);
  const flags = (packetInfo ? F.TUN_PI : 0) | (multiQueue ? F.TUN_MULTI_QUEUE : 0) | (persist ? F.TUN_PERSIST : 0);
  checkVnetReads(io, io.offload === true);
  // 'auto' never fails for offloads: too many read buffers for them means off.
  let vnet = io.offload !== false && !packetInfo && (io.readBuffers ?? 0) <= MAX_VNET_READS;
  let [fd = -22, stage = 0] = native.tunOpen(name, flags | (vnet ? F.TUN_VNET_HDR : 0), mtu, nameOut);
  if (fd === EINVAL && stage === F.TUN_STAGE_SETIFF && vnet && io.offload === 'auto') {
    // A kernel (or an existing interface) that will not take IFF_VNET_HDR.
    vnet = false;
    [fd = -22, stage = 0] = native.tunOpen(name, flags, mtu, nameOut);
  }
  if (fd < 0) throw openError(fd, stage, name);
  const tunFeatures = vnet ? enableOffloads(native, fd, io.offload) : 0;
  const ifname = F.nameFrom(nameOut);
  const got = native.tunMtu(ifname, 0);
  const dev = new TunDevice(
    site,
    { name: ifname, fd, mtu: got > 0 ? got : mtu || 1500, packetInfo, multiQueue, persist, vnet, tunFeatures },
    io,
  );
  if (options.onBatch !== undefined) dev.onBatch = options.onBatch;
  return dev;
}

/**
 * Wrap an fd already attached to a TUN interface (TUNSETIFF done, e.g. by
 * another library). An fd that is not an attached TUN fd, or options that
 * do not match it, throw and leave the fd alone; from then on the device
 * owns the fd (close() closes it). The fd is switched to non-blocking mode.
 */
export function wrapTun(fd: number, options: WrapTunOptions = {}): TunDevice {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw invalidArgValue('fd', fd, 'must be a file descriptor');
  }
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const io = resolveIo(options);
  const site = fileSite(io.backend, 'a TUN device');
  const native = site.native;
  const nameOut = new Uint8Array(16);
  const flags = native.tunInfo(fd, nameOut);
  if (flags < 0) {
    const err = errnoException(flags, 'TUNGETIFF');
    err.message = `${err.message}: fd ${fd} is not attached to a TUN device`;
    throw err;
  }
  if ((flags & 0x000f) !== F.IFF_TUN) throw invalidArgValue('fd', fd, 'is a TAP device; only TUN is supported');
  const packetInfo = (flags & F.IFF_NO_PI) === 0;
  if (options.packetInfo !== undefined && options.packetInfo !== packetInfo) {
    throw invalidArgValue(
      'options.packetInfo',
      options.packetInfo,
      `does not match the fd, which was opened ${packetInfo ? 'without' : 'with'} IFF_NO_PI`,
    );
  }
  // The header is on the fd whatever we want: it must be read as such.
  const vnet = (flags & F.IFF_VNET_HDR) !== 0;
  checkVnetReads(io, vnet);
  if (vnet && packetInfo) {
    throw invalidArgValue('fd', fd, 'carries both the packet information header and IFF_VNET_HDR, which is not supported');
  }
  if (io.offload === true && !vnet) {
    throw new CodedError('ERR_TUN_OFFLOAD_UNAVAILABLE', `fd ${fd} was opened without IFF_VNET_HDR: TUN offloads need it (set at TUNSETIFF)`);
  }
  const tunFeatures = vnet ? enableOffloads(native, fd, io.offload, false) : 0;
  const rc = native.fdSetNonblock(fd);
  if (rc < 0) throw errnoException(rc, 'fcntl');
  const name = F.nameFrom(nameOut);
  // By name, in this namespace: after a move to another one, assume 1500.
  const mtu = native.tunMtu(name, 0);
  const dev = new TunDevice(
    site,
    {
      name,
      fd,
      mtu: mtu > 0 ? mtu : 1500,
      packetInfo,
      multiQueue: (flags & F.IFF_MULTI_QUEUE) !== 0,
      persist: (flags & F.IFF_PERSIST) !== 0,
      vnet,
      tunFeatures,
    },
    io,
  );
  if (options.onBatch !== undefined) dev.onBatch = options.onBatch;
  return dev;
}
