// Writes pod status to the API only when it changed, one write in flight per pod, newest status wins;
// failed writes are retried on the next change or resync.
import type { V1Pod, V1PodStatus } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import type { KubeletApi } from './api.ts';

interface Entry { namespace: string; name: string; sent?: V1PodStatus; wanted: V1PodStatus; writing: boolean }

export class StatusManager {
  private readonly api: Pick<KubeletApi, 'patchPodStatus'>;
  private readonly onError: (pod: string, err: unknown) => void;
  private readonly entries = new Map<string, Entry>();
  /** Count of API writes, for tests and metrics. */
  writes = 0;

  constructor(api: Pick<KubeletApi, 'patchPodStatus'>, onError: (pod: string, err: unknown) => void) {
    this.api = api;
    this.onError = onError;
  }

  /** The status last computed for the pod (what the next sync should treat as "previous"). */
  last(uid: string): V1PodStatus | undefined {
    return this.entries.get(uid)?.wanted;
  }

  set(pod: V1Pod, status: V1PodStatus): void {
    const uid = pod.metadata?.uid ?? '';
    let e = this.entries.get(uid);
    if (!e) {
      e = { namespace: pod.metadata?.namespace ?? 'default', name: pod.metadata?.name ?? '', wanted: status, writing: false };
      // What the API already holds counts as sent, so a restarted kubelet does not rewrite identical status.
      if (pod.status && isDeepStrictEqual(normalize(pod.status), normalize(status))) e.sent = status;
      this.entries.set(uid, e);
    }
    e.wanted = status;
    void this.flush(uid);
  }

  private async flush(uid: string): Promise<void> {
    const e = this.entries.get(uid);
    if (!e || e.writing) return;
    while (this.entries.get(uid) === e && (!e.sent || !isDeepStrictEqual(e.sent, e.wanted))) {
      const status = e.wanted;
      e.writing = true;
      try {
        this.writes++;
        await this.api.patchPodStatus(e.namespace, e.name, status);
        e.sent = status;
      } catch (err) {
        this.onError(`${e.namespace}/${e.name}`, err);
        e.writing = false;
        return;
      }
      e.writing = false;
    }
  }

  /** Retry anything not yet written (called on resync). */
  retry(): void {
    for (const uid of this.entries.keys()) void this.flush(uid);
  }

  forget(uid: string): void {
    this.entries.delete(uid);
  }
}

function normalize(s: V1PodStatus): unknown {
  return JSON.parse(JSON.stringify(s));
}
