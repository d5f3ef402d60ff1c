// Progress of a benchmark made of many timed runs: before each run a line
// "[k/N, ~T left] what", and on a terminal a seconds counter on that line
// while the run goes (no output is held back when stdout is a file or a
// pipe: the line is printed at the start and the result on the next one).

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class Progress {
  private done = 0;
  private timer: NodeJS.Timeout | undefined;
  private line = '';
  private started = 0;
  private readonly tty: boolean;

  /** total runs, and the expected seconds of one (for the time left). */
  constructor(
    private total: number,
    private readonly secondsPerRun: number,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {
    this.tty = out.isTTY === true;
  }

  /** n planned runs will not happen (e.g. a server that could not start). */
  drop(n: number): void {
    this.total = Math.max(this.done, this.total - n);
  }

  /** A run starts: print what it is. */
  start(what: string): void {
    const left = (this.total - this.done) * this.secondsPerRun;
    this.line = `[${this.done + 1}/${this.total}, ~${clock(left)} left] ${what}`;
    this.started = Date.now();
    if (!this.tty) {
      this.out.write(`${this.line} ...\n`);
      return;
    }
    this.out.write(`${this.line} ...`);
    this.timer = setInterval(() => {
      this.out.write(`\r\x1b[K${this.line} ... ${clock((Date.now() - this.started) / 1000)}`);
    }, 1000);
    this.timer.unref();
  }

  /** The run ended: print its result. */
  end(result: string): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.done++;
    this.out.write(this.tty ? `\r\x1b[K${this.line}: ${result}\n` : `    ${result}\n`);
  }
}
