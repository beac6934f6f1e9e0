// A one-line training progress display: redrawn in place on a terminal, plain lines otherwise
// (logs and CI output stay readable).

export interface ProgressBarOptions {
  total: number;
  /** Default process.stdout. */
  stream?: NodeJS.WriteStream;
  /** Characters of the bar itself; default 24. */
  width?: number;
  /** Without a terminal, print a line every this many steps (and at the end); default total/8. */
  plainEvery?: number;
}

export interface ProgressUpdate {
  step: number;
  loss: number;
  tokensPerSecond: number;
}

export class ProgressBar {
  private readonly total: number;
  private readonly stream: NodeJS.WriteStream;
  private readonly width: number;
  private readonly plainEvery: number;
  private drawn = false;

  constructor(opts: ProgressBarOptions) {
    this.total = opts.total;
    this.stream = opts.stream ?? process.stdout;
    this.width = opts.width ?? 24;
    this.plainEvery = opts.plainEvery ?? Math.max(1, Math.round(opts.total / 8));
  }

  get interactive(): boolean {
    return this.stream.isTTY === true;
  }

  update(u: ProgressUpdate): void {
    const stats = `step ${String(u.step).padStart(String(this.total).length)}/${this.total}  loss ${u.loss.toFixed(3)}  ${Math.round(u.tokensPerSecond)} tok/s`;
    if (this.interactive) {
      const filled = Math.round((u.step / this.total) * this.width);
      const bar = '█'.repeat(filled) + '░'.repeat(this.width - filled);
      this.stream.write(`\r\x1b[2K  ${bar} ${stats}`);
      this.drawn = true;
    } else if (u.step % this.plainEvery === 0 || u.step === this.total || u.step === 1) {
      this.stream.write(`  ${stats}\n`);
    }
  }

  /** Ends the line so that later output starts on its own. */
  finish(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
