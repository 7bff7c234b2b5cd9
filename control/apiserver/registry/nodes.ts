// core/v1 nodes: cluster-scoped, stored under upstream's "minions" prefix, status written by the kubelet.
import { ageColumn, ageOf, col, isObject, nameColumn } from './common.ts';
import type { Obj, Strategy } from './types.ts';

function nodeStatus(node: Obj): string {
  const conds = Array.isArray(node?.status?.conditions) ? node.status.conditions : [];
  const ready = conds.find((c: Obj) => c?.type === 'Ready');
  let s = !ready ? 'Unknown' : ready.status === 'True' ? 'Ready' : ready.status === 'False' ? 'NotReady' : 'Unknown';
  if (node?.spec?.unschedulable) s += ',SchedulingDisabled';
  return s;
}

function roles(node: Obj): string {
  const labels = isObject(node?.metadata?.labels) ? node.metadata.labels : {};
  const r = new Set<string>();
  for (const [k, v] of Object.entries(labels)) {
    if (k.startsWith('node-role.kubernetes.io/')) r.add(k.slice('node-role.kubernetes.io/'.length));
    else if (k === 'kubernetes.io/role' && typeof v === 'string' && v) r.add(v);
  }
  return r.size ? [...r].sort().join(',') : '<none>';
}

function address(node: Obj, type: string): string {
  const a = (Array.isArray(node?.status?.addresses) ? node.status.addresses : []).find((x: Obj) => x?.type === type);
  return a?.address || '<none>';
}

export const nodes: Strategy = {
  group: '', version: 'v1', kind: 'Node', resource: 'nodes', singular: 'node', namespaced: false,
  shortNames: ['no'], etcdPrefix: 'minions', hasStatus: true,
  extraSubresources: [{ name: 'proxy', kind: 'NodeProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] }],
  prepareForCreate(node) {
    node.spec ??= {};
  },
  fieldLabels(node) {
    return { 'spec.unschedulable': String(Boolean(node?.spec?.unschedulable)) };
  },
  table: {
    columns: [nameColumn, col('Status', 'string', 0, 'The status of the node'), col('Roles', 'string', 0, 'The roles of the node'), ageColumn,
      col('Version', 'string', 0, 'Kubelet Version reported by the node.'), col('Internal-IP', 'string', 1, 'List of addresses reachable to the node.'),
      col('External-IP', 'string', 1, 'List of addresses reachable to the node.'), col('OS-Image', 'string', 1, 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).'),
      col('Kernel-Version', 'string', 1, 'Kernel Version reported by the node from \'uname -r\' (e.g. 3.16.0-0.bpo.4-amd64).'),
      col('Container-Runtime', 'string', 1, 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).')],
    cells: (n, now) => [n?.metadata?.name, nodeStatus(n), roles(n), ageOf(n, now), n?.status?.nodeInfo?.kubeletVersion ?? '',
      address(n, 'InternalIP'), address(n, 'ExternalIP'), n?.status?.nodeInfo?.osImage || '<unknown>',
      n?.status?.nodeInfo?.kernelVersion || '<unknown>', n?.status?.nodeInfo?.containerRuntimeVersion || '<unknown>'],
  },
};
