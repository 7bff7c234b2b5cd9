// ResourceRefs for the kinds kts components use, so callers write `{ ...resources.pods, namespace, name }`
// instead of spelling group/version/plural each time.
import type { ResourceRef } from './rest.ts';

const core = (resource: string): ResourceRef => ({ version: 'v1', resource });
const grouped = (group: string, version: string, resource: string): ResourceRef => ({ group, version, resource });

export const resources = {
  pods: core('pods'),
  nodes: core('nodes'),
  namespaces: core('namespaces'),
  services: core('services'),
  endpoints: core('endpoints'),
  configmaps: core('configmaps'),
  secrets: core('secrets'),
  serviceaccounts: core('serviceaccounts'),
  events: core('events'),
  persistentvolumes: core('persistentvolumes'),
  persistentvolumeclaims: core('persistentvolumeclaims'),
  resourcequotas: core('resourcequotas'),
  limitranges: core('limitranges'),
  replicationcontrollers: core('replicationcontrollers'),
  deployments: grouped('apps', 'v1', 'deployments'),
  replicasets: grouped('apps', 'v1', 'replicasets'),
  statefulsets: grouped('apps', 'v1', 'statefulsets'),
  daemonsets: grouped('apps', 'v1', 'daemonsets'),
  controllerrevisions: grouped('apps', 'v1', 'controllerrevisions'),
  jobs: grouped('batch', 'v1', 'jobs'),
  cronjobs: grouped('batch', 'v1', 'cronjobs'),
  leases: grouped('coordination.k8s.io', 'v1', 'leases'),
  endpointslices: grouped('discovery.k8s.io', 'v1', 'endpointslices'),
  poddisruptionbudgets: grouped('policy', 'v1', 'poddisruptionbudgets'),
  eventsV1: grouped('events.k8s.io', 'v1', 'events'),
  roles: grouped('rbac.authorization.k8s.io', 'v1', 'roles'),
  rolebindings: grouped('rbac.authorization.k8s.io', 'v1', 'rolebindings'),
  clusterroles: grouped('rbac.authorization.k8s.io', 'v1', 'clusterroles'),
  clusterrolebindings: grouped('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings'),
  priorityclasses: grouped('scheduling.k8s.io', 'v1', 'priorityclasses'),
  storageclasses: grouped('storage.k8s.io', 'v1', 'storageclasses'),
  ingresses: grouped('networking.k8s.io', 'v1', 'ingresses'),
  networkpolicies: grouped('networking.k8s.io', 'v1', 'networkpolicies'),
  customresourcedefinitions: grouped('apiextensions.k8s.io', 'v1', 'customresourcedefinitions'),
} as const satisfies Record<string, ResourceRef>;

/** apiVersion string of a ref: "v1" or "apps/v1". */
export function apiVersionOf(ref: ResourceRef): string {
  return ref.group ? `${ref.group}/${ref.version}` : ref.version;
}
