// In-memory KubeletApi for unit tests: holds pods, nodes, leases, config maps and secrets, and
// records every status patch so tests can assert what the kubelet wrote and how often.
import type { CoreV1Event, V1ConfigMap, V1Lease, V1Node, V1NodeStatus, V1Pod, V1PodStatus, V1Secret } from '@kubernetes/client-node';
import { errors } from '../../api/errors.ts';
import type { KubeletApi, PodHandlers } from './api.ts';

const key = (ns: string | undefined, name: string | undefined) => `${ns ?? ''}/${name ?? ''}`;

export class FakeKubeletApi implements KubeletApi {
  readonly pods = new Map<string, V1Pod>();
  readonly nodes = new Map<string, V1Node>();
  readonly leases = new Map<string, V1Lease>();
  readonly configMaps = new Map<string, V1ConfigMap>();
  readonly secrets = new Map<string, V1Secret>();
  readonly events: CoreV1Event[] = [];
  readonly podStatusPatches: { namespace: string; name: string; status: V1PodStatus }[] = [];
  readonly nodeStatusPatches: V1NodeStatus[] = [];
  readonly deleted: string[] = [];
  private watchers = new Set<{ nodeName: string; handlers: PodHandlers }>();
  private rv = 1;

  async watchPods(nodeName: string, handlers: PodHandlers): Promise<() => void> {
    const w = { nodeName, handlers };
    this.watchers.add(w);
    for (const p of this.pods.values()) if (p.spec?.nodeName === nodeName) handlers.upsert(structuredClone(p));
    return () => this.watchers.delete(w);
  }

  /** Test helper: add or replace a pod as the API server would, notifying watchers. */
  putPod(pod: V1Pod): V1Pod {
    const stored = structuredClone(pod);
    stored.metadata = { namespace: 'default', uid: `uid-${stored.metadata?.name}`, ...stored.metadata, resourceVersion: String(this.rv++) };
    const prev = this.pods.get(key(stored.metadata.namespace, stored.metadata.name));
    if (prev?.status && !pod.status) stored.status = prev.status;
    this.pods.set(key(stored.metadata.namespace, stored.metadata.name), stored);
    for (const w of this.watchers) if (stored.spec?.nodeName === w.nodeName) w.handlers.upsert(structuredClone(stored));
    return stored;
  }

  /** Test helper: graceful deletion as the API server does it (sets deletionTimestamp). */
  markDeleted(namespace: string, name: string, graceSeconds = 30): void {
    const pod = this.pods.get(key(namespace, name));
    if (!pod) throw new Error(`no pod ${namespace}/${name}`);
    pod.metadata!.deletionTimestamp = new Date().toISOString() as unknown as Date;
    pod.metadata!.deletionGracePeriodSeconds = graceSeconds;
    this.putPod(pod);
  }

  pod(namespace: string, name: string): V1Pod | undefined {
    return this.pods.get(key(namespace, name));
  }

  async getNode(name: string) { return structuredClone(this.nodes.get(name) ?? null); }
  async createNode(node: V1Node) {
    const name = node.metadata?.name ?? '';
    if (this.nodes.has(name)) throw errors.alreadyExists('nodes', name);
    const stored = structuredClone(node);
    stored.metadata = { ...stored.metadata, resourceVersion: String(this.rv++), uid: `node-${name}` };
    this.nodes.set(name, stored);
    return structuredClone(stored);
  }
  async patchNodeStatus(name: string, status: V1NodeStatus) {
    const node = this.nodes.get(name);
    if (!node) throw errors.notFound('nodes', name);
    this.nodeStatusPatches.push(structuredClone(status));
    node.status = { ...node.status, ...structuredClone(status) };
    return structuredClone(node);
  }
  async getLease(namespace: string, name: string) { return structuredClone(this.leases.get(key(namespace, name)) ?? null); }
  async createLease(lease: V1Lease) {
    const k = key(lease.metadata?.namespace, lease.metadata?.name);
    if (this.leases.has(k)) throw errors.alreadyExists('leases', lease.metadata?.name ?? '', 'coordination.k8s.io');
    const stored = structuredClone(lease);
    stored.metadata = { ...stored.metadata, resourceVersion: String(this.rv++) };
    this.leases.set(k, stored);
    return structuredClone(stored);
  }
  async updateLease(lease: V1Lease) {
    const k = key(lease.metadata?.namespace, lease.metadata?.name);
    const cur = this.leases.get(k);
    if (!cur) throw errors.notFound('leases', lease.metadata?.name ?? '', 'coordination.k8s.io');
    if (cur.metadata?.resourceVersion !== lease.metadata?.resourceVersion) throw errors.staleResourceVersion('leases', lease.metadata?.name ?? '', 'coordination.k8s.io');
    const stored = structuredClone(lease);
    stored.metadata = { ...stored.metadata, resourceVersion: String(this.rv++) };
    this.leases.set(k, stored);
    return structuredClone(stored);
  }
  async patchPodStatus(namespace: string, name: string, status: V1PodStatus) {
    const pod = this.pods.get(key(namespace, name));
    if (!pod) throw errors.notFound('pods', name);
    this.podStatusPatches.push({ namespace, name, status: structuredClone(status) });
    pod.status = { ...pod.status, ...structuredClone(status) };
  }
  async deletePod(namespace: string, name: string, uid: string) {
    const pod = this.pods.get(key(namespace, name));
    if (!pod || pod.metadata?.uid !== uid) return;
    this.pods.delete(key(namespace, name));
    this.deleted.push(key(namespace, name));
    for (const w of this.watchers) if (pod.spec?.nodeName === w.nodeName) w.handlers.remove(structuredClone(pod));
  }
  async createPod(pod: V1Pod) { return this.putPod(pod); }
  async getConfigMap(namespace: string, name: string) { return structuredClone(this.configMaps.get(key(namespace, name)) ?? null); }
  async getSecret(namespace: string, name: string) { return structuredClone(this.secrets.get(key(namespace, name)) ?? null); }
  async createEvent(event: CoreV1Event) { this.events.push(structuredClone(event)); }
  async patchEvent(namespace: string, name: string, patch: Partial<CoreV1Event>) {
    const ev = this.events.find((e) => e.metadata?.namespace === namespace && e.metadata?.name === name);
    if (!ev) throw errors.notFound('events', name);
    Object.assign(ev, structuredClone(patch));
  }
  readonly tokenRequests: { namespace: string; serviceAccount: string; audiences: string[]; expirationSeconds: number; podName: string }[] = [];
  async requestServiceAccountToken(namespace: string, serviceAccount: string,
    req: { audiences: string[]; expirationSeconds: number; podName: string; podUid: string }) {
    this.tokenRequests.push({ namespace, serviceAccount, ...req });
    return `token-for-${namespace}-${serviceAccount}-${req.podName}`;
  }
}
