// A token bucket: `burst` requests at once, then `qps` per second. Used by the REST client (client-side
// throttling, like client-go's QPS/Burst) and by the work queue's overall limiter.

export class TokenBucket {
  readonly qps: number;
  readonly burst: number;
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(qps: number, burst: number, now: () => number = () => performance.now()) {
    if (!(qps > 0)) throw new Error(`TokenBucket: qps must be > 0, got ${qps}`);
    this.qps = qps;
    this.burst = Math.max(1, Math.floor(burst));
    this.tokens = this.burst;
    this.now = now;
    this.last = now();
  }

  /** Take one token and return how many ms the caller must wait before using it (0 = now). */
  reserve(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.qps) / 1000);
    this.last = t;
    this.tokens -= 1; // may go negative: later callers queue behind earlier ones
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.qps;
  }

  /** Wait until a token is available. */
  async take(signal?: AbortSignal): Promise<void> {
    const wait = this.reserve();
    if (wait > 0) await sleep(wait, signal);
  }
}

/** setTimeout as a promise that rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Exponential backoff with jitter: base, 2*base, ... capped at max; reset() after a success. */
export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  constructor(baseMs = 800, maxMs = 30_000, jitter = 0.2) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.jitter = jitter;
  }
  next(): number {
    const d = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 40);
    return d * (1 + this.jitter * Math.random());
  }
  reset(): void {
    this.attempt = 0;
  }
  get failures(): number {
    return this.attempt;
  }
}
