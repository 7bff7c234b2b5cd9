// Expectations (upstream controller_utils.go UIDTrackingControllerExpectations): after a controller asks for N
// pod creations, or for the deletion of given pods, it must not act on that controller again until its informer
// has seen those events, or it would create or delete twice from a stale cache. Records expire after 5 minutes
// so that a lost watch event cannot wedge a controller forever.
const TTL_MS = 5 * 60_000;

interface Record_ {
  add: number;
  del: number;
  /** Keys ("ns/name") of pods we asked to delete and have not yet seen go. */
  deleting: Set<string>;
  at: number;
}

export class Expectations {
  private readonly records = new Map<string, Record_>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** True when the controller may act: nothing pending, no record at all, or the record expired. */
  satisfied(key: string): boolean {
    const r = this.records.get(key);
    if (!r) return true;
    if (r.add <= 0 && r.del <= 0) return true;
    return this.now() - r.at > TTL_MS;
  }

  expectCreations(key: string, count: number): void {
    this.records.set(key, { add: count, del: 0, deleting: new Set(), at: this.now() });
  }

  expectDeletions(key: string, podKeys: string[]): void {
    this.records.set(key, { add: 0, del: podKeys.length, deleting: new Set(podKeys), at: this.now() });
  }

  creationObserved(key: string): void {
    const r = this.records.get(key);
    if (r) r.add--;
  }

  /** Counts once per pod key however many events (graceful delete, then the final DELETED) report it. */
  deletionObserved(key: string, podKey: string): void {
    const r = this.records.get(key);
    if (r?.deleting.delete(podKey)) r.del--;
  }

  delete(key: string): void {
    this.records.delete(key);
  }

  /** For tests and logs. */
  pending(key: string): { add: number; del: number } | undefined {
    const r = this.records.get(key);
    return r ? { add: r.add, del: r.del } : undefined;
  }
}
