// What every cluster has from the first second: the system namespaces, the two system priority classes, the
// default/kubernetes Service with its Endpoints, and cluster-admin for the system:masters group.
import type { Registry } from './registry/rest.ts';
import { systemPriorityClasses } from './registry/priorityclasses.ts';

async function ensure(registry: Registry, group: string, resource: string, ns: string | undefined, obj: Record<string, unknown>): Promise<void> {
  try {
    await registry.mustGet(group, resource).create(ns, obj);
  } catch (err) {
    if ((err as { reason?: string }).reason !== 'AlreadyExists') throw err;
  }
}

export async function bootstrap(registry: Registry, opts: { kubernetesServiceIP: string; advertiseAddress: string; securePort: number }): Promise<void> {
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    await ensure(registry, '', 'namespaces', undefined, { metadata: { name } });
  }
  for (const pc of systemPriorityClasses) {
    await ensure(registry, 'scheduling.k8s.io', 'priorityclasses', undefined, { metadata: { name: pc.name }, value: pc.value, description: pc.description });
  }
  await ensure(registry, '', 'services', 'default', {
    metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { type: 'ClusterIP', clusterIP: opts.kubernetesServiceIP, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: opts.securePort }] },
  });
  const endpoints = {
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: opts.advertiseAddress }], ports: [{ name: 'https', port: opts.securePort, protocol: 'TCP' }] }],
  };
  // the endpoints follow this apiserver's address, so they are rewritten at every start
  await registry.mustGet('', 'endpoints').guaranteedUpdate('default', 'kubernetes', (cur) => ({ ...endpoints, metadata: { ...endpoints.metadata, resourceVersion: cur?.metadata?.resourceVersion } }), { allowCreate: true });
  await ensure(registry, 'rbac.authorization.k8s.io', 'clusterroles', undefined, {
    metadata: { name: 'cluster-admin', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
    rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }, { nonResourceURLs: ['*'], verbs: ['*'] }],
  });
  await ensure(registry, 'rbac.authorization.k8s.io', 'clusterrolebindings', undefined, {
    metadata: { name: 'cluster-admin', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:masters' }],
  });
}
