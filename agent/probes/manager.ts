// Probe workers for every container of every pod: started when a container starts, replaced when its
// id changes, stopped when it goes. Liveness and startup failures ask the kubelet to restart the
// container; readiness results feed the pod's Ready condition.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import type { RuntimeService } from '../cri/types.ts';
import { runProbe, type ProbeResult } from './checkers.ts';
import { ProbeWorker, type Clock, type ProbeKind } from './worker.ts';

export interface RunningContainer { name: string; id: string; startedAtMs: number }

export interface ProbeManagerOptions {
  runtime: Pick<RuntimeService, 'execSync'>;
  /** The container must be killed and restarted (liveness or startup failed). */
  onUnhealthy: (podUid: string, containerName: string, containerId: string, kind: ProbeKind, message: string) => void;
  /** A result changed (readiness, startup): the pod status needs recomputing. */
  onResult: (podUid: string) => void;
  clock?: Clock;
  /** Replaces the real checkers (unit tests). */
  check?: (kind: ProbeKind, container: V1Container, containerId: string, podIP: string) => Promise<ProbeResult>;
}

interface ContainerProbes { id: string; workers: Map<ProbeKind, ProbeWorker> }

export class ProbeManager {
  private readonly o: ProbeManagerOptions;
  private readonly pods = new Map<string, Map<string, ContainerProbes>>();
  private readonly specs = new Map<string, V1Pod>();

  constructor(o: ProbeManagerOptions) {
    this.o = o;
  }

  /** Bring workers in line with the pod's running containers. */
  syncPod(pod: V1Pod, running: RunningContainer[], podIP: string): void {
    const uid = pod.metadata?.uid ?? '';
    this.specs.set(uid, pod);
    let byName = this.pods.get(uid);
    if (!byName) this.pods.set(uid, (byName = new Map()));
    const live = new Map(running.map((r) => [r.name, r]));
    for (const [name, cp] of byName) {
      if (live.get(name)?.id !== cp.id) {
        for (const w of cp.workers.values()) w.stop();
        byName.delete(name);
      }
    }
    for (const r of running) {
      if (byName.has(r.name)) continue;
      const container = pod.spec?.containers?.find((c) => c.name === r.name);
      if (!container) continue;
      const cp: ContainerProbes = { id: r.id, workers: new Map() };
      byName.set(r.name, cp);
      const make = (kind: ProbeKind) => {
        const probe = kind === 'liveness' ? container.livenessProbe : kind === 'readiness' ? container.readinessProbe : container.startupProbe;
        if (!probe) return;
        const startup = () => cp.workers.get('startup');
        const w = new ProbeWorker({
          kind, probe, startedAtMs: r.startedAtMs, clock: this.o.clock,
          gate: kind === 'startup' ? undefined : () => startup()?.result ?? true,
          check: () => this.o.check ? this.o.check(kind, container, r.id, podIP)
            : runProbe(probe, { podIP, container, containerId: r.id, runtime: this.o.runtime }),
          onChange: (ok, message) => {
            if (!ok && (kind === 'liveness' || kind === 'startup')) this.o.onUnhealthy(uid, r.name, r.id, kind, message);
            this.o.onResult(uid);
          },
        });
        cp.workers.set(kind, w);
      };
      make('startup');
      make('liveness');
      make('readiness');
      for (const w of cp.workers.values()) w.start();
    }
  }

  removePod(uid: string): void {
    for (const cp of this.pods.get(uid)?.values() ?? []) for (const w of cp.workers.values()) w.stop();
    this.pods.delete(uid);
    this.specs.delete(uid);
  }

  /** Ready if there is no readiness probe, or it has succeeded; a container not yet probed is not ready. */
  isReady(uid: string, name: string, id: string): boolean {
    const cp = this.pods.get(uid)?.get(name);
    if (!cp || cp.id !== id) return !this.hasProbe(uid, name, 'readiness');
    const w = cp.workers.get('readiness');
    return w ? w.result : true;
  }

  isStarted(uid: string, name: string, id: string): boolean {
    const cp = this.pods.get(uid)?.get(name);
    if (!cp || cp.id !== id) return !this.hasProbe(uid, name, 'startup');
    const w = cp.workers.get('startup');
    return w ? w.result : true;
  }

  private hasProbe(uid: string, name: string, kind: ProbeKind): boolean {
    const c = this.specs.get(uid)?.spec?.containers?.find((x) => x.name === name);
    return !!(kind === 'readiness' ? c?.readinessProbe : kind === 'liveness' ? c?.livenessProbe : c?.startupProbe);
  }

  stop(): void {
    for (const uid of [...this.pods.keys()]) this.removePod(uid);
  }
}
