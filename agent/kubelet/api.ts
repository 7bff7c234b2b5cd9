// The kubelet's whole view of the API server, kept narrow so that the pod logic can be tested against
// an in-memory fake and wired to the shared REST client (client/) in production.
import type { V1ConfigMap, V1Lease, V1Node, V1NodeStatus, V1Pod, V1PodStatus, V1Secret, CoreV1Event } from '@kubernetes/client-node';

export interface PodHandlers {
  /** A pod bound to this node was added or changed (the newest version). */
  upsert(pod: V1Pod): void;
  /** A pod bound to this node is gone from the API. */
  remove(pod: V1Pod): void;
}

export interface KubeletApi {
  /** Pod source: every pod whose spec.nodeName is `nodeName`, then changes. Returns a stop function. */
  watchPods(nodeName: string, handlers: PodHandlers): Promise<() => void>;
  getNode(name: string): Promise<V1Node | null>;
  createNode(node: V1Node): Promise<V1Node>;
  /** Merge-patches the node's status subresource. */
  patchNodeStatus(name: string, status: V1NodeStatus): Promise<V1Node>;
  getLease(namespace: string, name: string): Promise<V1Lease | null>;
  createLease(lease: V1Lease): Promise<V1Lease>;
  /** Replaces the lease (optimistic concurrency on resourceVersion). */
  updateLease(lease: V1Lease): Promise<V1Lease>;
  /** Merge-patches the pod's status subresource. */
  patchPodStatus(namespace: string, name: string, status: V1PodStatus): Promise<void>;
  /** Final removal after the containers are gone: grace 0, precondition on uid. */
  deletePod(namespace: string, name: string, uid: string): Promise<void>;
  /** Mirror pod for a static pod. */
  createPod(pod: V1Pod): Promise<V1Pod>;
  getConfigMap(namespace: string, name: string): Promise<V1ConfigMap | null>;
  getSecret(namespace: string, name: string): Promise<V1Secret | null>;
  /** TokenRequest for a projected service-account token, bound to the pod. Returns the token. */
  requestServiceAccountToken(namespace: string, serviceAccount: string, req: { audiences: string[]; expirationSeconds: number;
    podName: string; podUid: string }): Promise<string>;
  /** Best effort; failures are logged by the caller. */
  createEvent(event: CoreV1Event): Promise<void>;
  /** Merge-patches an Event (a repeat bumps count and lastTimestamp); NotFound if it is gone. */
  patchEvent(namespace: string, name: string, patch: Partial<CoreV1Event>): Promise<void>;
}
