// The pod a ReplicaSet creates from its template (upstream GetPodFromTemplate): generateName "<rs>-", the
// template's labels, annotations and finalizers, the spec copied, and the RS as controller owner.
import type { V1OwnerReference, V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { copy } from './meta.ts';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** "<name>-", or the bare name when the dash would make an invalid prefix (upstream getPodsPrefix). */
export function podNamePrefix(ownerName: string): string {
  const prefix = `${ownerName}-`;
  // The prefix is valid if it is a valid name once a suffix is added: check it with one letter appended.
  return prefix.length <= 253 - 5 && DNS1123_SUBDOMAIN.test(`${prefix}a`) ? prefix : ownerName;
}

export function podFromTemplate(template: V1PodTemplateSpec | undefined, namespace: string, ownerName: string, controllerRef: V1OwnerReference): V1Pod {
  const labels = { ...(template?.metadata?.labels ?? {}) };
  if (Object.keys(labels).length === 0) throw new Error('unable to create pods, no labels');
  if (!template?.spec) throw new Error('unable to create pods, the template has no spec');
  const pod: V1Pod = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { generateName: podNamePrefix(ownerName), namespace, labels, ownerReferences: [controllerRef] },
    spec: copy(template.spec),
  };
  if (template.metadata?.annotations && Object.keys(template.metadata.annotations).length) pod.metadata!.annotations = { ...template.metadata.annotations };
  if (template.metadata?.finalizers?.length) pod.metadata!.finalizers = [...template.metadata.finalizers];
  return pod;
}
