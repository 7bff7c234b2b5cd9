// Runs a function no more often than minInterval, at least every maxInterval, never concurrently, and
// retries after a failure with exponential backoff (upstream's BoundedFrequencyRunner plus a retry).

export interface RunnerOptions {
  minIntervalMs: number;
  maxIntervalMs: number;
  /** First retry delay after a failure; doubles up to maxIntervalMs. */
  backoffMs?: number;
  now?: () => number;
  /** Told about each delay chosen after a run: 'retry' after a failure, 'periodic' after a success. */
  onSchedule?: (delayMs: number, why: 'retry' | 'periodic') => void;
}

export class BoundedFrequencyRunner {
  private readonly fn: () => Promise<void>;
  private readonly opts: Required<RunnerOptions>;
  private lastRun = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private running: Promise<void> | null = null;
  private again = false;
  private failures = 0;
  private stopped = false;

  constructor(fn: () => Promise<void>, opts: RunnerOptions) {
    this.fn = fn;
    this.opts = { backoffMs: 1000, now: Date.now, onSchedule: () => {}, ...opts };
  }

  /** Start the periodic runs (first run right away). */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  /** Ask for a run as soon as minInterval allows. */
  run(): void {
    if (this.running) { this.again = true; return; }
    this.schedule(Math.max(0, this.lastRun + this.opts.minIntervalMs - this.opts.now()));
  }

  /** Resolves when the run in progress (if any) is over. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    const at = this.opts.now() + delay;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => { this.timer = null; this.timerAt = Infinity; void this.tick(); }, delay);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    if (this.running || this.stopped) return;
    this.lastRun = this.opts.now();
    let ok = true;
    this.running = this.fn().catch(() => { ok = false; });
    await this.running;
    this.running = null;
    if (ok) {
      this.failures = 0;
      this.opts.onSchedule(this.opts.maxIntervalMs, 'periodic');
      this.schedule(this.opts.maxIntervalMs);
    } else {
      this.failures++;
      const delay = Math.min(this.opts.maxIntervalMs, this.opts.backoffMs * 2 ** (this.failures - 1));
      this.opts.onSchedule(delay, 'retry');
      this.schedule(delay);
    }
    if (this.again) { this.again = false; this.run(); }
  }
}
