// Recording core/v1 Events about objects ("Scheduled", "FailedScheduling", "ScalingReplicaSet"), as client-go's
// tools/record does: fire-and-forget, an identical event repeated within 10 minutes bumps `count` and
// `lastTimestamp` on the existing Event instead of creating a new one, and a per-object token bucket keeps a
// hot loop from flooding the apiserver. Failures are reported, never thrown to the caller.
import { randomBytes } from 'node:crypto';
import type { CoreV1Event, KubernetesObject, V1ObjectReference } from '@kubernetes/client-node';
import { ApiError } from '../api/errors.ts';
import { RestClient } from './rest.ts';
import { TokenBucket } from './ratelimit.ts';

/** Where the Events go: the REST client (restEventSink), or a component's own API seam (the kubelet's). */
export interface EventSink {
  create(namespace: string, event: CoreV1Event): Promise<unknown>;
  /** Merge-patch an existing Event (count, lastTimestamp, message); rejects with a NotFound ApiError if it is gone. */
  patch(namespace: string, name: string, patch: Partial<CoreV1Event>): Promise<unknown>;
}

export function restEventSink(client: RestClient): EventSink {
  const events = (namespace: string) => ({ version: 'v1', resource: 'events', namespace });
  return {
    create: (namespace, event) => client.create(events(namespace), event),
    patch: (namespace, name, patch) => client.patch({ ...events(namespace), name }, 'merge', patch),
  };
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  /** source.component, e.g. "default-scheduler", "replicaset-controller", "kubelet". */
  component: string;
  /** source.host (node name), for node agents. */
  host?: string;
  onError?(err: unknown): void;
  /** Per involved object: burst events, then one per refillMs (default 25, one per 5 minutes). */
  burst?: number;
  refillMs?: number;
}

const DEDUPE_WINDOW_MS = 10 * 60_000;
const MAX_TRACKED = 4096;

interface Seen { namespace: string; name: string; count: number; at: number }

export class EventRecorder {
  private readonly sink: EventSink;
  private readonly opts: EventRecorderOptions;
  private readonly seen = new Map<string, Seen>();
  private readonly buckets = new Map<string, TokenBucket>();
  private pending: Promise<void> = Promise.resolve();

  constructor(sink: EventSink, opts: EventRecorderOptions);
  constructor(client: RestClient, opts: EventRecorderOptions);
  constructor(sink: RestClient | EventSink, opts: EventRecorderOptions) {
    this.sink = sink instanceof RestClient ? restEventSink(sink) : sink;
    this.opts = opts;
  }

  /**
   * Record an event about `obj` (`fieldPath` names a part of it, e.g. "spec.containers{web}"); returns at once
   * (the write happens in the background, in order).
   */
  event(obj: KubernetesObject, type: EventType, reason: string, message: string, fieldPath?: string): void {
    let ref: V1ObjectReference;
    try {
      ref = referenceTo(obj);
    } catch (err) {
      return this.report(err);
    }
    if (fieldPath) ref.fieldPath = fieldPath;
    const objKey = `${ref.kind}/${ref.namespace ?? ''}/${ref.name}/${ref.uid ?? ''}`;
    let bucket = this.buckets.get(objKey);
    if (!bucket) {
      if (this.buckets.size >= MAX_TRACKED) this.buckets.clear();
      bucket = new TokenBucket(1000 / (this.opts.refillMs ?? 300_000), this.opts.burst ?? 25);
      this.buckets.set(objKey, bucket);
    }
    if (bucket.reserve() > 0) return; // over budget: drop, as upstream's spam filter does
    const key = `${objKey}|${fieldPath ?? ''}|${type}|${reason}|${message}`;
    this.pending = this.pending.then(() => this.write(key, ref, type, reason, message)).catch((err) => this.report(err));
  }

  /** Resolves when every event recorded so far has been written (or failed). */
  flush(): Promise<void> {
    return this.pending;
  }

  private async write(key: string, ref: V1ObjectReference, type: EventType, reason: string, message: string): Promise<void> {
    const now = new Date();
    const nowText = now.toISOString().replace(/\.\d+Z$/, 'Z');
    const namespace = ref.namespace || 'default';
    const prior = this.seen.get(key);
    if (prior && now.getTime() - prior.at < DEDUPE_WINDOW_MS) {
      try {
        await this.sink.patch(prior.namespace, prior.name, { count: prior.count + 1, lastTimestamp: nowText as unknown as Date, message });
        prior.count++;
        prior.at = now.getTime();
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.reason === 'NotFound')) throw err;
        // The Event expired or was deleted: create a fresh one below.
      }
    }
    // Upstream names events <object>.<unix nanoseconds in hex>; the random tail keeps same-ms events apart.
    const name = `${ref.name}.${(BigInt(now.getTime()) * 1_000_000n + BigInt(randomBytes(3).readUIntBE(0, 3) % 1_000_000)).toString(16)}`;
    const ev: CoreV1Event = {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name, namespace },
      involvedObject: ref, type, reason, message,
      source: { component: this.opts.component, ...(this.opts.host ? { host: this.opts.host } : {}) },
      firstTimestamp: nowText as unknown as Date, lastTimestamp: nowText as unknown as Date, count: 1,
      reportingComponent: this.opts.component, reportingInstance: this.opts.host ?? '',
    };
    await this.sink.create(namespace, ev);
    if (this.seen.size >= MAX_TRACKED) this.seen.clear();
    this.seen.set(key, { namespace, name, count: 1, at: now.getTime() });
  }

  private report(err: unknown): void {
    if (this.opts.onError) this.opts.onError(err);
    else console.error(`events (${this.opts.component}): ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** An ObjectReference to an object (kind and apiVersion must be set on it, as they are on API replies). */
export function referenceTo(obj: KubernetesObject): V1ObjectReference {
  const m = obj.metadata ?? {};
  if (!m.name) throw new Error('referenceTo: object has no metadata.name');
  const ref: V1ObjectReference = { kind: obj.kind, apiVersion: obj.apiVersion, name: m.name };
  if (m.namespace) ref.namespace = m.namespace;
  if (m.uid) ref.uid = m.uid;
  if (m.resourceVersion) ref.resourceVersion = m.resourceVersion;
  return ref;
}
