// Restart and image-pull back-off: 10 s doubling to 5 min per key, forgotten after a quiet spell.
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly entries = new Map<string, { delayMs: number; lastMs: number }>();

  constructor(initialMs = 10_000, maxMs = 300_000) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
  }

  /** True while the last attempt for key is less than its delay ago. */
  inBackoff(key: string, nowMs: number): boolean {
    const e = this.entries.get(key);
    return !!e && nowMs < e.lastMs + e.delayMs;
  }

  /** When the current back-off for key ends (0 if none). */
  until(key: string): number {
    const e = this.entries.get(key);
    return e ? e.lastMs + e.delayMs : 0;
  }

  delay(key: string): number {
    return this.entries.get(key)?.delayMs ?? 0;
  }

  /** Record an attempt now: the first gets the initial delay, each next one doubles it up to the maximum. */
  next(key: string, nowMs: number): number {
    const e = this.entries.get(key);
    const delayMs = !e || nowMs - e.lastMs > 2 * this.maxMs ? this.initialMs : Math.min(e.delayMs * 2, this.maxMs);
    this.entries.set(key, { delayMs, lastMs: nowMs });
    return delayMs;
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Drop every key with the given prefix (a pod's keys when it goes away). */
  forgetPrefix(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}
