/**
 * The TS side of the addon's TUN and file exports (src/native/addon_file.c)
 * and of their shared-memory layout (src/native/file.h). Word indices must
 * match the C enums.
 */
import type { NativeBinding } from '../core/binding.js';

/** What sizes an object's shared memory (config_of in addon_file.c reads it for both calls). */
export type FileLayoutArgs = [
  kind: number,
  rslots: number,
  rslot: number,
  qslots: number,
  qdataLen: number,
  vnet: number,
  gro: number,
  splitLen: number,
  splitEntries: number,
];

/** Exports of addon_file.c. Every number result is a value or -errno. */
export interface FileExports {
  fileLayout(...layout: FileLayoutArgs): number[] | number;
  fileCreate(
    ...args: [fd: number, ...layout: FileLayoutArgs, multishot: number, packetInfo: number, maxPacket: number, backend: number]
  ): number;
  /** A view of the object's shared memory (owned by the addon), or -errno. */
  fileMem(id: number): ArrayBuffer | number;
  /** The request frontier now, or -errno. */
  fileSdone(id: number): number;
  fileStart(id: number): number;
  fileFlush(id: number): number;
  fileRef(id: number, ref: boolean): number;
  fileClose(id: number): number;
  /** [fd, multishot, vnet, gro (GRO_* coalescing in use now)] */
  fileInfo(id: number): number[];
  /** Tests only: the next n coalesced writes of a vnet device fail as a kernel refusal would. */
  tunTestRefuse(id: number, n: number): number;
  /** Checksums of packets written to this device are vouched for (WireGuard): coalescing skips checking them. */
  tunTrustChecksums(id: number, on: boolean): number;
  /** ion_tun_enable_offload: the TUN_F_* set that is on, or -errno (addon_offload.c). */
  tunEnableOffload(fd: number, want: number): number;
  /** The GRO_* coalescing a TUN_F_* set allows for writes. */
  tunGroFeatures(tunFeatures: number): number;
  /** [fd or -errno, stage (TUN_STAGE_*)]; nameOut gets the interface name. */
  tunOpen(name: string, flags: number, mtu: number, nameOut: Uint8Array): number[];
  /** IFF_* flags, or -errno. */
  tunInfo(fd: number, nameOut: Uint8Array): number;
  tunSetPersist(fd: number, on: number): number;
  /** Sets the MTU when mtu > 0, then returns the MTU (or -errno). */
  tunMtu(name: string, mtu: number): number;
  fdSetNonblock(fd: number): number;
}

export type FileBinding = NativeBinding & FileExports;

/** The loaded addon seen through this interface (binding.ts stays as is). */
export function asFileBinding(binding: NativeBinding): FileBinding {
  const b = binding as Partial<FileBinding>;
  if (typeof b.fileCreate !== 'function' || typeof b.tunOpen !== 'function') {
    throw new Error('the native addon was built without TUN/file support: rebuild it (npm run build)');
  }
  return binding as FileBinding;
}

/** ion_file kinds (file.h ION_FILE_*). */
export const KIND_REGULAR = 0;
export const KIND_TUN = 1;

/** How an object moves its data (file.h ION_FILE_BACKEND_*). */
export const NATIVE_FILE_BACKEND = { io_uring: 0, poll: 1 } as const;

/** Words of one read entry (file.h ION_R_*). */
export const R_OFF = 0;
export const R_LEN = 1;
export const R_FLAGS = 2;
export const R_PROTO = 3;
export const R_WORDS = 4;
export const RF_TRUNC = 1;

/**
 * Words of one request (file.h ION_Q_*). The stride and OFF/LEN/RES are
 * the UDP send descriptor's, so SendQueue drives requests too: its push()
 * writes (port, family, scope) into words 3, 4, 5, i.e. OP, POS_LO, POS_HI.
 */
export const Q_OP = 3;
export const Q_POS_LO = 4;
export const Q_POS_HI = 5;
export const QOP_WRITE = 1;
export const QOP_READ = 2;

/** Counters (file.h ION_FS_*). */
export const FS_PKTS_IN = 0;
export const FS_BYTES_IN = 1;
export const FS_PKTS_OUT = 2;
export const FS_BYTES_OUT = 3;
export const FS_TRUNC = 4;
export const FS_ENOBUFS = 5;
export const FS_REARMS = 6;
export const FS_WRITE_ERRORS = 7;
export const FS_READ_ERRORS = 8;
export const FS_BATCHES = 9;
export const FS_SUPER_IN = 10;
export const FS_COALESCED = 11;
export const FS_COALESCED_PKTS = 12;
export const FS_OFFLOAD_FALLBACKS = 13;
export const FS_VNET_ERRORS = 14;
export const FS_SPLIT_DEFERRED = 15;

/** tunOpen flags (tun.h ION_TUN_*). */
export const TUN_PI = 1;
export const TUN_MULTI_QUEUE = 2;
export const TUN_PERSIST = 4;
export const TUN_VNET_HDR = 8;

/** TUNSETOFFLOAD bits (tun/tunsetup.h ION_TUN_F_*). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;
export const TUN_F_ALL = 0x6f;

/** Write coalescing (tun/offload.h ION_GRO_*). */
export const GRO_TCP = 1;
export const GRO_UDP = 2;

/** Bytes in front of each packet a vnet device writes (file.h ION_FILE_HEADROOM). */
export const VNET_HDR_LEN = 10;

/** Which step of tunOpen failed (tun.h ION_TUN_STAGE_*). */
export const TUN_STAGE_OPEN = 0;
export const TUN_STAGE_SETIFF = 1;
export const TUN_STAGE_PERSIST = 2;
export const TUN_STAGE_MTU = 3;

/** IFF_* flags from TUNGETIFF (linux/if_tun.h). */
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_PERSIST = 0x0800;
export const IFF_VNET_HDR = 0x4000;

export interface FileLayout {
  ctrl: number;
  stats: number;
  rmeta: number;
  qdesc: number;
  rpool: number;
  qdata: number;
  total: number;
  /** vnet devices: where split packets go. */
  split: number;
  /** Read entries: readBuffers, plus the split area's on vnet devices. */
  rmetaEntries: number;
}

export function toFileLayout(words: number[]): FileLayout {
  const w = (i: number): number => words[i] ?? 0;
  return { ctrl: w(0), stats: w(1), rmeta: w(2), qdesc: w(3), rpool: w(4), qdata: w(5), total: w(6), split: w(7), rmetaEntries: w(8) };
}

/** A NUL-terminated name from a 16-byte buffer. */
export function nameFrom(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return Buffer.from(buf.subarray(0, end < 0 ? buf.length : end)).toString('latin1');
}
