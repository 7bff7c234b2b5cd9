// Pod lifecycle event generator: relist the runtime every period, diff each pod's sandboxes and
// containers (id + state) against the previous relist, and report the pods that changed.
import type { PodRuntime, RuntimeInspector } from './runtime-state.ts';

export interface PlegOptions {
  inspector: RuntimeInspector;
  periodMs?: number;
  /** Called once per changed pod uid per relist (also for pods that disappeared from the runtime). */
  onChange: (uid: string) => void;
  onError?: (err: unknown) => void;
}

function fingerprint(p: PodRuntime): string {
  return [...p.sandboxes.map((s) => `s:${s.id}:${s.state}`), ...p.containers.map((c) => `c:${c.id}:${c.state}`)].sort().join(',');
}

export class Pleg {
  private readonly o: PlegOptions;
  private prev = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;
  /** Time of the last successful relist (0 before the first); the runtime is unhealthy when this gets old. */
  lastRelistOkMs = 0;
  lastError: string = '';
  /** The last relist, for orphan detection. */
  pods = new Map<string, PodRuntime>();

  constructor(o: PlegOptions) {
    this.o = o;
  }

  async relist(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const pods = await this.o.inspector.relistAll();
      const next = new Map<string, string>();
      for (const [uid, p] of pods) next.set(uid, fingerprint(p));
      for (const [uid, fp] of next) if (this.prev.get(uid) !== fp) this.o.onChange(uid);
      for (const uid of this.prev.keys()) if (!next.has(uid)) this.o.onChange(uid);
      this.prev = next;
      this.pods = pods;
      this.lastRelistOkMs = Date.now();
      this.lastError = '';
    } catch (err) {
      this.lastError = (err as Error).message;
      this.o.onError?.(err);
    } finally {
      this.running = false;
    }
  }

  start(): void {
    this.stopped = false;
    const loop = async () => {
      await this.relist();
      // stop() may have come while that relist was in flight: then no next round
      if (!this.stopped) this.timer = setTimeout(loop, this.o.periodMs ?? 1000);
    };
    void loop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
