// A de-duplicating work queue, as controllers use it (client-go util/workqueue):
// - an item added many times before a worker takes it is processed once (the dirty set);
// - an item is never processed by two workers at once: re-added while processing, it is queued again
//   only after done() (the processing set);
// - addAfter() delays, addRateLimited() delays by a per-item exponential backoff (forget() resets it),
//   combined with an overall token bucket;
// - shutDown() wakes every waiting get() with undefined once the queue is empty.
// Items are compared with ===, so use string keys ("namespace/name").
import { TokenBucket } from './ratelimit.ts';

export interface RateLimiter<T> {
  /** How long to wait before this item may be retried (also records one more failure). */
  when(item: T): number;
  forget(item: T): void;
  numRequeues(item: T): number;
}

/** base * 2^failures, capped at max (client-go default 5 ms .. 1000 s). */
export class ItemExponentialRateLimiter<T> implements RateLimiter<T> {
  private readonly failures = new Map<T, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;
  constructor(baseMs = 5, maxMs = 1_000_000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }
  when(item: T): number {
    const n = this.failures.get(item) ?? 0;
    this.failures.set(item, n + 1);
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(n, 60));
  }
  forget(item: T): void {
    this.failures.delete(item);
  }
  numRequeues(item: T): number {
    return this.failures.get(item) ?? 0;
  }
}

/** Overall retries per second across all items (client-go default 10 qps, burst 100). */
export class BucketRateLimiter<T> implements RateLimiter<T> {
  private readonly bucket: TokenBucket;
  constructor(qps = 10, burst = 100) {
    this.bucket = new TokenBucket(qps, burst);
  }
  when(_item: T): number {
    return this.bucket.reserve();
  }
  forget(_item: T): void {}
  numRequeues(_item: T): number {
    return 0;
  }
}

/** The longest delay any of the limiters asks for. */
export class MaxOfRateLimiter<T> implements RateLimiter<T> {
  private readonly limiters: RateLimiter<T>[];
  constructor(...limiters: RateLimiter<T>[]) {
    this.limiters = limiters;
  }
  when(item: T): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(item)));
  }
  forget(item: T): void {
    for (const l of this.limiters) l.forget(item);
  }
  numRequeues(item: T): number {
    return Math.max(0, ...this.limiters.map((l) => l.numRequeues(item)));
  }
}

export function defaultControllerRateLimiter<T>(): RateLimiter<T> {
  return new MaxOfRateLimiter<T>(new ItemExponentialRateLimiter<T>(5, 1_000_000), new BucketRateLimiter<T>(10, 100));
}

export class WorkQueue<T = string> {
  private items: T[] = [];
  private head = 0;
  private readonly dirty = new Set<T>();
  private readonly processing = new Set<T>();
  private readonly waiters: ((item: T | undefined) => void)[] = [];
  private readonly delayed = new Map<T, { at: number; timer: NodeJS.Timeout }>();
  private readonly rateLimiter: RateLimiter<T>;
  private drainWaiters: (() => void)[] = [];
  private shutting = false;

  constructor(rateLimiter: RateLimiter<T> = defaultControllerRateLimiter<T>()) {
    this.rateLimiter = rateLimiter;
  }

  /** Queue an item unless it is already waiting; if it is being processed it is queued after done(). */
  add(item: T): void {
    if (this.shutting || this.dirty.has(item)) return;
    this.dirty.add(item);
    if (this.processing.has(item)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(item);
      this.processing.add(item);
      waiter(item);
      return;
    }
    this.items.push(item);
  }

  /** Next item to work on (the caller must call done(item) afterwards); undefined once shut down and empty. */
  get(): Promise<T | undefined> {
    const item = this.take();
    if (item !== undefined) return Promise.resolve(item);
    if (this.shutting) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private take(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.dirty.delete(item);
    this.processing.add(item);
    return item;
  }

  /** Mark an item finished; if it was added again meanwhile, it goes back on the queue now. */
  done(item: T): void {
    if (!this.processing.delete(item)) return;
    if (this.dirty.has(item)) {
      this.dirty.delete(item); // add() below re-marks it
      this.add(item);
    }
    if (this.processing.size === 0 && this.drainWaiters.length) {
      const ws = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of ws) w();
    }
  }

  /** Add after a delay; of several delayed adds of one item the earliest wins. */
  addAfter(item: T, ms: number): void {
    if (this.shutting) return;
    if (ms <= 0) return this.add(item);
    const at = performance.now() + ms;
    const existing = this.delayed.get(item);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(item);
      this.add(item);
    }, ms);
    this.delayed.set(item, { at, timer });
  }

  /** Re-add after the rate limiter's delay (per-item exponential backoff). */
  addRateLimited(item: T): void {
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** Stop tracking failures for an item (call after it succeeded). */
  forget(item: T): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.rateLimiter.numRequeues(item);
  }

  /** Items waiting to be handed out (not counting delayed or in-process ones). */
  len(): number {
    return this.items.length - this.head;
  }

  get shuttingDown(): boolean {
    return this.shutting;
  }

  /** Refuse new items, drop delayed ones, and let get() return undefined once the queue is empty. */
  shutDown(): void {
    if (this.shutting) return;
    this.shutting = true;
    for (const d of this.delayed.values()) clearTimeout(d.timer);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** shutDown() and wait until every item being processed is done(). */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }
}

export interface WorkerOptions<T> {
  /** Give up on an item after this many rate-limited retries (default: never). */
  maxRetries?: number;
  onError?(item: T, err: unknown, retries: number): void;
}

/**
 * Run `count` workers that take items and call sync(item): on success forget() it, on error re-add it
 * rate-limited. Resolves when the queue is shut down and the workers have finished.
 */
export async function runWorkers<T>(queue: WorkQueue<T>, count: number, sync: (item: T) => Promise<void>, opts: WorkerOptions<T> = {}): Promise<void> {
  const worker = async () => {
    for (;;) {
      const item = await queue.get();
      if (item === undefined) return;
      try {
        await sync(item);
        queue.forget(item);
      } catch (err) {
        const retries = queue.numRequeues(item);
        opts.onError?.(item, err, retries);
        if (opts.maxRetries === undefined || retries < opts.maxRetries) queue.addRateLimited(item);
        else queue.forget(item);
      } finally {
        queue.done(item);
      }
    }
  };
  await Promise.all(Array.from({ length: count }, worker));
}
