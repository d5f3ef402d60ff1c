/**
 * Existing file descriptors for UDP sockets: what kind an fd is (as
 * node:dgram's bind({ fd }) checks it) and duplicates, through the addon
 * (src/native/udp/udp_fd.c). Where the addon cannot load, neither is
 * available here; node:dgram itself then checks the fd (dgram backend).
 */
import { loadBinding } from '../core/binding.js';

/** node's guessHandleType names, in the addon's ION_FD_* order. */
const KINDS = ['TCP', 'TTY', 'UDP', 'FILE', 'PIPE', 'UNKNOWN'] as const;

export type FdKind = (typeof KINDS)[number];

/** What fd is ('UDP' for a UDP socket, family 4 or 6); null without the addon. */
export function fdKind(fd: number): { kind: FdKind; family: number } | null {
  const native = loadBinding().binding;
  if (native?.fdKind === undefined) return null;
  const [kind = 5, family = 0] = native.fdKind(fd);
  return { kind: KINDS[kind] ?? 'UNKNOWN', family };
}

/** A close-on-exec duplicate of fd, -errno on failure, or null without the addon. */
export function dupFd(fd: number): number | null {
  const native = loadBinding().binding;
  return native?.fdDup === undefined ? null : native.fdDup(fd);
}
