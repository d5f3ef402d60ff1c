#!/usr/bin/env node
/**
 * The `iouring-net` command (package.json "bin"). One command for now:
 * `iouring-net tunnel` (src/cli/tunnel.ts). Exit status: 0 on success or
 * after SIGINT/SIGTERM, 1 on a failure, 2 on a bad command line or
 * configuration.
 */
import { readFileSync } from 'node:fs';
import { MAIN_USAGE, parseTunnelArgs, TUNNEL_USAGE, UsageError } from './args.js';
import { CliError, EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, runTunnel } from './tunnel.js';

function version(): string {
  // dist/src/cli/main.js -> package.json at the package root.
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
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
  if (command !== 'tunnel') throw new UsageError(`unknown command "${command}"`);
  const args = parseTunnelArgs(rest);
  if (args === 'help') {
    process.stdout.write(`${TUNNEL_USAGE}\n`);
    return EXIT_OK;
  }
  return runTunnel(args);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`iouring-net: ${err.message}\n(see iouring-net tunnel --help)\n`);
      process.exit(EXIT_CONFIG);
    }
    if (err instanceof CliError) {
      process.stderr.write(`iouring-net tunnel: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`iouring-net: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(EXIT_FAILURE);
  },
);
