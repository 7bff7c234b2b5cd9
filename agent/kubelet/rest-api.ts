// KubeletApi over the shared REST client and informer (client/): pods bound to this node through a
// field-selected informer, status writes as merge patches on the status subresource.
import type { CoreV1Event, V1ConfigMap, V1Lease, V1Node, V1NodeStatus, V1Pod, V1PodStatus, V1Secret } from '@kubernetes/client-node';
import { ApiError } from '../../api/errors.ts';
import { Informer } from '../../client/informer.ts';
import { resources } from '../../client/resources.ts';
import type { RestClient } from '../../client/rest.ts';
import type { KubeletApi, PodHandlers } from './api.ts';

const FIELD_MANAGER = 'kubelet';

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ApiError && err.reason === 'NotFound') return null;
    throw err;
  }
}

export class RestKubeletApi implements KubeletApi {
  private readonly client: RestClient;
  private readonly onError: (err: unknown) => void;

  constructor(client: RestClient, onError: (err: unknown) => void = () => {}) {
    this.client = client;
    this.onError = onError;
  }

  async watchPods(nodeName: string, handlers: PodHandlers): Promise<() => void> {
    const inf = new Informer<V1Pod>(this.client, resources.pods, {
      fieldSelector: `spec.nodeName=${nodeName}`,
      onError: (err) => this.onError(err),
    });
    inf.addEventHandler({
      onAdd: (p) => handlers.upsert(p),
      onUpdate: (_old, p) => handlers.upsert(p),
      onDelete: (p) => handlers.remove(p),
    });
    inf.start();
    await inf.waitForSync();
    return () => void inf.stop();
  }

  getNode(name: string) {
    return orNull(this.client.get<V1Node>({ ...resources.nodes, name }));
  }
  createNode(node: V1Node) {
    return this.client.create<V1Node>(resources.nodes, node, { fieldManager: FIELD_MANAGER });
  }
  patchNodeStatus(name: string, status: V1NodeStatus) {
    return this.client.patchStatus<V1Node>({ ...resources.nodes, name }, 'merge', { status }, { fieldManager: FIELD_MANAGER });
  }
  getLease(namespace: string, name: string) {
    return orNull(this.client.get<V1Lease>({ ...resources.leases, namespace, name }));
  }
  createLease(lease: V1Lease) {
    return this.client.create<V1Lease>({ ...resources.leases, namespace: lease.metadata?.namespace }, lease, { fieldManager: FIELD_MANAGER });
  }
  updateLease(lease: V1Lease) {
    return this.client.update<V1Lease>({ ...resources.leases, namespace: lease.metadata?.namespace, name: lease.metadata?.name }, lease,
      { fieldManager: FIELD_MANAGER });
  }
  async patchPodStatus(namespace: string, name: string, status: V1PodStatus) {
    await this.client.patchStatus({ ...resources.pods, namespace, name }, 'merge', { status }, { fieldManager: FIELD_MANAGER });
  }
  async deletePod(namespace: string, name: string, uid: string) {
    try {
      await this.client.delete({ ...resources.pods, namespace, name }, { gracePeriodSeconds: 0, preconditions: { uid } });
    } catch (err) {
      // Already gone, or replaced by a new pod of the same name: either way nothing to do.
      if (err instanceof ApiError && (err.reason === 'NotFound' || err.reason === 'Conflict')) return;
      throw err;
    }
  }
  createPod(pod: V1Pod) {
    return this.client.create<V1Pod>({ ...resources.pods, namespace: pod.metadata?.namespace }, pod, { fieldManager: FIELD_MANAGER });
  }
  getConfigMap(namespace: string, name: string) {
    return orNull(this.client.get<V1ConfigMap>({ ...resources.configmaps, namespace, name }));
  }
  getSecret(namespace: string, name: string) {
    return orNull(this.client.get<V1Secret>({ ...resources.secrets, namespace, name }));
  }
  async requestServiceAccountToken(namespace: string, serviceAccount: string,
    req: { audiences: string[]; expirationSeconds: number; podName: string; podUid: string }): Promise<string> {
    const res = await this.client.create<{ status?: { token?: string } }>(
      { ...resources.serviceaccounts, namespace, name: serviceAccount, subresource: 'token' },
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
        spec: { audiences: req.audiences, expirationSeconds: req.expirationSeconds,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: req.podName, uid: req.podUid } } } as never);
    if (!res.status?.token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
    return res.status.token;
  }
  async createEvent(event: CoreV1Event) {
    await this.client.create({ ...resources.events, namespace: event.metadata?.namespace }, event);
  }
  async patchEvent(namespace: string, name: string, patch: Partial<CoreV1Event>) {
    await this.client.patch({ ...resources.events, namespace, name }, 'merge', patch);
  }
}
