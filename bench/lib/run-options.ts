/**
 * The options bench/tunnel.ts and bench/wireguard.ts share: which cases,
 * how many rounds of how many seconds. Both throw an Error naming the bad
 * value (their callers print it with the usage and exit 2).
 */

/** The comma list of cases (default: all), each one of `all`. */
export function caseList<C extends string>(raw: string | undefined, all: readonly C[]): C[] {
  const cases = (raw ?? all.join(',')).split(',').filter(Boolean);
  for (const c of cases) if (!(all as readonly string[]).includes(c)) throw new Error(`unknown case "${c}"`);
  return cases as C[];
}

/** An integer option from 1 to max, `def` when not given. */
export function intOption(v: string | undefined, def: number, max: number): number {
  const n = v === undefined ? def : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`"${v}" must be an integer from 1 to ${max}`);
  return n;
}
