// The table of echo servers to benchmark. Adding a server = adding a row: any
// program that prints "READY <port>", echoes UDP datagrams on 127.0.0.1 and
// exits on SIGTERM can take part.
import { join } from 'node:path';

export interface ServerSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Files that must exist to start it; if one is missing the server is skipped. */
  readonly needs: readonly string[];
  /**
   * True for the library under test. Its failures are benchmark results
   * (reported, exit 0); failures of the reference servers mean the harness
   * itself is broken (exit 1).
   */
  readonly underTest: boolean;
  /**
   * A Node server that installs servers/heap-probe.ts: the allocation pass
   * (lib/alloc.ts) measures it. `args` must start with the script, so V8
   * flags can be put in front of them.
   */
  readonly heapProbe: boolean;
}

export interface ServerPaths {
  /** Compiled bench/c/echo_server.c */
  readonly echoServerBin: string;
  /** Directory holding the compiled bench/servers/*.js */
  readonly nodeServersDir: string;
}

function nodeServer(name: string, file: string, underTest: boolean, dir: string, extra: readonly string[] = []): ServerSpec {
  const script = join(dir, file);
  return { name, command: process.execPath, args: [script, ...extra], needs: [script], underTest, heapProbe: true };
}

export function serverTable(paths: ServerPaths): ServerSpec[] {
  return [
    { name: 'c-reference', command: paths.echoServerBin, args: [], needs: [paths.echoServerBin], underTest: false, heapProbe: false },
    nodeServer('node:dgram', 'dgram.js', false, paths.nodeServersDir),
    nodeServer('iouring-batch', 'iouring-batch.js', true, paths.nodeServersDir),
    nodeServer('iouring-dgram', 'iouring-dgram.js', true, paths.nodeServersDir),
    // The fallback backend (uv_poll + recvmmsg/sendmmsg) under the batch API.
    nodeServer('mmsg-batch', 'iouring-batch.js', true, paths.nodeServersDir, ['mmsg']),
  ];
}
