/**
 * probe(): can this process use io_uring, why not, and which operations and
 * features does the kernel offer. Never throws.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { loadBinding } from './binding.js';

export interface ProbeFeatures {
  /** Multishot recvmsg (6.0+): one request receives many datagrams. */
  multishotRecvmsg: boolean;
  /** Provided buffer rings (IORING_REGISTER_PBUF_RING, 5.19+). */
  providedBufferRings: boolean;
  /** IORING_SETUP_DEFER_TASKRUN (6.1+). */
  deferTaskrun: boolean;
  /** IORING_SETUP_SINGLE_ISSUER (6.0+). */
  singleIssuer: boolean;
  /** IORING_SETUP_NO_SQARRAY (6.6+). */
  noSqArray: boolean;
  /** IORING_OP_SEND_ZC (6.0+). */
  sendZc: boolean;
  /** IORING_OP_READ_MULTISHOT (6.7+), used for TUN devices. */
  readMultishot: boolean;
  /** Recv/send bundles (6.10+). */
  recvsendBundle: boolean;
}

export interface ProbeResult {
  available: boolean;
  /** Why io_uring is not usable (empty when it is). */
  reason: string;
  /**
   * Why, as a code: the errno name when ring setup failed (e.g. 'EPERM'), or
   * ERR_IOURING_NET_ADDON_MISSING / _LOAD_FAILED / _DISABLED /
   * ERR_IOURING_NET_UNSUPPORTED_PLATFORM when the addon is not there.
   */
  code?: string;
  kernel: string;
  features: ProbeFeatures;
  /** Names of the supported operations, e.g. 'RECVMSG'. */
  ops: string[];
}

const OP_NAMES = [
  'NOP', 'READV', 'WRITEV', 'FSYNC', 'READ_FIXED', 'WRITE_FIXED', 'POLL_ADD', 'POLL_REMOVE',
  'SYNC_FILE_RANGE', 'SENDMSG', 'RECVMSG', 'TIMEOUT', 'TIMEOUT_REMOVE', 'ACCEPT', 'ASYNC_CANCEL',
  'LINK_TIMEOUT', 'CONNECT', 'FALLOCATE', 'OPENAT', 'CLOSE', 'FILES_UPDATE', 'STATX', 'READ', 'WRITE',
  'FADVISE', 'MADVISE', 'SEND', 'RECV', 'OPENAT2', 'EPOLL_CTL', 'SPLICE', 'PROVIDE_BUFFERS',
  'REMOVE_BUFFERS', 'TEE', 'SHUTDOWN', 'RENAMEAT', 'UNLINKAT', 'MKDIRAT', 'SYMLINKAT', 'LINKAT',
  'MSG_RING', 'FSETXATTR', 'SETXATTR', 'FGETXATTR', 'GETXATTR', 'SOCKET', 'URING_CMD', 'SEND_ZC',
  'SENDMSG_ZC', 'READ_MULTISHOT', 'WAITID', 'FUTEX_WAIT', 'FUTEX_WAKE', 'FUTEX_WAITV',
  'FIXED_FD_INSTALL', 'FTRUNCATE', 'BIND', 'LISTEN', 'RECV_ZC', 'EPOLL_WAIT', 'READV_FIXED',
  'WRITEV_FIXED', 'PIPE', 'NOP128', 'URING_CMD128',
];

const SETUP_SINGLE_ISSUER = 1 << 12;
const SETUP_DEFER_TASKRUN = 1 << 13;
const SETUP_NO_SQARRAY = 1 << 16;
const FEAT_RECVSEND_BUNDLE = 1 << 14;

function kernelAtLeast(kernel: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernel);
  if (!m) return false;
  const ma = Number(m[1]);
  const mi = Number(m[2]);
  return ma > major || (ma === major && mi >= minor);
}

function readDisabledSysctl(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim();
  } catch {
    return null;
  }
}

/** A sentence saying why setup failed with this errno. */
export function explainSetupErrno(code: string): string {
  switch (code) {
    case 'EPERM':
    case 'EACCES': {
      const sysctl = readDisabledSysctl();
      if (sysctl === '2') return `io_uring is disabled by the kernel.io_uring_disabled=2 sysctl (${code})`;
      if (sysctl === '1') {
        return `io_uring is limited to the io_uring_group by kernel.io_uring_disabled=1 and this process is not in it (${code})`;
      }
      return `io_uring_setup was refused (${code}): a seccomp filter blocks it (Docker's and containerd's default profiles do)`;
    }
    case 'ENOSYS':
      return 'the kernel has no io_uring (ENOSYS): older than 5.1 or built without CONFIG_IO_URING';
    case 'ENOMEM':
      return 'the ring memory could not be allocated or locked (ENOMEM): raise RLIMIT_MEMLOCK (ulimit -l); kernels before 5.12 charge rings to it';
    case 'EMFILE':
    case 'ENFILE':
      return `no file descriptor left for the ring (${code})`;
    case 'EINVAL':
      return 'the kernel rejected every ring setup we tried (EINVAL): io_uring is too old';
    default:
      return `io_uring_setup failed (${code})`;
  }
}

const NO_FEATURES: ProbeFeatures = {
  multishotRecvmsg: false,
  providedBufferRings: false,
  deferTaskrun: false,
  singleIssuer: false,
  noSqArray: false,
  sendZc: false,
  readMultishot: false,
  recvsendBundle: false,
};

export function probe(): ProbeResult {
  const kernel = release();
  try {
    const { binding, error } = loadBinding();
    if (!binding) {
      const code = error?.code ?? 'ERR_IOURING_NET_ADDON_MISSING';
      return { available: false, reason: error?.message ?? 'no addon', code, kernel, features: { ...NO_FEATURES }, ops: [] };
    }
    // Room for every opcode the probe can report (newer ones show as OP_<n>).
    const opsBuf = new Uint8Array(256);
    const [errno = 0, setupFlags = 0, features = 0, pbuf = 0] = binding.probe(opsBuf);
    if (errno !== 0) {
      let code: string;
      try {
        code = getSystemErrorName(-errno);
      } catch {
        code = `errno ${errno}`;
      }
      return { available: false, reason: explainSetupErrno(code), code, kernel, features: { ...NO_FEATURES }, ops: [] };
    }
    const ops: string[] = [];
    opsBuf.forEach((v, i) => {
      if (v) ops.push(OP_NAMES[i] ?? `OP_${i}`);
    });
    const has = (name: string): boolean => ops.includes(name);
    const pbufRing = pbuf === 1;
    const result: ProbeResult = {
      available: has('RECVMSG') && has('SENDMSG') && has('ASYNC_CANCEL'),
      reason: '',
      kernel,
      features: {
        multishotRecvmsg: pbufRing && kernelAtLeast(kernel, 6, 0),
        providedBufferRings: pbufRing,
        deferTaskrun: (setupFlags & SETUP_DEFER_TASKRUN) !== 0,
        singleIssuer: (setupFlags & SETUP_SINGLE_ISSUER) !== 0,
        noSqArray: (setupFlags & SETUP_NO_SQARRAY) !== 0,
        sendZc: has('SEND_ZC'),
        readMultishot: has('READ_MULTISHOT'),
        recvsendBundle: (features & FEAT_RECVSEND_BUNDLE) !== 0,
      },
      ops,
    };
    if (!result.available) result.reason = 'the kernel lacks RECVMSG, SENDMSG or ASYNC_CANCEL (needs 5.19+)';
    return result;
  } catch (err) {
    return { available: false, reason: `probe failed: ${(err as Error).message}`, kernel, features: { ...NO_FEATURES }, ops: [] };
  }
}
