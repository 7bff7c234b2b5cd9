// Events about pods (Pulled, Created, Started, Killing, BackOff, Unhealthy, Failed, FailedMount) through the
// shared recorder (client/events.ts): a repeat bumps count on the same Event, a per-pod budget stops floods,
// and a failing write never blocks pod work.
import type { V1Pod } from '@kubernetes/client-node';
import { EventRecorder as Recorder } from '../../client/events.ts';
import type { EventType } from '../../client/events.ts';
import type { KubeletApi } from './api.ts';

export type { EventType };

export class EventRecorder {
  private readonly recorder: Recorder;

  constructor(api: Pick<KubeletApi, 'createEvent' | 'patchEvent'>, host: string, onError: (err: unknown) => void = () => {}) {
    this.recorder = new Recorder({
      create: (namespace, event) => api.createEvent({ ...event, metadata: { ...event.metadata, namespace } }),
      patch: (namespace, name, patch) => api.patchEvent(namespace, name, patch),
    }, { component: 'kubelet', host, onError });
  }

  /** `fieldPath` names the container, e.g. "spec.containers{web}". */
  pod(pod: V1Pod, type: EventType, reason: string, message: string, fieldPath?: string): void {
    // pods from a list carry no kind: the reference needs it
    this.recorder.event({ ...pod, apiVersion: 'v1', kind: 'Pod' }, type, reason, message, fieldPath);
  }

  /** Resolves when every event recorded so far has been written (or failed). */
  flush(): Promise<void> {
    return this.recorder.flush();
  }
}
