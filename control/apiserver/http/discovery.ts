// API discovery: aggregated (apidiscovery.k8s.io v2/v2beta1, chosen by Accept and labelled by Content-Type) and
// legacy (/api, /apis, /api/v1, /apis/<g>/<v>), both built from the strategies.
import type { Strategy } from '../registry/types.ts';

const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function aggregatedVersion(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  for (const part of (accept ?? '').split(',')) {
    const params = part.split(';').map((p) => p.trim());
    if (params.includes('g=apidiscovery.k8s.io') && params.includes('as=APIGroupDiscoveryList')) {
      if (params.includes('v=v2')) return 'v2';
      if (params.includes('v=v2beta1')) return 'v2beta1';
    }
  }
  return undefined;
}

export function aggregatedContentType(v: 'v2' | 'v2beta1'): string {
  return `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`;
}

function subresourcesOf(s: Strategy) {
  const subs: { subresource: string; responseKind: { group: string; version: string; kind: string }; verbs: string[] }[] = [];
  if (s.hasStatus) subs.push({ subresource: 'status', responseKind: { group: s.group, version: s.version, kind: s.kind }, verbs: ['get', 'patch', 'update'] });
  if (s.scale) subs.push({ subresource: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: ['get', 'patch', 'update'] });
  for (const e of s.extraSubresources ?? []) {
    subs.push({ subresource: e.name, responseKind: { group: e.group ?? s.group, version: e.version ?? s.version, kind: e.kind }, verbs: e.verbs });
  }
  return subs;
}

/** Groups in preference order: core first ("" ), then named groups. */
export function groupsOf(strategies: Strategy[]): Map<string, Strategy[]> {
  const groups = new Map<string, Strategy[]>();
  for (const s of strategies) {
    if (!groups.has(s.group)) groups.set(s.group, []);
    groups.get(s.group)!.push(s);
  }
  return groups;
}

export function aggregatedDiscovery(strategies: Strategy[], core: boolean, v: 'v2' | 'v2beta1') {
  const items = [...groupsOf(strategies)].filter(([g]) => (core ? g === '' : g !== '')).map(([group, list]) => ({
    metadata: { name: group, creationTimestamp: null },
    versions: [{
      version: list[0]!.version,
      freshness: 'Current',
      resources: list.map((s) => {
        const r: Record<string, unknown> = {
          resource: s.resource, responseKind: { group: s.group, version: s.version, kind: s.kind },
          scope: s.namespaced ? 'Namespaced' : 'Cluster', singularResource: s.singular, verbs: s.verbs ?? verbs,
        };
        if (s.shortNames?.length) r.shortNames = s.shortNames;
        if (s.categories?.length) r.categories = s.categories;
        const subs = subresourcesOf(s);
        if (subs.length) r.subresources = subs;
        return r;
      }),
    }],
  }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${v}`, metadata: {}, items };
}

export function legacyApiVersions(serverAddress: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupDoc(group: string, version: string) {
  const gv = { groupVersion: `${group}/${version}`, version };
  return { name: group, versions: [gv], preferredVersion: gv };
}

export function legacyGroupList(strategies: Strategy[]) {
  const groups = [...groupsOf(strategies)].filter(([g]) => g !== '').map(([g, list]) => groupDoc(g, list[0]!.version));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function legacyGroup(strategies: Strategy[], group: string) {
  const list = groupsOf(strategies).get(group);
  return list ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group, list[0]!.version) } : undefined;
}

export function legacyResourceList(strategies: Strategy[], group: string, version: string) {
  const list = (groupsOf(strategies).get(group) ?? []).filter((s) => s.version === version);
  if (!list.length) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const s of list) {
    const r: Record<string, unknown> = { name: s.resource, singularName: s.singular, namespaced: s.namespaced, kind: s.kind, verbs: s.verbs ?? verbs };
    if (s.shortNames?.length) r.shortNames = s.shortNames;
    if (s.categories?.length) r.categories = s.categories;
    resources.push(r);
    for (const sub of subresourcesOf(s)) {
      const sr: Record<string, unknown> = { name: `${s.resource}/${sub.subresource}`, singularName: '', namespaced: s.namespaced, kind: sub.responseKind.kind, verbs: sub.verbs };
      if (sub.responseKind.group !== s.group || sub.responseKind.version !== s.version) {
        sr.group = sub.responseKind.group;
        sr.version = sub.responseKind.version;
      }
      resources.push(sr);
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}
