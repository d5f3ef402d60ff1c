#!/usr/bin/env node
/**
 * The `iouring-net` command (package.json "bin"): `iouring-net tunnel`
 * (src/cli/tunnel.ts) and `iouring-net wireguard` (src/cli/wireguard.ts).
 * Exit status: 0 on success or after SIGINT/SIGTERM, 1 on a failure, 2 on
 * a bad command line or configuration.
 */
import { readFileSync } from 'node:fs';
import { MAIN_USAGE, parseTunnelArgs, parseWireGuardArgs, TUNNEL_USAGE, UsageError, WIREGUARD_USAGE } from './args.js';
import { CliError, EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, runTunnel } from './tunnel.js';
import { runWireGuard } from './wireguard.js';

function version(): string {
  // dist/src/cli/main.js -> package.json at the package root.
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

async function runCommand(command: string, rest: readonly string[]): Promise<number> {
  if (command === 'tunnel') {
    const args = parseTunnelArgs(rest);
    if (args === 'help') {
      process.stdout.write(`${TUNNEL_USAGE}\n`);
      return EXIT_OK;
    }
    return runTunnel(args);
  }
  if (command === 'wireguard') {
    const args = parseWireGuardArgs(rest);
    if (args === 'help') {
      process.stdout.write(`${WIREGUARD_USAGE}\n`);
      return EXIT_OK;
    }
    return runWireGuard(args);
  }
  throw new UsageError(`unknown command "${command}"`);
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(`${MAIN_USAGE}\n`);
    return command === undefined ? EXIT_CONFIG : EXIT_OK;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  return runCommand(command, rest);
}

/** Run a command and exit with its status; errors print one line. */
function exitWith(run: Promise<number>, command: string): void {
  const name = command ? `iouring-net ${command}` : 'iouring-net';
  run.then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${name}: ${err.message}\n(see ${name} --help)\n`);
        process.exit(EXIT_CONFIG);
      }
      if (err instanceof CliError) {
        process.stderr.write(`${name}: ${err.message}\n`);
        process.exit(err.exitCode);
      }
      process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(EXIT_FAILURE);
    },
  );
}

const argv = process.argv.slice(2);
const known = argv[0] === 'tunnel' || argv[0] === 'wireguard' ? argv[0] : '';
exitWith(main(argv), known);
