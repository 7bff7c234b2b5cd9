// Warning Events on Services the proxy skips (bad ports or addresses), so `kubectl describe service` says why.
// The same message for the same Service is posted once per interval, not at every informer event.
import type { CoreV1Event, V1Service } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';

export interface EventSink { create(namespace: string, event: CoreV1Event): Promise<unknown> }

export class ServiceEventRecorder {
  private readonly sink: EventSink;
  private readonly host: string;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly posted = new Map<string, number>();

  constructor(sink: EventSink, host: string, intervalMs = 600_000, now: () => number = Date.now) {
    this.sink = sink;
    this.host = host;
    this.intervalMs = intervalMs;
    this.now = now;
  }

  /** Post a Warning event (errors are returned, never thrown into the informer). */
  async invalid(svc: V1Service, message: string): Promise<Error | null> {
    const namespace = svc.metadata?.namespace ?? 'default';
    const name = svc.metadata?.name ?? '';
    const key = `${namespace}/${name}\n${message}`;
    const t = this.now();
    const last = this.posted.get(key);
    if (last !== undefined && t - last < this.intervalMs) return null;
    this.posted.set(key, t);
    if (this.posted.size > 10_000) this.posted.clear();
    const stamp = new Date(t);
    const event: CoreV1Event = {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: { apiVersion: 'v1', kind: 'Service', namespace, name, uid: svc.metadata?.uid },
      reason: 'InvalidService', type: 'Warning', message,
      source: { component: 'kube-proxy', host: this.host },
      firstTimestamp: stamp, lastTimestamp: stamp, count: 1,
      reportingComponent: 'kube-proxy', reportingInstance: this.host,
    };
    try {
      await this.sink.create(namespace, event);
      return null;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }
}
