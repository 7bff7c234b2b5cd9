// One serialized worker per pod: syncs for a pod never overlap, and updates that arrive while a sync
// runs collapse into one more sync that reads the newest desired state (the newest update wins).
export class PodWorkers {
  private readonly sync: (uid: string) => Promise<void>;
  private readonly onError: (uid: string, err: unknown) => void;
  private readonly running = new Map<string, Promise<void>>();
  private readonly pending = new Set<string>();

  constructor(sync: (uid: string) => Promise<void>, onError: (uid: string, err: unknown) => void) {
    this.sync = sync;
    this.onError = onError;
  }

  update(uid: string): void {
    if (this.running.has(uid)) {
      this.pending.add(uid);
      return;
    }
    const loop = (async () => {
      do {
        this.pending.delete(uid);
        try {
          await this.sync(uid);
        } catch (err) {
          this.onError(uid, err);
        }
      } while (this.pending.has(uid));
      this.running.delete(uid);
    })();
    this.running.set(uid, loop);
  }

  isBusy(uid: string): boolean {
    return this.running.has(uid);
  }

  /** Resolves when every worker is idle (tests and shutdown). */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()]);
  }
}
