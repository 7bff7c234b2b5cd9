// Every resource the apiserver serves. Adding a resource: write its strategy file and list it here.
import { clusterrolebindings, clusterroles, rolebindings, roles } from './rbac.ts';
import { configmaps } from './configmaps.ts';
import { daemonsets } from './daemonsets.ts';
import { deployments } from './deployments.ts';
import { endpoints } from './endpoints.ts';
import { endpointslices } from './endpointslices.ts';
import { events } from './events.ts';
import { leases } from './leases.ts';
import { namespaces } from './namespaces.ts';
import { nodes } from './nodes.ts';
import { pods } from './pods.ts';
import { priorityclasses } from './priorityclasses.ts';
import { replicasets } from './replicasets.ts';
import { secrets } from './secrets.ts';
import { serviceaccounts } from './serviceaccounts.ts';
import { services } from './services.ts';
import type { Strategy } from './types.ts';

export const allStrategies: Strategy[] = [
  namespaces, pods, nodes, services, endpoints, configmaps, secrets, serviceaccounts, events,
  deployments, replicasets, daemonsets, leases, endpointslices, priorityclasses,
  roles, clusterroles, rolebindings, clusterrolebindings,
];

/** The /registry/ key prefix of a resource (with trailing slash). */
export function etcdPrefixOf(s: Strategy): string {
  return `/registry/${s.etcdPrefix ?? (s.group && !['apps', 'coordination.k8s.io', 'discovery.k8s.io', 'scheduling.k8s.io', 'rbac.authorization.k8s.io'].includes(s.group) ? `${s.group}/${s.resource}` : s.resource)}/`;
}
