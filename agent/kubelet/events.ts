// Events about pods (Pulled, Created, Started, Killing, BackOff, Unhealthy, Failed, FailedMount), written
// best effort: a failing event write never blocks pod work.
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { rfc3339, rfc3339Micro } from '../../api/meta.ts';
import type { KubeletApi } from './api.ts';

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  private readonly api: Pick<KubeletApi, 'createEvent'>;
  private readonly host: string;
  private readonly onError: (err: unknown) => void;

  constructor(api: Pick<KubeletApi, 'createEvent'>, host: string, onError: (err: unknown) => void = () => {}) {
    this.api = api;
    this.host = host;
    this.onError = onError;
  }

  pod(pod: V1Pod, type: EventType, reason: string, message: string, fieldPath?: string): void {
    const now = Date.now();
    const ns = pod.metadata?.namespace ?? 'default';
    const event: CoreV1Event = {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: `${pod.metadata?.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, namespace: ns, uid: pod.metadata?.uid,
        ...(fieldPath ? { fieldPath } : {}) },
      reason, message, type, count: 1,
      source: { component: 'kubelet', host: this.host },
      reportingComponent: 'kubelet', reportingInstance: this.host,
      firstTimestamp: rfc3339(now) as unknown as Date,
      lastTimestamp: rfc3339(now) as unknown as Date,
      eventTime: rfc3339Micro(now) as unknown as Date,
      action: reason,
    };
    this.api.createEvent(event).catch(this.onError);
  }
}
