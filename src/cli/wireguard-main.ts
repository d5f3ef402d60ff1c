#!/usr/bin/env node
/**
 * `iouring-net-wireguard [-f|--foreground] INTERFACE` (package.json "bin"):
 * the same as `iouring-net wireguard`, under one executable name so that it
 * can stand in for wireguard-go where a single command is expected:
 * `WG_QUICK_USERSPACE_IMPLEMENTATION=iouring-net-wireguard wg-quick up wg0`.
 */
import { parseWireGuardArgs, UsageError, WIREGUARD_USAGE } from './args.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_CONFIG } from './tunnel.js';
import { runWireGuard } from './wireguard.js';

const NAME = 'iouring-net-wireguard';

async function main(argv: readonly string[]): Promise<number> {
  const args = parseWireGuardArgs(argv);
  if (args === 'help') {
    process.stdout.write(`${WIREGUARD_USAGE}\n`);
    return EXIT_OK;
  }
  return runWireGuard(args);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${NAME}: ${err.message}\n(see ${NAME} --help)\n`);
      process.exit(EXIT_CONFIG);
    }
    process.stderr.write(`${NAME}: ${err instanceof CliError || !(err instanceof Error) ? String((err as Error).message ?? err) : (err.stack ?? err.message)}\n`);
    process.exit(err instanceof CliError ? err.exitCode : EXIT_FAILURE);
  },
);
